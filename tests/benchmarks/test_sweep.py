"""The leaderboard sweep (``zoo.sweep``): which models on which suites, failures as error rows."""

from __future__ import annotations

import os

import pytest
import torch

import zoo.sweep
import zoo.workers
from benchmarks.harness import Evaluation
from zoo.errors import ZooError

#: A card whose contamination report is of this version (no report is recomputed).
CURRENT = {"contamination": {"version": zoo.sweep.CONTAMINATION_VERSION}}


def test_a_model_that_fails_to_build_becomes_an_error_row(monkeypatch):
    def broken_build(name, preset="full", force=False):
        raise RuntimeError("out of memory while building")

    monkeypatch.setattr(zoo.sweep, "build", broken_build)
    rows, items, folders, _ = zoo.sweep.sweep("base-lm-tiny", ["tinyworld-general"])
    assert folders == {} and items == {}
    assert [(r["model"], r["suite"], r["task"], r["metric"]) for r in rows] == [
        ("base-lm-tiny", "tinyworld-general", "*", "error")]
    assert rows[0]["error"] == "RuntimeError: out of memory while building"


def test_a_model_that_fails_to_evaluate_becomes_an_error_row_and_the_sweep_goes_on(monkeypatch, tmp_path):
    monkeypatch.setattr(zoo.sweep, "build", lambda name, preset="full": (tmp_path / name, CURRENT))

    def evaluate(name, suite, **settings):
        if suite == "tinyworld-biomed":
            raise ValueError("a broken scorer")
        return Evaluation([{"model": name, "suite": suite, "task": "t", "metric": "acc", "error": None}],
                          {"t": {"doc_hash": ["d"], "outcomes": {"acc": [1.0]}}})

    monkeypatch.setattr(zoo.sweep, "evaluate_with_items", evaluate)
    rows, items, folders, _ = zoo.sweep.sweep("base-lm-tiny", ["tinyworld-general", "tinyworld-biomed"])
    assert folders == {"base-lm-tiny": tmp_path / "base-lm-tiny"}
    assert items == {("base-lm-tiny", "tinyworld-general"): {"t": {"doc_hash": ["d"], "outcomes": {"acc": [1.0]}}}}
    assert [(r["suite"], r["metric"], r["error"]) for r in rows] == [
        ("tinyworld-general", "acc", None), ("tinyworld-biomed", "error", "ValueError: a broken scorer")]


def test_plan_skips_real_suites_without_data_and_hub_entries(monkeypatch):
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    work, skipped = zoo.sweep.plan()
    plan = dict(work)
    assert plan["base-lm-tiny"] == ["tinyworld-general", "tinyworld-biomed", "tinyworld-finance", "tinyworld-law"]
    assert "adaptllm-medicine-llm" not in plan and "adaptllm-biomed-real-tiny" not in plan
    # What is left out is said, with the reason and the fix.
    left_out = {(suite, reason): models for suite, models, reason in skipped}
    assert {"base-lm-tiny", "adaptllm-biomed-real-tiny"} <= set(left_out["real-biomed", zoo.sweep.NO_DATA_DIR])
    assert "ZOO_DATA_DIR is not set" in zoo.sweep.NO_DATA_DIR
    # A hub release with suites is left out without --hub, and said so.
    import dataclasses

    registry = dict(zoo.sweep.entries())
    registry["adaptllm-medicine-llm"] = dataclasses.replace(registry["adaptllm-medicine-llm"], suites=["real-biomed"])
    monkeypatch.setattr(zoo.sweep, "entries", lambda: registry)
    _, skipped = zoo.sweep.plan("adaptllm-medicine-llm")
    assert skipped == [("real-biomed", ("adaptllm-medicine-llm",), zoo.sweep.NO_HUB)]
    # So is a recipe that names a hub model (UPRISE's real-cluster retriever scores with a hub LM); one that names
    # only zoo models is built here.
    registry["uprise-retriever-minilm"] = dataclasses.replace(registry["uprise-retriever-minilm"], suites=["uprise-tinyworld"])
    assert registry["uprise-retriever-minilm"].needs_hub and not registry["uprise-retriever-tinyworld"].needs_hub
    work, skipped = zoo.sweep.plan("uprise-retriever-*")
    assert work == [("uprise-retriever-tinyworld", ["uprise-tinyworld"])]
    assert skipped == [("uprise-tinyworld", ("uprise-retriever-minilm",), zoo.sweep.NO_HUB)]


