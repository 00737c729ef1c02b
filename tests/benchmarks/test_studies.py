"""Seed studies: a run is cached by recipe, seed and overrides; the summary is mean ± std."""

from __future__ import annotations

import json

from benchmarks.studies.seeds import run, study, summarise
from tests.conftest import TINY
from zoo.paths import PROJECT_ROOT

RECIPE = PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml"


def test_summary_is_mean_and_sample_std():
    rows = [{"recipe": "a", "seed": s, "metrics": {"acc": v}} for s, v in enumerate([0.4, 0.5, 0.6])]
    rows.append({"recipe": "b", "seed": 0, "metrics": {"acc": 0.3}})
    table = summarise(rows, ["acc", "missing"])
    assert "| a | 3 | 0.500 ± 0.100 | — |" in table and "| b | 1 | 0.300 ± 0.000 | — |" in table


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
    first, second = run(RECIPE, 0, overrides, fit_and_test), run(RECIPE, 1, overrides, fit_and_test)
    assert {"test/ppl", "test/cloze_acc", "test/question_acc"} <= set(first)
    assert first != second, "the data seed changes the split and order"
    assert run(RECIPE, 0, overrides, not_cached) == first


def test_a_study_runs_every_recipe_at_every_seed_and_writes_its_table(tmp_path):
    seen = []

    def fit(arguments: list[str]) -> dict[str, float]:
        seen.append(arguments)
        seed = int(arguments[arguments.index("--seed_everything") + 1])
        return {"test/ppl": 2.0 + seed + ("--trainer.max_steps" in arguments)}

    table = study([RECIPE], [0, 1], tmp_path / "out", fit, metrics=["test/ppl"], overrides=["--trainer.max_steps", "7"],
                  base_from=RECIPE)
    assert len(seen) == 4 and all(a[a.index("--data.init_args.seed") + 1] == a[a.index("--seed_everything") + 1]
                                  for a in seen)
    assert "| base (no continued training) | 2 | 3.500 ± 0.707 |" in table
    assert (tmp_path / "out" / "study.md").read_text().endswith(table)
    rows = json.loads((tmp_path / "out" / "study.json").read_text())
    assert [(r["recipe"], r["seed"]) for r in rows] == [("base (no continued training)", 0),
                                                       ("base (no continued training)", 1),
                                                       ("base-lm-tiny", 0), ("base-lm-tiny", 1)]


def test_a_run_equal_to_a_zoo_build_reads_its_card(monkeypatch, tmp_path):
    from benchmarks.studies import seeds

    folder = tmp_path / "base-lm-tiny"
    folder.mkdir()
    (folder / "zoo_card.json").write_text(json.dumps({"preset": "full", "metrics": {"test/ppl": 1.5},
                                                      "files_sha256": {}}))
    monkeypatch.setattr(seeds, "checkpoints_dir", lambda preset="full": tmp_path)
    assert seeds.run(RECIPE, 0, [], not_cached) == {"test/ppl": 1.5}
    assert seeds.built_metrics(RECIPE, 1, []) is None, "another seed is another run"
    assert seeds.built_metrics(RECIPE, 0, ["--trainer.max_steps", "3"]) is None, "overrides make another run"
