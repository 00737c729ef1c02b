"""The leaderboard sweep (``zoo.sweep``): which models on which suites, failures as error rows."""

from __future__ import annotations

import pytest

import zoo.sweep
from zoo.errors import ZooError


def test_a_model_that_fails_to_build_becomes_an_error_row(monkeypatch):
    def broken_build(name, preset="full", force=False):
        raise RuntimeError("out of memory while building")

    monkeypatch.setattr(zoo.sweep, "build", broken_build)
    rows, cards = zoo.sweep.sweep("base-lm-tiny", ["tinyworld-general"])
    assert cards == {}
    assert [(r["model"], r["suite"], r["task"], r["metric"]) for r in rows] == [
        ("base-lm-tiny", "tinyworld-general", "*", "error")]
    assert rows[0]["error"] == "RuntimeError: out of memory while building"


def test_a_model_that_fails_to_evaluate_becomes_an_error_row_and_the_sweep_goes_on(monkeypatch, tmp_path):
    monkeypatch.setattr(zoo.sweep, "build", lambda name, preset="full": (tmp_path / name, {}))

    def evaluate(name, suite, **settings):
        if suite == "tinyworld-biomed":
            raise ValueError("a broken scorer")
        return [{"model": name, "suite": suite, "task": "t", "metric": "acc", "error": None}]

    monkeypatch.setattr(zoo.sweep, "evaluate", evaluate)
    rows, cards = zoo.sweep.sweep("base-lm-tiny", ["tinyworld-general", "tinyworld-biomed"])
    assert cards == {"base-lm-tiny": tmp_path / "base-lm-tiny" / "README.md"}
    assert [(r["suite"], r["metric"], r["error"]) for r in rows] == [
        ("tinyworld-general", "acc", None), ("tinyworld-biomed", "error", "ValueError: a broken scorer")]


def test_plan_skips_real_suites_without_data_and_hub_entries(monkeypatch):
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    plan = dict(zoo.sweep.plan())
    assert plan["base-lm-tiny"] == ["tinyworld-general", "tinyworld-biomed", "tinyworld-finance", "tinyworld-law"]
    assert "adaptllm-medicine-llm" not in plan


def test_nothing_to_sweep_is_one_clear_error():
    with pytest.raises(ZooError) as raised:
        zoo.sweep.sweep("nothing-*", ["tinyworld-general"])
    assert str(raised.value) == ("no model with suites matches 'nothing-*' and ['tinyworld-general']; "
                                 "`zoo list` shows the models, benchmarks/suites the suites")
