"""Studies: the study files and their checks, the paired statistics by hand, cached seeded runs on a fixed split."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import replace
import math

import pytest
import torch

from benchmarks.studies import paired, seeds
from benchmarks.studies.protocol import MIN_SEEDS, STUDIES_DIR, load_study, study_names
from tests.conftest import TINY
from zoo.errors import ZooError
from zoo.hashing import sha256_file
from zoo.paths import PROJECT_ROOT

RECIPE = PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml"
#: The studies issue 13 asks for, each with its file.
#: Every study file that ships (benchmarks/studies/*.yaml).
SHIPPED = study_names()


# ---------------------------------------------------------------------- study files
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_study_follows_the_protocol(name):
    study = load_study(name)
    assert len(study.seeds) >= MIN_SEEDS and not study.allow_fewer_seeds
    assert study.headline in study.metrics and study.claim and study.paper
    arms = {arm for arm, _, _ in study.runs}  # the base arm too, when the study has one
    assert study.method in study.arms and set(study.baselines) <= arms
    assert all(recipe.is_file() for _, recipe, _ in study.runs)


def test_the_shipped_studies_include_each_systems_own():
    assert {"adaptllm-biomed", "collapse", "instruction-pretrain-general", "uprise-tinyworld",
            "uprise-tinyworld-completion", "adamllm-food", "diffusion-ood"} <= set(SHIPPED)


GOOD = {"description": "d", "claim": "c", "headline": "test/ppl", "metrics": ["test/ppl"],
        "arms": {"a": "configs/base_lm/base-lm-tiny.yaml", "b": "configs/toedit/human-lm-tiny.yaml"},
        "method": "a", "baselines": ["b"]}


def write_study(tmp_path, **changes) -> str:
    spec = {**GOOD, **changes}
    path = tmp_path / "mine.yaml"
    path.write_text(json.dumps({k: v for k, v in spec.items() if v is not None}))  # JSON is YAML
    return str(path)


def test_a_study_file_of_ones_own_loads_with_the_protocol_defaults(tmp_path):
    study = load_study(write_study(tmp_path, contrasts=[["b", "a"]], base_from="configs/base_lm/base-lm-tiny.yaml"))
    assert study.name == "mine" and study.seeds == (0, 1, 2, 3, 4) and study.comparisons == [("a", "b"), ("b", "a")]
    assert [(arm, own) for arm, _, own in study.runs] == [("base", ["--trainer.max_steps", "0"]), ("a", []), ("b", [])]


@pytest.mark.parametrize("changes, problem, fix", [
    ({"colour": "red"}, "unknown key(s) colour", "the keys are description"),
    ({"claim": None}, "missing key(s) claim", "see benchmarks/studies/protocol.py"),
    ({"arms": {"a": "configs/nope.yaml", "b": "configs/toedit/human-lm-tiny.yaml"}}, "recipe configs/nope.yaml not found",
     "recipes live under configs/"),
    ({"seeds": [0, 1, 2]}, "3 seeds; the protocol asks for at least 5", "set allow_fewer_seeds: true"),
    ({"seeds": [0], "allow_fewer_seeds": True}, "1 seed; an interval over seeds needs at least 2", "protocol asks"),
    ({"seeds": [0, 1, 1, 2, 3]}, "repeat a seed", "list each seed once"),
    ({"seeds": "0-4"}, "seeds must be a list of integers", "e.g. seeds: [0, 1, 2, 3, 4]"),
    ({"method": "c"}, "'c' is not an arm", "add it to arms"),
    ({"baselines": ["a"]}, "among its own baselines", "remove it from baselines"),
    ({"baselines": []}, "baselines is empty", "name the arms the method is claimed to beat"),
    ({"contrasts": [["a"]]}, "contrasts must be a list of [better, worse] arm pairs", "fix the study file"),
    ({"headline": "test/cloze_acc"}, "headline metric test/cloze_acc is not among metrics", "add it to metrics"),
    ({"arms": {"base": "configs/base_lm/base-lm-tiny.yaml"}}, "arm name 'base' is the base_from arm's", "name the arm"),
    ({"allow_fewer_seeds": "yes"}, "allow_fewer_seeds must be true or false", "fix the study file"),
    ({"arm_overrides": {"c": ["--x", "1"]}}, "arm_overrides must map arms (a, b)", "fix the study file"),
    ({"arm_overrides": {"a": "--x 1"}}, "arm_overrides.a must be a list of strings", "fix the study file"),
])
def test_a_bad_study_file_is_one_line_naming_the_problem_and_the_fix(tmp_path, changes, problem, fix):
    with pytest.raises(ZooError) as error:
        load_study(write_study(tmp_path, **changes))
    message = str(error.value)
    assert problem in message and fix in message and "\n" not in message


def test_fewer_seeds_pass_when_allowed(tmp_path):
    assert load_study(write_study(tmp_path, seeds=[3, 4], allow_fewer_seeds=True)).seeds == (3, 4)
    assert load_study(write_study(tmp_path, seeds=[3, 4]), allow_fewer_seeds=True).seeds == (3, 4)


@pytest.mark.parametrize("text, problem", [("arms: [unclosed", "not readable YAML"), ("- a list", "is a mapping")])
def test_a_malformed_study_file_is_one_line(tmp_path, text, problem):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ZooError, match=problem) as error:
        load_study(str(tmp_path / "bad.yaml"))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, problem", [("nope", "unknown study 'nope'; one of adamllm-biomed, adamllm-food, adaptllm-biomed"),
                                           ("../studies/collapse", "unknown study"),
                                           ("missing.yaml", "study file missing.yaml not found")])
def test_an_unknown_study_names_the_studies(name, problem):
    with pytest.raises(ZooError, match=problem):
        load_study(name)
    assert not (STUDIES_DIR / "nope.yaml").exists()


# ---------------------------------------------------------------------- paired statistics, by hand
#: Five seeds' differences 0.01..0.05: mean 0.03, s = sqrt(2.5e-4) = 0.0158114, s / sqrt(5) = 0.0070711.
DIFFERENCES = [0.01, 0.02, 0.03, 0.04, 0.05]
T_975_4 = 2.776445  # Student's t, 97.5th percentile, 4 degrees of freedom (tables: 2.776)


def test_t_interval_by_hand():
    mean, low, high = paired.t_interval(DIFFERENCES)
    half = T_975_4 * math.sqrt(2.5e-4) / math.sqrt(5)  # = 0.019632
    assert mean == pytest.approx(0.03) and low == pytest.approx(0.03 - half) and high == pytest.approx(0.03 + half)
    assert (round(low, 4), round(high, 4)) == (0.0104, 0.0496)


def test_paired_t_test_by_hand():
    # t = 0.03 / 0.0070711 = 3 sqrt(2); Student's t with 4 degrees of freedom has the closed form
    # F(t) = 1/2 + (3/8) u (1 - t^2 / (12 (1 + t^2/4))) with u = t / sqrt(1 + t^2/4).
    t = 3 * math.sqrt(2)
    u = t / math.sqrt(1 + t * t / 4)
    cdf = 0.5 + 3 / 8 * u * (1 - t * t / (12 * (1 + t * t / 4)))
    assert paired.paired_t_p(DIFFERENCES) == pytest.approx(2 * (1 - cdf), rel=1e-9)
    assert round(paired.paired_t_p(DIFFERENCES), 4) == 0.0132
    assert paired.paired_t_p([0.02] * 5) == 0.0 and paired.paired_t_p([0.0] * 5) == 1.0, "no spread: the limit"


def test_sign_test_by_hand():
    assert paired.sign_test(DIFFERENCES) == (5, 0, 0, 2 / 32), "5 of 5: p = 2 * (1/2)^5"
    # Ties are set apart: 3 wins and 1 loss of 4, p = 2 * P(Binomial(4, 1/2) <= 1) = 2 * 5/16.
    assert paired.sign_test([0.01, 0.0, -0.02, 0.03, 0.04]) == (3, 1, 1, 0.625)
    assert paired.sign_test(DIFFERENCES, higher=False) == (0, 5, 0, 2 / 32), "for a perplexity, a rise loses"


def test_a_comparison_pairs_by_seed_and_names_its_verdict():
    first = {seed: 0.5 + d for seed, d in enumerate(DIFFERENCES)}
    second = {seed: 0.5 for seed in range(6)}  # seed 5 ran for one arm only: not paired
    both = paired.compare(first, second)
    assert both.seeds == (0, 1, 2, 3, 4) and both.verdict == paired.SHOWN
    assert both.interval.value == pytest.approx(0.03) and both.sign.wins == 5
    assert paired.compare(first, second, higher=False).verdict == paired.OPPOSITE, "lower is better: the other way"
    assert paired.compare({0: 1.0, 1: 2.0, 2: 3.0}, {0: 2.0, 1: 1.0, 2: 3.0}).verdict == paired.NOT_SHOWN
    assert paired.higher_is_better("test/question_acc") and not paired.higher_is_better("test/ppl")
    assert not paired.higher_is_better("test/fpr95/wmt16") and not paired.higher_is_better("test/reconstruction_t600/sst2")
    assert paired.higher_is_better("test/auroc/wmt16") and paired.higher_is_better("test/score_gap/wmt16")


# ---------------------------------------------------------------------- runs: fixed split, seeded, cached
def test_seeds_leave_the_split_alone():
    """Every seed of a study is tested on the same documents: the split does not move with the data seed."""
    from datamodules import TextCorpusDataModule
    from datamodules.instruction import SynthesizerDataModule
    from datamodules.synthesis import SynthesisDataModule

    world = {"n_entities": 24}

    def text_blocks(seed: int) -> dict[str, torch.Tensor]:
        data = TextCorpusDataModule(world=world, block_size=64, val_fraction=0.1, test_fraction=0.1, seed=seed)
        data.setup("test")
        return data.blocks

    first, second = text_blocks(0), text_blocks(1)
    assert torch.equal(first["test"], second["test"]) and torch.equal(first["val"], second["val"])
    assert sorted(map(tuple, first["train"].tolist())) == sorted(map(tuple, second["train"].tolist()))

    def synthesizer_test(seed: int) -> list[tuple[int, ...]]:
        """The test examples, each ``<bos> input output <eos>``, however the seed packs them into sequences."""
        data = SynthesizerDataModule(world=world, max_length=128, seed=seed)
        data.setup("test")
        bos = data.tokenizer.bos_token_id
        ids = [token for sequence, _ in data.splits["test"].rows for token in sequence]
        starts = [i for i, token in enumerate(ids) if token == bos] + [len(ids)]
        return sorted(tuple(ids[a:b]) for a, b in itertools.pairwise(starts))

    assert synthesizer_test(0) == synthesizer_test(1) != []
    plan = [SynthesisDataModule("unused", source="tinyworld:general", world=world, split="test", seed=s) for s in (0, 1)]
    assert plan[0].items == plan[1].items


def fit_and_test(arguments: list[str]) -> dict[str, float]:
    """What the app layer passes as ``fit``: ``zoo fit`` then ``zoo test`` on the arguments."""
    from zoo.cli import lightning_cli

    cli = lightning_cli(arguments, run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return {k: float(v) for result in cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
            for k, v in result.items()}


def not_cached(arguments: list[str]) -> dict[str, float]:
    raise AssertionError("a cached run must not be fitted again")


def test_seeded_runs_differ_by_seed_and_are_cached():
    overrides = [*TINY, "--trainer.max_steps", "2"]
    first, second = seeds.run(RECIPE, 0, overrides, fit_and_test), seeds.run(RECIPE, 1, overrides, fit_and_test)
    assert {"test/ppl", "test/cloze_acc", "test/question_acc"} <= set(first["metrics"])
    assert first["metrics"] != second["metrics"], "the seed changes the initialisation and the data order"
    assert {"git_commit", "versions", "machine", "date"} <= set(first["produced_by"])
    assert seeds.run(RECIPE, 0, overrides, not_cached) == first
    assert first["run"] == seeds.run_folder(RECIPE, 0, overrides).name != second["run"]
    assert (seeds.run_folder(RECIPE, 0, overrides) / "run.json").is_file()


def test_a_rebuilt_base_makes_another_run(monkeypatch, tmp_path):
    """A run continued from a registry build is cached with that build's identity: a rebuild is never read stale."""
    recipe = PROJECT_ROOT / "configs/adaptllm/dapt-biomed-tiny.yaml"
    folder = tmp_path / "base-lm-tiny"
    folder.mkdir()
    monkeypatch.setattr(seeds, "checkpoints_dir", lambda preset="full": tmp_path)
    fits = []

    def fit(arguments: list[str]) -> dict[str, float]:
        fits.append(arguments)
        return {"test/ppl": float(len(fits))}

    assert seeds.dependency_identities(recipe) == {"base-lm-tiny": None}
    for identity, runs in (("first", 1), ("first", 1), ("rebuilt", 2)):
        (folder / "zoo_card.json").write_text(json.dumps({"identity": identity, "files_sha256": {}}))
        assert seeds.dependency_identities(recipe) == {"base-lm-tiny": identity}
        assert seeds.run(recipe, 0, ["--trainer.max_steps", "3"], fit)["metrics"] == {"test/ppl": float(runs)}
    assert len(fits) == 2


