"""ToEdit's system: synthesis as sharded prediction, online vs offline editing, the trained module."""

from __future__ import annotations

import json

import pytest
import torch

from datamodules.synthesis import SynthesisDataModule, read_shards
from tests.conftest import TINY
from zoo.errors import ZooError


def write_documents(path, n: int):
    lines = [json.dumps({"id": f"d{i}", "title": f"Doc {i}",
                         "text": f"Rora Elna number {i} is a native of Lisbon. She works as a baker in the city."})
             for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def shard_bytes(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.jsonl"))}


# ---------------------------------------------------------------------- the shard plan
def test_plan_cuts_shards_and_gives_each_rank_its_own(tmp_path):
    plan = SynthesisDataModule(str(tmp_path / "out"), source=str(write_documents(tmp_path / "d.jsonl", 10)),
                               shard_size=4)
    assert plan.n_shards == 3 and [plan.shard_size_of(k) for k in range(3)] == [4, 4, 2]
    assert [item["shard"] for item in plan.items] == [0] * 4 + [1] * 4 + [2] * 2
    assert plan.pending_shards(0, 2) == [0, 2] and plan.pending_shards(1, 2) == [1]
    (tmp_path / "out").mkdir()
    plan.shard_path(2).write_text("")
    assert plan.pending_shards() == [0, 1], "a written shard is skipped"


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of"),
    ({"source": "x.jsonl", "n_documents": 3}, "exactly one of"),
    ({"n_documents": 0}, "at least one"),
    ({"n_documents": 3, "shard_size": 0}, "shard_size"),
    ({"n_documents": 3, "split": "dev"}, "split"),
])
def test_plan_refuses_bad_settings(tmp_path, kwargs, message):
    with pytest.raises(ZooError, match=message):
        SynthesisDataModule(str(tmp_path), **kwargs)


# ---------------------------------------------------------------------- sampling
def test_samples_do_not_depend_on_the_batch(tiny_folder):
    from datamodules.sampling import sample_documents
    from zoo.resolve import load_pretrained

    net, tokenizer = load_pretrained(f"local-dir:{tiny_folder}")
    together = sample_documents(net, tokenizer, [0, 1, 2, 3], seed=0, max_new_tokens=24)
    apart = sample_documents(net, tokenizer, [2, 3], seed=0, max_new_tokens=24)
    assert together[2:] == apart and len(set(together)) == 4
    assert sample_documents(net, tokenizer, [0], seed=1, max_new_tokens=24) != together[:1]
    greedy_ish = sample_documents(net, tokenizer, [0, 1], seed=0, max_new_tokens=24, top_k=1)
    assert greedy_ish[0] == greedy_ish[1], "top_k=1 leaves no choice"


def test_synth_sample_writes_shards_resumes_and_matches_any_batch_size(run_zoo, tiny_folder, tmp_path):
    common = ["synth", "sample", "--model", f"local-dir:{tiny_folder}", "--n-documents", "10", "--shard-size", "4",
              "--max-new-tokens", "24", "--", "--trainer.enable_progress_bar=false"]
    code, out, err = run_zoo(*common[:-2], "--batch-size", "3", "--out", tmp_path / "a", *common[-2:])
    assert code == 0, err
    assert "wrote 10 documents in 3 shards" in out
    first = shard_bytes(tmp_path / "a")
    assert list(first) == ["shard-00000.jsonl", "shard-00001.jsonl", "shard-00002.jsonl"]
    rows = read_shards(tmp_path / "a")
    assert [r["index"] for r in rows] == list(range(10)) and all(r["text"] for r in rows)
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["documents"] == 10

    assert run_zoo(*common[:-2], "--batch-size", "5", "--out", tmp_path / "b", *common[-2:])[0] == 0
    assert shard_bytes(tmp_path / "b") == first, "the corpus does not depend on the batch size"

    (tmp_path / "a" / "shard-00001.jsonl").unlink()
    kept = (tmp_path / "a" / "shard-00000.jsonl").stat().st_mtime_ns
    code, out, _ = run_zoo(*common[:-2], "--batch-size", "3", "--out", tmp_path / "a", *common[-2:])
    assert code == 0 and "2 of 3 shards already" in out
    assert shard_bytes(tmp_path / "a") == first, "the resumed shard is the same"
    assert (tmp_path / "a" / "shard-00000.jsonl").stat().st_mtime_ns == kept, "finished shards are not redone"

    before = {path.name: path.read_bytes() for path in (tmp_path / "a").iterdir() if path.is_file()}
    code, out, err = run_zoo(*common[:-2], "--seed", "1", "--out", tmp_path / "a", *common[-2:])
    assert code == 2 and "module.seed 0 -> 1" in err and "pass a fresh --out folder" in err
    assert "already" not in out, "the settings are checked before anything is reported or skipped"
    assert {path.name: path.read_bytes() for path in (tmp_path / "a").iterdir() if path.is_file()} == before


