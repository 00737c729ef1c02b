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
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(6)] and [r["title"] for r in rows][0] == "Doc 0"
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


def tiny_token_edited(tiny_folder, **editing):
    from zoo.cli import lightning_cli
    from zoo.paths import PROJECT_ROOT

    recipe = PROJECT_ROOT / "configs" / "toedit" / "toedit-lm-tiny.yaml"
    extra = [arg for key, value in editing.items() for arg in (f"--model.init_args.editing.{key}", str(value))]
    cli = lightning_cli(["-c", str(recipe), *TINY, "--model.init_args.prior", f"local-dir:{tiny_folder}", *extra],
                        run=False)
    cli.datamodule.setup("fit")
    cli.model.build_net(cli.datamodule.tokenizer)
    return cli.model, cli.datamodule


def test_online_editing_equals_offline_editing_of_the_same_blocks(tiny_folder):
    from datamodules.transforms.token_editing import TokenEditor

    module, datamodule = tiny_token_edited(tiny_folder, threshold=0.0001)
    blocks = datamodule.blocks["train"][:6]
    online, targets = module.edit_batch(blocks)
    offline = TokenEditor(f"local-dir:{tiny_folder}", module.settings)
    # Offline, one block at a time: edits are keyed by each block's tokens, not by its batch.
    for row, block in enumerate(blocks):
        alone = offline.edit_ids(block[None], torch.ones_like(block[None]))
        assert torch.equal(alone.input_ids[0], online[row])
    assert not torch.equal(online, blocks), "a low threshold edits"
    assert torch.equal(targets[:, :-1], online[:, 1:]) and (targets[:, -1] == -100).all()


def test_online_deletion_pads_and_ignores_the_tail(tiny_folder):
    module, datamodule = tiny_token_edited(tiny_folder, variant="delete", delete_below=0.05, threshold=0.99)
    blocks = datamodule.blocks["train"][:4]
    edited, targets = module.edit_batch(blocks)
    assert edited.shape == blocks.shape
    # The barely trained prior finds every token rare: all but the first token of each row go.
    assert (targets == -100).all() and torch.equal(edited[:, 0], blocks[:, 0])
    assert (edited[:, 1:] == module.editor.pad_id).all()
    loss = module.training_step({"input_ids": blocks}, 0)
    assert loss.item() == 0.0, "nothing left to learn is a zero step, not a NaN"


def test_token_edited_lm_exports_and_loads_without_its_prior(tiny_folder, tmp_path, run_zoo):
    import zoo
    from datamodules.transforms.token_editing import EditSettings
    from zoo.checkpoint import export_checkpoint
    from zoo.modules import TokenEditedLM
    from zoo.paths import PROJECT_ROOT

    recipe = PROJECT_ROOT / "configs" / "toedit" / "toedit-lm-tiny.yaml"
    code, _, err = run_zoo("fit", "-c", recipe, *TINY, "--model.init_args.prior", f"local-dir:{tiny_folder}",
                           "--trainer.default_root_dir", tmp_path)
    assert code == 0, err
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert not any(key.startswith("editor") for key in checkpoint["state_dict"]), "the prior is no part of the model"
    folder = export_checkpoint(tmp_path / "checkpoints" / "last.ckpt", tmp_path / "folder")
    loaded = zoo.load(f"local-dir:{folder}")
    assert isinstance(loaded, TokenEditedLM) and loaded.editor is None
    assert loaded.settings == EditSettings(threshold=0.99, top_k=8, beta=1.5), "settings come back from the card"
    card = json.loads((folder / "zoo_card.json").read_text())
    assert card["hparams"]["editing"] == {"threshold": 0.99, "top_k": 8, "beta": 1.5, "variant": "replace",
                                          "delete_below": 0.001, "seed": 0}
    assert card["editing"]["online_prior"] == f"local-dir:{tiny_folder}" and card["editing"]["top_k"] == 8
    assert "- Token editing: " in (folder / "README.md").read_text()
    ids = torch.arange(1, 20)[None]
    state = {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
    reference = TokenEditedLM(net="llama-test")
    reference.build_net(loaded.tokenizer)
    reference.net.load_state_dict(state)
    torch.testing.assert_close(loaded(ids), reference.eval()(ids))


def test_online_prior_must_share_the_data_tokenizer(tiny_folder):
    from datamodules.tokenizer import load_tokenizer
    from zoo.modules import TokenEditedLM

    module = TokenEditedLM(prior=f"local-dir:{tiny_folder}", net="llama-test")
    module.build_net(load_tokenizer("tinyworld"))
    module.configure_model()  # the same vocabulary: accepted

    class OtherTokenizer:
        def get_vocab(self):
            return {"a": 0}

    module.editor.tokenizer = OtherTokenizer()
    with pytest.raises(ZooError, match="another tokenizer"):
        module.configure_model()


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


def test_a_class_refusing_its_arguments_is_one_line(run_zoo, tmp_path):
    from zoo.paths import PROJECT_ROOT

    recipe = PROJECT_ROOT / "configs" / "toedit" / "toedit-lm-tiny.yaml"
    code, _, err = run_zoo("fit", "-c", recipe, "--model.init_args.prior", "no-such-prior",
                           "--trainer.default_root_dir", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("zoo: error:")] == [
        "zoo: error: unknown model 'no-such-prior': see `zoo list`"]


def test_smoke_build_of_a_study_entry_uses_smoke_builds_of_what_it_names(run_zoo):
    """toedit-lm-tiny names base-lm-tiny as its prior: a smoke build edits with the smoke base."""
    import zoo
    from zoo.paths import checkpoints_dir

    code, _, err = run_zoo("build", "toedit-lm-tiny", "--preset", "smoke")
    assert code == 0, err
    card = json.loads((checkpoints_dir("smoke") / "toedit-lm-tiny" / "zoo_card.json").read_text())
    assert card["preset"] == "smoke" and card["hparams"]["prior"] == "base-lm-tiny"
    assert (checkpoints_dir("smoke") / "base-lm-tiny" / "zoo_card.json").exists()
    with pytest.raises(zoo.ZooError, match="not built at preset full"):
        zoo.load("base-lm-tiny")