def test_arms_that_share_a_recipe_differ_by_their_own_overrides(tmp_path):
    """UPRISE's arms: one recipe, each arm its prompt source; an arm's arguments come after the study's."""
    recipe = "configs/uprise/uprise-retriever-tinyworld.yaml"
    study = load_study(write_study(tmp_path, arms={"tuned": recipe, "bm25": recipe}, method="tuned", baselines=["bm25"],
                                   arm_overrides={"bm25": ["--model.init_args.prompt_source", "bm25"]}))
    assert [(arm, own) for arm, _, own in study.runs] == [("tuned", []),
                                                          ("bm25", ["--model.init_args.prompt_source", "bm25"])]
    seen = []
    for run in seeds.planned_runs(replace(study, seeds=(0,))):
        seeds.study_row(*run, lambda arguments: seen.append(arguments) or {"test/ppl": 1.0})
    assert "bm25" not in seen[0] and seen[1][-2:] == ["--model.init_args.prompt_source", "bm25"]


def test_a_study_varies_the_seeds_only_and_the_base_arm_never_trains(tmp_path):
    seen = []

    def fit(arguments: list[str]) -> dict[str, float]:
        seen.append(arguments)
        return {"test/ppl": 2.0}

    study = load_study(write_study(tmp_path, seeds=[0, 1], allow_fewer_seeds=True, overrides=["--trainer.max_steps", "5"],
                                   base_from="configs/base_lm/base-lm-tiny.yaml"))
    rows = [seeds.study_row(*run, fit) for run in seeds.planned_runs(study, overrides=["--trainer.max_steps", "7"])]
    assert [(row["arm"], row["seed"]) for row in rows] == [("base", 0), ("base", 1), ("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    for arguments in seen:
        seed = arguments[arguments.index("--seed_everything") + 1]
        assert arguments[arguments.index("--data.init_args.seed") + 1] == seed
        assert not any("split" in argument for argument in arguments), "the split is never varied"
    steps = [a[max(i for i, word in enumerate(a) if word == "--trainer.max_steps") + 1] for a in seen]
    assert steps == ["0", "0", "7", "7", "7", "7"], "the CLI's overrides come after the study's; the base arm's last"


def test_a_run_equal_to_a_zoo_build_reads_its_card(monkeypatch, tmp_path):
    folder = tmp_path / "base-lm-tiny"
    folder.mkdir()
    card = {"preset": "full", "metrics": {"test/ppl": 1.5}, "identity": "abc", "versions": {"torch": "2"},
            "files_sha256": {}, "recipe_sha256": sha256_file(RECIPE)}
    (folder / "zoo_card.json").write_text(json.dumps(card))
    monkeypatch.setattr(seeds, "checkpoints_dir", lambda preset="full": tmp_path)
    assert seeds.run(RECIPE, 0, [], not_cached) == {"metrics": {"test/ppl": 1.5}, "run": "build:base-lm-tiny",
                                                    "produced_by": {"identity": "abc", "versions": {"torch": "2"}}}
    # A build of another text of the recipe (or one that does not say) is another run.
    for stale in ("0" * 64, None):
        (folder / "zoo_card.json").write_text(json.dumps({**card, "recipe_sha256": stale}))
        assert seeds.built_run(RECIPE, 0, []) is None
    (folder / "zoo_card.json").write_text(json.dumps(card))
    assert seeds.built_run(RECIPE, 1, []) is None, "another seed is another run"
    assert seeds.built_run(RECIPE, 0, ["--trainer.max_steps", "3"]) is None, "overrides make another run"


def test_uprise_picks_count_clusters_false_claims_and_same_facts_by_hand():
    from benchmarks.studies.uprise_picks import picks
    from datamodules.retrieval import Clusters

    clusters = Clusters(n_entities=4, held_out="completion")
    pool, test = clusters.pool(), clusters.test()
    first = test[0]
    same = next(i for i, p in enumerate(pool) if p.cluster == "closed_qa" and (p.entity, p.attribute) ==
                (first.entity, first.attribute))
    false_claim = next(i for i, p in enumerate(pool) if p.cluster == "verification" and p.entity != first.entity
                       and p.options[p.answer_index] == " false")
    topic = next(i for i, p in enumerate(pool) if p.cluster == "topic" and p.entity == first.entity
                 and p.attribute != first.attribute)
    shares = picks(clusters, {"mine": [[same, false_claim, topic]] + [[]] * (len(test) - 1)})
    assert shares["mine"] == {"closed_qa": 1 / 3, "verification": 1 / 3, "topic": 1 / 3, "false claims": 1 / 3,
                              "same entity": 2 / 3, "same fact": 1 / 3, "items with a same-fact prompt": 1 / len(test)}


def test_the_unigram_reference_scores_mean_token_surprisal_by_hand():
    from benchmarks.studies.ood_unigram import unigram_surprisal

    tokenize = lambda text: [ord(c) - ord("a") for c in text]  # noqa: E731  (a letter is a token)
    score = unigram_surprisal(["aab", "a"], tokenize, vocab_size=4)
    # Counts a: 3, b: 1, over 4 tokens; add-one over a vocabulary of 4 gives p(a) = 4/8, p(b) = 2/8, p(c) = 1/8.
    expected = [math.log(2), (math.log(2) + math.log(4)) / 2, math.log(8), math.log(8)]
    assert score(["a", "ab", "c", ""]).tolist() == pytest.approx(expected)
    # Rarer tokens score as more out of distribution.
    assert score(["c"]).item() > score(["b"]).item() > score(["a"]).item()


def test_a_recipe_that_names_a_shared_data_config_reads_its_card_too(monkeypatch, tmp_path):
    """The diffusion recipes name their data as ``data: ../data/ood-sst2.yaml``: the seed check reads that file."""
    recipe = PROJECT_ROOT / "configs" / "diffusion_plm" / "diffusion-plm-minilm-sst2.yaml"
    folder = tmp_path / "diffusion-plm-minilm-sst2"
    folder.mkdir()
    card = {"preset": "full", "metrics": {"test/auroc/wmt16": 0.8}, "files_sha256": {}, "recipe_sha256": sha256_file(recipe)}
    (folder / "zoo_card.json").write_text(json.dumps(card))
    monkeypatch.setattr(seeds, "checkpoints_dir", lambda preset="full": tmp_path)
    assert seeds.built_run(recipe, 0, [])["metrics"] == {"test/auroc/wmt16": 0.8}
    assert seeds.built_run(recipe, 1, []) is None


# ---------------------------------------------------------------------- the diffusion timestep sweep
def test_the_timestep_sweep_scores_each_seed_at_each_t(monkeypatch, tmp_path):
    """The sweep's bookkeeping: each seed's model read at every t, AUROC and gap per set against a direct scoring."""
    from benchmarks.studies import ood_timesteps
    from zoo.modules import DiffusionPLM, MaskedLMEncoder
    from zoo.modules.ood import ood_metrics
    from zoo.resolve import resolve

    tokenizer = str(resolve("minilm-l6-v2"))
    sets = {"sst2": ["a charming film", "a dull movie", "the best film"],
            "news": ["parliament met on tuesday", "the minister resigned", "shares fell sharply today"]}
    monkeypatch.setattr(ood_timesteps, "sets_of", lambda suite, limit: (sets, {"max_length": 16, "batch_size": 2}))
    monkeypatch.setattr(ood_timesteps, "checkpoint_of", lambda study, arm, seed: tmp_path / f"{arm}-s{seed}" / "c" / "x")

    def model(arm: str, seed: int):
        cls = DiffusionPLM if arm == ood_timesteps.DIFFUSION_ARM else MaskedLMEncoder
        torch.manual_seed(seed + (0 if cls is DiffusionPLM else 10))
        return cls(net="bert-test", tokenizer=tokenizer).eval()

    monkeypatch.setattr("zoo.checkpoint.read_checkpoint",
                        lambda ckpt: (model(ckpt.parent.parent.name.rsplit("-s", 1)[0], int(ckpt.parent.parent.name[-1])), {}))
    record = ood_timesteps.sweep([200, 700], limit=None, seeds=[0, 1])
    assert record["runs"] == {"diffusion": {0: "diffusion-plm-minilm-sst2-s0", 1: "diffusion-plm-minilm-sst2-s1"},
                              "before": {0: "mlm-minilm-sst2-s0", 1: "mlm-minilm-sst2-s1"}}
    assert (record["in_distribution"], record["ood"]) == ("sst2", ["news"])
    for label, arm in (("diffusion", ood_timesteps.DIFFUSION_ARM), ("before", ood_timesteps.BEFORE_ARM)):
        for seed in (0, 1):
            reader = DiffusionPLM.reading(model(arm, seed), (700,))
            with torch.no_grad():
                inside, outside = (reader.score_batch(batch_of_texts(reader, sets[name]))["reconstruction_t700"]
                                   for name in ("sst2", "news"))
            cell = record["results"][label][700]
            assert cell["news"]["auroc"][seed] == pytest.approx(ood_metrics(inside, outside)["auroc"])
            assert cell["news"]["gap"][seed] == pytest.approx(float(outside.mean() - inside.mean()), abs=1e-5)
            assert cell["sst2"]["loss"][seed] == pytest.approx(float(inside.mean()), abs=1e-5)
    # The markdown reads the record: a row per model and t, a gap row per set and t with its paired difference.
    text = ood_timesteps.render(record)
    rows = [line.split(" | ")[:2] for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row for row in rows if row[0] in ("| diffusion", "| before")] == [
        ["| diffusion", "200"], ["| diffusion", "700"], ["| before", "200"], ["| before", "700"]]
    assert [row for row in rows if row[0] == "| news"] == [["| news", "200"], ["| news", "700"]]


def batch_of_texts(module, texts: list[str]) -> dict[str, torch.Tensor]:
    encoded = module.tokenizer(texts, return_tensors="pt", padding=True, return_token_type_ids=False)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def test_the_timestep_sweep_renders_means_intervals_and_verdicts_by_hand():
    from benchmarks.studies.ood_timesteps import render

    cell = lambda auroc, gap: {"sst2": {"loss": [6.0, 6.0]}, "wmt16": {"auroc": auroc, "gap": gap, "loss": [7.0, 7.0]}}  # noqa: E731
    record = {"study": "diffusion-ood", "seeds": [0, 1], "limit": 300, "in_distribution": "sst2", "ood": ["wmt16"],
              "results": {"diffusion": {600: cell([0.7, 0.9], [1.0, 1.2])}, "before": {600: cell([0.5, 0.5], [0.5, 0.6])}}}
    text = render(record)
    # Two seeds: the interval is mean ± t(0.975, 1) · s / √2 = 12.706 · s / √2.
    assert "| diffusion | 600 | 6.000 [6.000, 6.000] | 0.800 [-0.471, 2.071] |" in text
    assert "| wmt16 | 600 | 1.100 [-0.171, 2.371] | 0.550 [-0.085, 1.185] | +0.550 [-0.085, +1.185] | not shown |" in text
    assert "the first 300 sentences of each set" in text
    # The figure: a PNG, the same bytes every time.
    from benchmarks.studies.ood_timesteps import render_png

    drawn = []
    for _ in range(2):
        buffer = io.BytesIO()
        render_png(record, buffer)
        drawn.append(buffer.getvalue())
    assert drawn[0].startswith(b"\x89PNG") and drawn[0] == drawn[1]


def test_the_timestep_sweep_without_the_study_runs_is_one_error_line(monkeypatch, tmp_path, capsys):
    from benchmarks.studies import ood_timesteps

    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        ood_timesteps.main(["--seeds", "0", "--timesteps", "600"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_info.value.code == 2
    assert "no cached run of diffusion-plm-minilm-sst2 at seed 0" in error and "run `zoo study diffusion-ood` first" in error


# ---------------------------------------------------------------------- what the visual synthesizer writes
def test_visual_tasks_are_checked_against_their_pictures_by_hand():
    from benchmarks.studies.visual_tasks import arm_pictures, asked, check, render

    pictures = arm_pictures("food", limit=3)
    first, second, third = pictures
    assert asked(f"What colour are the {first.item}s?") == ("colour", first.item, None)
    assert asked("What is the name of the blocks in the picture?") == ("name", "blocks", None)
    assert asked("Are the blocks striped?") == ("texture", "block", "striped")  # the item, before its plural s
    assert asked("Are there four pieces?") == ("count", "piece", "four")
    assert asked("Are the pieces on the left side?") == ("position", "piece", "left")
    assert asked("Is it tasty?") is None and asked("Are the pieces tasty?") is None
    triplet = lambda question, precise: {"question": question, "precise": precise, "informative": "-"}  # noqa: E731
    rows = [
        # Right colour, in the picture's own noun, kept.
        {"id": first.id, "triplet": triplet(f"What colour are the {first.item}s?", first.colour + "."), "verdict": "yes"},
        # A seed world's noun and a wrong name, kept anyway (the judge checks consistency only).
        {"id": second.id, "triplet": triplet("What is the name of the blocks in the picture?", "Zorbat"),
         "verdict": "yes"},
        # Right name, dropped; then a question in no seed wording, and a picture without a triplet.
        {"id": third.id, "triplet": triplet(f"What is the name of the {third.noun} in the picture?", third.entity),
         "verdict": "no"},
        {"id": third.id, "triplet": triplet("Is it tasty?", "yes"), "verdict": "yes"},
        {"id": first.id, "triplet": None, "verdict": None},
        # Closed: "yes" to the picture's own colour is right, "yes" to another colour is wrong.
        {"id": second.id, "triplet": triplet(f"Are the blocks {second.colour}?", "Yes"), "verdict": "no"},
        {"id": third.id, "triplet": triplet(f"Are the blocks {other_colour(third)}?", "yes"), "verdict": "no"},
    ]
    counts = check(rows, pictures)
    assert counts["all"] == {"triplets": 6, "other wording": 1, "asked": 5, "right": 3, "kept": 2, "kept right": 1,
                             "own noun": 2}
    assert counts["colour"] == {"asked": 3, "right": 2, "kept": 1, "kept right": 1, "own noun": 1}
    assert counts["name"] == {"asked": 2, "right": 1, "kept": 1, "kept right": 0, "own noun": 1}
    text = render("food", counts, 7)
    assert "| name | 2 | 1 | 1 | 0 | 1 |" in text and "| all | 5 | 3 | 2 | 1 | 2 |" in text
    assert text.startswith("food: 7 training pictures, 6 with a triplet (1 in no seed wording)")


def other_colour(picture) -> str:
    from datamodules.tinyworld.pictures import COLOURS

    return next(colour for colour in COLOURS if colour != picture.colour)