def test_the_sampled_source_has_the_rows_of_the_sampler(tiny_folder, tmp_path):
    """``sampled:N:MODEL`` data (the data layer) and ``zoo synth sample`` (``LMSampler``) write the same rows."""
    from datamodules.synthesis import sampled_corpus
    from zoo.modules.synthesis import LMSampler

    model = f"local-dir:{tiny_folder}"
    rows, key = sampled_corpus(model, 5, shard_size=2, batch_size=3, max_new_tokens=16)
    items = SynthesisDataModule(str(tmp_path), n_documents=5, shard_size=2).items
    assert rows == LMSampler(model, max_new_tokens=16).predict_step(items, 0)
    assert sampled_corpus(model, 5, shard_size=5, batch_size=1, max_new_tokens=16)[1] == key, \
        "the shard layout and batch size are no part of the cache key"
    assert sampled_corpus(model, 5, seed=1, max_new_tokens=16)[1] != key


# ---------------------------------------------------------------------- token editing
def test_synth_toedit_edits_a_corpus(run_zoo, tiny_folder, tmp_path):
    source = write_documents(tmp_path / "human.jsonl", 6)
    args = ["synth", "toedit", "--prior", f"local-dir:{tiny_folder}", "--in", source, "--shard-size", "4",
            "--threshold", "0.0001", "--out"]
    code, out, err = run_zoo(*args, tmp_path / "edited", "--", "--trainer.enable_progress_bar=false")
    assert code == 0, err
    rows = read_shards(tmp_path / "edited")
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(6)] and rows[0]["title"] == "Doc 0"
    manifest = json.loads((tmp_path / "edited" / "manifest.json").read_text())
    assert 0 < manifest["mean_edit_rate"] <= 1 and "mean edit rate" in out
    human = [json.loads(line)["text"] for line in source.read_text().splitlines()]
    assert sum(r["text"] != h for r, h in zip(rows, human)) > 0, "a low threshold edits"
    # Nothing is certain enough for a threshold just under 1: the documents come back as they were.
    code, _, _ = run_zoo(*args[:-3], "--threshold", "0.9999999", "--out", tmp_path / "same", "--",
                         "--trainer.enable_progress_bar=false")
    assert code == 0 and [r["text"] for r in read_shards(tmp_path / "same")] == human