def test_a_model_a_package_ships_is_planned_like_a_built_one(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    work, skipped = zoo.sweep.plan("minilm-l6-v2")
    assert work == [("minilm-l6-v2", ["ood-sst2"])] and skipped == []


def test_a_sweep_without_data_says_what_it_skipped(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.setattr(zoo.sweep, "build", lambda name, preset="full": (tmp_path / name, CURRENT))
    monkeypatch.setattr(zoo.sweep, "evaluate_with_items", lambda name, suite, **settings: Evaluation([], {}))
    *_, skipped = zoo.sweep.sweep("adaptllm-biomed-*")
    assert ("real-biomed", ("adaptllm-biomed-real-tiny", "adaptllm-biomed-tiny"), zoo.sweep.NO_DATA_DIR) in skipped
    assert (f"skipping real-biomed for adaptllm-biomed-real-tiny, adaptllm-biomed-tiny: {zoo.sweep.NO_DATA_DIR}"
            in capsys.readouterr().out)


def test_nothing_to_sweep_is_one_clear_error():
    with pytest.raises(ZooError) as raised:
        zoo.sweep.sweep("nothing-*", ["tinyworld-general"])
    assert str(raised.value) == ("no model with suites matches 'nothing-*' and ['tinyworld-general']; "
                                 "`zoo list` shows the models, benchmarks/suites the suites")


@pytest.mark.parametrize(("card", "recorded"), [({}, True), ({"contamination": {"version": 1}}, True), (CURRENT, False)])
def test_a_build_without_a_current_contamination_report_gets_one(monkeypatch, tmp_path, card, recorded):
    calls = []
    monkeypatch.setattr(zoo.sweep, "build", lambda name, preset="full": (tmp_path / name, card))
    monkeypatch.setattr(zoo.sweep, "record_contamination", lambda name, preset: calls.append((name, preset)))
    monkeypatch.setattr(zoo.sweep, "evaluate_with_items", lambda name, suite, **settings: Evaluation([], {}))
    zoo.sweep.sweep("base-lm-tiny", ["tinyworld-general"], preset="smoke")
    assert calls == ([("base-lm-tiny", "smoke")] if recorded else [])


def _fake_build(log):
    """A build that writes which process built what, in order, and fails for base-lm-tiny when asked to."""
    def build(name, preset="full", fail=()):
        with open(log, "a") as handle:
            handle.write(f"{name} {os.getpid()}\n")
        if name in fail:
            raise ZooError(f"{name} cannot be built")
        return log.parent / name, CURRENT
    return build


def _fake_evaluate(name, suite, **settings):
    import torch

    return Evaluation([{"model": name, "suite": suite, "task": "t", "metric": "acc", "error": None,
                        "pid": os.getpid(), "threads": torch.get_num_threads()}], {"t": {"outcomes": {"acc": [1.0]}}})


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_sweep_builds_each_entry_after_what_it_continues_from_in_any_number_of_processes(monkeypatch, tmp_path,
                                                                                           jobs):
    log = tmp_path / "built.txt"
    monkeypatch.setattr(zoo.sweep, "build", _fake_build(log))
    monkeypatch.setattr(zoo.sweep, "evaluate_with_items", _fake_evaluate)
    monkeypatch.setattr(zoo.sweep, "contamination_report", lambda texts: {})
    rows, items, folders, _ = zoo.sweep.sweep("adaptllm-*-tiny", ["tinyworld-law", "tinyworld-finance"], jobs=jobs)
    built = [line.split() for line in log.read_text().splitlines()]
    # base-lm-tiny (what they all continue from) alone first, each entry once.
    assert built[0][0] == "base-lm-tiny" and sorted(name for name, _ in built) == sorted(
        ["base-lm-tiny", "adaptllm-finance-tiny", "adaptllm-law-tiny"])
    assert folders == {name: tmp_path / name for name in ("adaptllm-finance-tiny", "adaptllm-law-tiny")}
    assert [(r["model"], r["suite"]) for r in rows] == [("adaptllm-finance-tiny", "tinyworld-finance"),
                                                        ("adaptllm-law-tiny", "tinyworld-law")]
    assert set(items) == {("adaptllm-finance-tiny", "tinyworld-finance"), ("adaptllm-law-tiny", "tinyworld-law")}
    in_workers = {int(pid) for _, pid in built} | {row["pid"] for row in rows}
    assert (in_workers == {os.getpid()}) == (jobs == 1)
    # Each worker takes its share of the cores.
    cores = zoo.workers.available_cores()
    assert {row["threads"] for row in rows} == ({torch.get_num_threads()} if jobs == 1 else {max(1, cores // 2)})


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_entry_whose_base_fails_to_build_fails_with_its_error_and_is_not_built(monkeypatch, tmp_path, jobs):
    log = tmp_path / "built.txt"
    build = _fake_build(log)
    monkeypatch.setattr(zoo.sweep, "build", lambda name, preset="full": build(name, preset, fail=("base-lm-tiny",)))
    monkeypatch.setattr(zoo.sweep, "contamination_report", lambda texts: {})
    rows, items, folders, _ = zoo.sweep.sweep("adaptllm-law-tiny", ["tinyworld-law"], jobs=jobs)
    assert [line.split()[0] for line in log.read_text().splitlines()] == ["base-lm-tiny"]
    assert folders == {} and items == {}
    assert [(r["model"], r["metric"], r["error"]) for r in rows] == [
        ("adaptllm-law-tiny", "error", "ZooError: base-lm-tiny cannot be built")]


def test_a_failure_reaches_every_entry_built_on_it_through_others(monkeypatch, tmp_path):
    # A -> B -> C: C fails, so B and A fail with its error and neither is built.
    chain = {"a-tiny": ("b-tiny",), "b-tiny": ("c-tiny",), "c-tiny": ()}
    monkeypatch.setattr(zoo.sweep, "get_entry", lambda name: type("Entry", (), {"depends_on": chain[name]}))
    log = tmp_path / "built.txt"
    build = _fake_build(log)
    monkeypatch.setattr(zoo.sweep, "build", lambda name, preset="full": build(name, preset, fail=("c-tiny",)))
    with zoo.workers.Workers(1) as workers:
        outcomes = workers.run("build", zoo.sweep._build_jobs(["a-tiny"], "smoke"))
    assert [line.split()[0] for line in log.read_text().splitlines()] == ["c-tiny"]
    assert {name: str(error) for (_, name), error in outcomes.items()} == {
        name: "c-tiny cannot be built" for name in chain}


def test_an_evaluation_waits_for_the_models_its_suites_name(monkeypatch, tmp_path):
    # UPRISE's suite answers with two LMs: an evaluation on it comes after both are built, even for a model whose
    # recipe does not name them (here the retriever's, made to name nothing).
    assert zoo.sweep._models_named_by(["uprise-tinyworld"]) == ("uprise-lm-tiny", "uprise-transfer-lm-tiny")
    assert zoo.sweep._models_named_by(["tinyworld-general", "ood-sst2"]) == ()
    real_entry = zoo.sweep.get_entry
    monkeypatch.setattr(zoo.sweep, "get_entry", lambda name: type("Entry", (), {
        "recipe": real_entry(name).recipe,
        "depends_on": () if name == "uprise-retriever-tinyworld" else real_entry(name).depends_on}))
    log = tmp_path / "built.txt"
    monkeypatch.setattr(zoo.sweep, "build", _fake_build(log))
    evaluated = []
    monkeypatch.setattr(zoo.sweep, "evaluate_with_items", lambda name, suite, **settings: evaluated.append(
        (name, sorted(log.read_text().split()[::2]))) or Evaluation([], {}))
    zoo.sweep.sweep("uprise-retriever-tinyworld", ["uprise-tinyworld"])
    assert evaluated == [("uprise-retriever-tinyworld", ["base-lm-tiny", "uprise-lm-tiny", "uprise-retriever-tinyworld",
                                                         "uprise-transfer-lm-tiny"])]
