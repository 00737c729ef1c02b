"""Seed studies: a run is cached by recipe, seed and overrides; the summary is mean ± std."""

from __future__ import annotations

from benchmarks.studies.seeds import run, summarise
from tests.conftest import TINY
from zoo.paths import PROJECT_ROOT

RECIPE = PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml"


def test_summary_is_mean_and_sample_std():
    rows = [{"recipe": "a", "seed": s, "metrics": {"acc": v}} for s, v in enumerate([0.4, 0.5, 0.6])]
    rows.append({"recipe": "b", "seed": 0, "metrics": {"acc": 0.3}})
    table = summarise(rows, ["acc", "missing"])
    assert "| a | 3 | 0.500 ± 0.100 | — |" in table and "| b | 1 | 0.300 ± 0.000 | — |" in table


def test_seeded_runs_differ_by_seed_and_are_cached(monkeypatch):
    overrides = [*TINY, "--trainer.max_steps", "2"]
    first, second = run(RECIPE, 0, overrides), run(RECIPE, 1, overrides)
    assert {"test/ppl", "test/cloze_acc", "test/question_acc"} <= set(first)
    assert first != second, "the data seed changes the split and order"
    monkeypatch.setattr("zoo.cli.lightning_cli", lambda *a, **k: (_ for _ in ()).throw(AssertionError("not cached")))
    assert run(RECIPE, 0, overrides) == first


def test_a_run_equal_to_a_zoo_build_reads_its_card(monkeypatch, tmp_path):
    import json

    from benchmarks.studies import seeds

    folder = tmp_path / "base-lm-tiny"
    folder.mkdir()
    (folder / "zoo_card.json").write_text(json.dumps({"preset": "full", "metrics": {"test/ppl": 1.5}}))
    monkeypatch.setattr("zoo.paths.checkpoints_dir", lambda preset="full": tmp_path)
    assert seeds.run(RECIPE, 0, []) == {"test/ppl": 1.5}
    assert seeds.built_metrics(RECIPE, 1, []) is None, "another seed is another run"
    assert seeds.built_metrics(RECIPE, 0, ["--trainer.max_steps", "3"]) is None, "overrides make another run"