def test_synth_toedit_bad_input_is_one_line_and_writes_nothing(run_zoo, tiny_folder, tmp_path):
    code, _, err = run_zoo("synth", "toedit", "--prior", f"local-dir:{tiny_folder}", "--in", tmp_path / "missing.jsonl",
                           "--out", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1 and "not found" in err, "checked before the prior loads"
    assert not (tmp_path / "out").exists()
    code, _, err = run_zoo("synth", "toedit", "--prior", "no-such-model", "--in", "tinyworld:general",
                           "--out", tmp_path / "out")
    assert code == 2 and "unknown model" in err and not (tmp_path / "out").exists()


TOEDIT_RECIPE = "configs/toedit/toedit-lm-tiny.yaml"


def prior_of(folder) -> list[str]:
    """Overrides that make toedit-lm-tiny's transform edit with a tiny test prior instead of toedit-prior-tiny."""
    return ["--data.init_args.transform.init_args.prior", f"local-dir:{folder}"]


def test_the_prior_is_trained_on_text_disjoint_from_the_corpus_it_edits():
    """toedit-prior-tiny: the base LM recipe on another world of the same domain; no document, entity or
    world in common with toedit-lm-tiny's corpus, the same tokenizer, trained at the window it edits in."""
    import yaml

    from datamodules.base import load_documents, split_of
    from datamodules.tinyworld import generate_world
    from zoo.paths import PROJECT_ROOT
    from zoo.registry import get_entry

    toedit, prior = get_entry("toedit-lm-tiny"), get_entry("toedit-prior-tiny")
    assert "toedit-prior-tiny" in toedit.depends_on and "base-lm-tiny" not in toedit.depends_on
    recipe = yaml.safe_load(toedit.recipe_path.read_text())["data"]["init_args"]
    editing = recipe["transform"]["init_args"]
    assert recipe["transform"]["class_path"].endswith("TokenEditing") and editing["prior"] == prior.name
    prior_data = yaml.safe_load(prior.recipe_path.read_text())["data"]["init_args"]
    assert prior_data["source"] == recipe["source"] and prior_data["tokenizer"] == recipe["tokenizer"]
    assert prior_data["block_size"] >= editing["max_length"], "the prior is trained at the window it edits in"
    base = yaml.safe_load((PROJECT_ROOT / get_entry("base-lm-tiny").recipe).read_text())["data"]["init_args"]
    assert base["world"] == recipe["world"], "base-lm-tiny (the old prior) trained on the very documents"

    corpus, _ = load_documents(recipe["source"], world=recipe["world"])
    edited = [text for doc_id, text in zip(corpus["id"], corpus["text"]) if split_of(doc_id) == "train"]
    seen, _ = load_documents(prior_data["source"], world=prior_data["world"])
    # Ids are world-local labels (general-d000000 in every world): the worlds and the texts are what differ.
    assert not set(edited) & set(seen["text"]) and len(edited) > 500
    worlds = [generate_world(seed=data["world"]["seed"], n_entities=data["world"]["n_entities"])
              for data in (recipe, prior_data)]
    assert worlds[0].fingerprint() != worlds[1].fingerprint()
    assert not {e["name"] for e in worlds[0].entities} & {e["name"] for e in worlds[1].entities}


def test_toedit_trains_on_whole_edited_documents_and_its_card_records_the_edit_rate(tiny_folder, tmp_path, run_zoo):
    import zoo
    from zoo.checkpoint import export_checkpoint
    from zoo.modules import TokenEditedLM
    from zoo.paths import PROJECT_ROOT

    code, _, err = run_zoo("fit", "-c", PROJECT_ROOT / TOEDIT_RECIPE, *TINY, *prior_of(tiny_folder),
                           "--data.init_args.transform.init_args.editing.threshold", "0.001",
                           "--trainer.default_root_dir", tmp_path)
    assert code == 0, err
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    folder = export_checkpoint(tmp_path / "checkpoints" / "last.ckpt", tmp_path / "folder")
    assert isinstance(zoo.load(f"local-dir:{folder}"), TokenEditedLM)
    card = json.loads((folder / "zoo_card.json").read_text())
    report = card["data_report"]["transform_report"]
    assert report["documents"] == card["data_report"]["documents"]["train"] > 0
    assert report["settings"]["prior"] == f"local-dir:{tiny_folder}" and report["settings"]["threshold"] == 0.001
    # llama-test's 256 positions cap the recipe's 512: the longest documents (up to ~310 tokens) take two windows.
    assert report["settings"]["window"] == 256 and 0 < report["windowed"] < report["documents"]
    assert report["windows"] == report["documents"] + report["windowed"]
    assert 0 < report["edit_rate"] == (report["changed"] + report["deleted"]) / report["tokens"]
    assert report["per_document"]["min"] <= report["per_document"]["p50"] <= report["per_document"]["max"]
    readme = (folder / "README.md").read_text()
    assert f"- Edit rate: {report['edit_rate']:.2%} of the {report['tokens']:,} tokens" in readme
    assert "- Token editing: prior `local-dir:" in readme and "p > 0.001 resampled from the top 8" in readme
    # The study reads test metrics: the edit rate is one of them.
    assert checkpoint["zoo"]["data_report"]["transform_report"]["edit_rate"] == report["edit_rate"]
    code, out, err = run_zoo("test", "-c", PROJECT_ROOT / TOEDIT_RECIPE, *TINY, *prior_of(tiny_folder),
                             "--data.init_args.transform.init_args.editing.threshold", "0.001",
                             "--ckpt_path", tmp_path / "checkpoints" / "last.ckpt", "--trainer.default_root_dir", tmp_path)
    assert code == 0, err
    assert "data/edit_rate" in out


def test_toedit_refuses_data_that_is_not_token_edited(run_zoo, tmp_path):
    from zoo.paths import PROJECT_ROOT

    code, _, err = run_zoo("fit", "-c", PROJECT_ROOT / TOEDIT_RECIPE, *TINY, "--data.init_args.transform", "null",
                           "--trainer.default_root_dir", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert "TokenEditing" in err and "zoo.modules.CausalLM" in err


def test_ngram_shift_scores_a_model_s_samples_against_human_text(tiny_folder):
    import zoo
    from benchmarks.evaluators import get_evaluator

    evaluator = get_evaluator("ngram_shift")
    module = zoo.load(f"local-dir:{tiny_folder}")
    args = {"reference": "tinyworld:general", "world": {"n_entities": 24}, "n_samples": 6, "max_new_tokens": 16}
    scores = {s.metric: s for s in evaluator(module, args, limit=None)}
    assert set(scores) == {f"{m}_{n}" for m in ("js", "coverage", "top_mass") for n in (1, 2)}
    assert all(0 <= s.value <= 1 for s in scores.values())
    assert not scores["js_1"].higher_is_better and scores["coverage_1"].higher_is_better
    assert [s.value for s in evaluator(module, args, limit=None)] == [s.value for s in scores.values()]
    assert evaluator(module, args, limit=2) != evaluator(module, args, limit=None), "limit lowers the sample count"


def test_an_unknown_prior_is_one_line(run_zoo, tmp_path):
    from zoo.paths import PROJECT_ROOT

    code, _, err = run_zoo("fit", "-c", PROJECT_ROOT / TOEDIT_RECIPE, *TINY,
                           "--data.init_args.transform.init_args.prior", "no-such-prior", "--trainer.default_root_dir", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("zoo: error:")] == [
        "zoo: error: unknown model 'no-such-prior': see `zoo list`"]


def test_smoke_build_of_a_study_entry_uses_smoke_builds_of_what_it_names(run_zoo):
    """toedit-lm-tiny names toedit-prior-tiny as its prior: a smoke build edits with the smoke prior."""
    import zoo
    from zoo.paths import checkpoints_dir

    code, _, err = run_zoo("build", "toedit-lm-tiny", "--preset", "smoke")
    assert code == 0, err
    card = json.loads((checkpoints_dir("smoke") / "toedit-lm-tiny" / "zoo_card.json").read_text())
    assert card["preset"] == "smoke" and card["data_report"]["transform_report"]["settings"]["prior"] == "toedit-prior-tiny"
    assert (checkpoints_dir("smoke") / "toedit-prior-tiny" / "zoo_card.json").exists()
    with pytest.raises(zoo.ZooError, match="not built at preset full"):
        zoo.load("toedit-prior-tiny")
