"""Suites, the cached evaluate(), error rows, and the zoo eval / leaderboard verbs."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import yaml

import benchmarks.harness as harness
from benchmarks.evaluators import EVALUATORS, Score, register
from benchmarks.suites import SUITES_DIR, load_suite, suite_hash, suite_names
from zoo.errors import ZooError


def test_shipped_suites_load_and_their_pins_match_the_data(task_manager):
    from lm_eval.tasks import get_task_dict

    from benchmarks.suites import task_docs_sha256

    for name in ("tinyworld-general", "tinyworld-biomed"):
        suite = load_suite(name)
        tasks = get_task_dict([t.task for t in suite.tasks], task_manager)
        for spec in suite.tasks:
            assert spec.data_sha256 == task_docs_sha256(tasks[spec.task]), f"{name}/{spec.task}: re-pin the suite"
    assert {"tinyworld-general", "tinyworld-biomed"} <= set(suite_names())


@pytest.fixture
def suite_copy(tmp_path, monkeypatch):
    """A private copy of the suites folder, to edit."""
    folder = shutil.copytree(SUITES_DIR, tmp_path / "suites")
    monkeypatch.setattr("benchmarks.suites.SUITES_DIR", folder)
    load_suite.cache_clear()
    yield folder
    load_suite.cache_clear()


@pytest.mark.parametrize("edit", [
    lambda d: d["tasks"][0].update(metrics=["bits_per_byte"]),
    lambda d: d["tasks"][1].update(num_fewshot=3),
    lambda d: d["tasks"][1].update(data_sha256="0" * 64),
    lambda d: d.update(version=2),
    lambda d: d["tasks"].pop(),
])
def test_suite_hash_changes_with_any_part(edit, suite_copy):
    before = load_suite("tinyworld-general").hash
    path = suite_copy / "tinyworld-general.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    load_suite.cache_clear()
    assert load_suite("tinyworld-general").hash != before


def test_suite_hash_covers_task_prompts(tmp_path, monkeypatch):
    suite = load_suite("tinyworld-general")
    before = suite_hash(suite)
    folder = shutil.copytree(harness.load_suite("tinyworld-general").path.parents[1] / "tasks" / "tinyworld",
                             tmp_path / "tinyworld")
    (folder / "_cloze.yaml").write_text((folder / "_cloze.yaml").read_text() + "\n# changed prompt\n")
    monkeypatch.setattr("benchmarks.suites.task_files", lambda task: [folder / "_cloze.yaml"])
    assert suite_hash(suite) != before


def test_unknown_suite_names_close_ones():
    with pytest.raises(ZooError, match="did you mean tinyworld-general"):
        load_suite("tinyworld-generl")


def test_changed_data_is_refused(tiny_folder, suite_copy):
    path = suite_copy / "tinyworld-general.yaml"
    data = yaml.safe_load(path.read_text())
    data["tasks"][1]["data_sha256"] = "f" * 64
    path.write_text(yaml.safe_dump(data))
    load_suite.cache_clear()
    with pytest.raises(ZooError, match="data of task zoo_tinyworld_general_cloze changed"):
        harness.evaluate(f"local-dir:{tiny_folder}", "tinyworld-general", limit=2)


def test_rows_are_complete_cached_and_invalidated_by_new_weights(tiny_folder, tmp_path, monkeypatch):
    reference = f"local-dir:{tiny_folder}"
    rows = harness.evaluate(reference, "tinyworld-general", limit=8)
    assert {r["metric"] for r in rows} == {"word_perplexity", "bits_per_byte", "acc", "acc_norm", "exact_match"}
    for row in rows:
        assert set(harness.ROW_FIELDS) <= set(row)
        assert row["weights_sha256"] and row["suite_hash"] == load_suite("tinyworld-general").hash
        assert row["versions"]["lm_eval"] and row["git_commit"] and row["date"] and row["dtype"] == "float32"
    # Second call: served from the cache, no model is run.
    monkeypatch.setattr(harness.LoadedModel, "lm", lambda *a, **k: pytest.fail("cached rows must not re-run the model"))
    assert harness.evaluate(reference, "tinyworld-general", limit=8) == rows
    monkeypatch.undo()

    # Retrained (different weights): a new sha256, so it is evaluated afresh.
    from zoo.checkpoint import export_payload

    import zoo

    module = zoo.load(reference)
    state = {f"net.{k}": v.clone() for k, v in module.net.state_dict().items()}
    state["net.model.norm.weight"] += 0.5
    retrained = export_payload(state, module.zoo_metadata(), dict(module.hparams), tmp_path / "retrained")
    fresh = harness.evaluate(f"local-dir:{retrained}", "tinyworld-general", limit=8)
    assert fresh[0]["weights_sha256"] != rows[0]["weights_sha256"]
    assert [r["value"] for r in fresh] != [r["value"] for r in rows]


def test_plain_hf_folder_goes_through_hflm(tiny_folder, tmp_path):
    plain = shutil.copytree(tiny_folder, tmp_path / "plain")
    (plain / "zoo_card.json").unlink()
    rows = harness.evaluate(f"local-dir:{plain}", "tinyworld-general", limit=8)
    zoo_rows = harness.evaluate(f"local-dir:{tiny_folder}", "tinyworld-general", limit=8)
    assert rows[0]["weights_sha256"] == zoo_rows[0]["weights_sha256"]
    for a, b in zip(rows, zoo_rows):
        assert (a["task"], a["metric"]) == (b["task"], b["metric"])
        assert a["value"] == pytest.approx(b["value"], rel=1e-5)


def test_evaluator_rows_have_the_same_schema(tiny_folder, suite_copy, monkeypatch):
    monkeypatch.setitem(EVALUATORS, "vocab_size", None)

    @register("vocab_size")
    def vocab_size(module, args, limit):
        return [Score("vocab", float(len(module.tokenizer)) * args["scale"], None, higher_is_better=False)]

    vocab_size.version = "1"
    (suite_copy / "toy.yaml").write_text(yaml.safe_dump({
        "name": "toy", "version": 1, "description": "an evaluator task",
        "tasks": [{"task": "vocabulary", "metrics": ["vocab"], "evaluator": "vocab_size", "args": {"scale": 2}}]}))
    rows = harness.evaluate(f"local-dir:{tiny_folder}", "toy")
    assert len(rows) == 1 and rows[0]["value"] == 2 * 1536 and rows[0]["task_version"] == "1"
    assert set(harness.ROW_FIELDS) <= set(rows[0]) and rows[0]["higher_is_better"] is False


def test_failing_model_becomes_an_error_row(monkeypatch):
    def broken_build(name, preset="full", force=False):
        raise RuntimeError("out of memory while building")

    monkeypatch.setattr("zoo.builder.build", broken_build)
    rows, cards = harness.sweep("base-lm-tiny", ["tinyworld-general"])
    assert cards == {}
    assert [(r["model"], r["metric"]) for r in rows] == [("base-lm-tiny", "error")]
    assert "out of memory" in rows[0]["error"]


def test_plan_skips_real_suites_without_data_and_hub_entries(monkeypatch):
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    plan = dict(harness.plan())
    assert plan["base-lm-tiny"] == ["tinyworld-general", "tinyworld-biomed", "tinyworld-finance", "tinyworld-law"]
    assert "adaptllm-medicine-llm" not in plan


def test_eval_verb_prints_a_table_and_bad_input_exits_2(tiny_folder, run_zoo):
    code, out, err = run_zoo("eval", f"local-dir:{tiny_folder}", "--suite", "tinyworld-general", "--limit", "8")
    assert code == 0, err
    assert "| zoo_tinyworld_general_cloze" in out and "acc ↑" in out
    code, _, err = run_zoo("eval", "base-lm-tny", "--suite", "tinyworld-general")
    assert code == 2 and "did you mean base-lm-tiny" in err
    code, _, err = run_zoo("eval", f"local-dir:{tiny_folder}", "--suite", "nope")
    assert code == 2 and "unknown suite 'nope'" in err
