"""``zoo study``: real fits of a tiny recipe over seeds, through the CLI, into a table."""

from __future__ import annotations

import json

from tests.conftest import TINY
from zoo.paths import PROJECT_ROOT

RECIPE = PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml"


def test_study_fits_every_seed_and_writes_mean_and_spread(run_zoo, tmp_path):
    code, out, err = run_zoo("study", "--recipes", RECIPE, "--seeds", "0", "1", "--out", tmp_path / "s",
                             "--metrics", "test/ppl", "--", *TINY)
    assert code == 0, err
    rows = json.loads((tmp_path / "s" / "study.json").read_text())
    assert [(row["recipe"], row["seed"]) for row in rows] == [("base-lm-tiny", 0), ("base-lm-tiny", 1)]
    ppl = [row["metrics"]["test/ppl"] for row in rows]
    assert all(1.0 < value < 2000 for value in ppl) and ppl[0] != ppl[1], "seeds must give different runs"
    table = (tmp_path / "s" / "study.md").read_text()
    assert "| base-lm-tiny | 2 |" in table and table.strip().splitlines()[-1] in out
    assert "--trainer.max_steps" in table, "the table records the overrides of every run"


def test_study_of_a_missing_recipe_is_one_line(run_zoo, tmp_path):
    code, _, err = run_zoo("study", "--recipes", tmp_path / "nope.yaml", "--out", tmp_path / "s")
    assert code == 2 and err.count("zoo: error:") == 1 and "recipe not found" in err
    assert not (tmp_path / "s").exists()
