"""``zoo calibrate``: a recipe over a grid of world sizes and step budgets, with exposures per fact counted."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from benchmarks.calibration import load_calibration, statements_per_fact
from datamodules.tinyworld import generate_world
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT


def test_statements_per_fact_counts_training_documents_that_name_the_value():
    world = generate_world(domain="biomed", n_entities=12)
    # 3 documents per entity, each leaving out one of the 5 attributes: 3 facts stated twice, 2 three times.
    assert statements_per_fact(world, 0.0, 0.0) == pytest.approx((3 * 2 + 2 * 3) / 5)
    # Held-out documents do not count: with a third of them held out, a third fewer statements, give or take.
    held_out = statements_per_fact(world, 0.2, 0.15)
    by_hand = []
    from datamodules.base import split_of

    for item in world.cloze:
        docs = [d for d in world.documents if d["entity"] == item["entity"] and split_of(d["id"], 0.2, 0.15) == "train"]
        by_hand.append(sum(bool(re.search(rf"\b{item['answer']}\b", d["text"])) for d in docs))
    assert held_out == pytest.approx(sum(by_hand) / len(by_hand)) and held_out < 2.4


@pytest.fixture
def grid(tmp_path):
    """A 1 x 2 grid of a llama-test recipe on a small world."""
    recipe = yaml.safe_load((PROJECT_ROOT / "configs/base_lm/base-lm-tiny.yaml").read_text())
    recipe["model"]["init_args"]["net"] = "llama-test"
    recipe["model"]["init_args"]["warmup_steps"] = 1
    recipe["data"]["init_args"].update(batch_size=4, block_size=64, val_fraction=0.1, test_fraction=0.1)
    recipe["trainer"].update(val_check_interval=1, limit_val_batches=1)
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    path = tmp_path / "grid.yaml"
    path.write_text(f"description: A test grid.\nrecipe: {tmp_path / 'recipe.yaml'}\nn_entities: [8]\n"
                    "max_steps: [1, 3]\n")
    return path


def test_a_grid_is_fitted_counted_and_written_the_same_again(run_zoo, grid, tmp_path):
    out = tmp_path / "out"
    code, printed, err = run_zoo("calibrate", grid, "--out", out)
    assert code == 0, err
    record = json.loads((out / "calibration.json").read_text())
    runs = record["runs"]
    assert [(r["n_entities"], r["max_steps"], r["seed"]) for r in runs] == [(8, 1, 0), (8, 3, 0)]
    first, second = (r["metrics"] for r in runs)
    # The same data at 1 and 3 steps: three times the epochs and exposures; statements per fact as counted.
    statements = statements_per_fact(generate_world(n_entities=8), 0.1, 0.1)
    assert first["data/statements_per_fact"] == second["data/statements_per_fact"] == pytest.approx(statements)
    assert second["data/epochs"] == pytest.approx(3 * first["data/epochs"])
    assert second["data/exposures"] == pytest.approx(second["data/epochs"] * statements)
    for metric in ("test/cloze_acc", "test/question_acc", "test/open_book_acc"):
        assert 0.0 <= first[metric] <= 1.0 and 0.0 <= second[metric] <= 1.0
    table = (out / "calibration.md").read_text()
    assert table == printed.rstrip("\n") + "\n"
    assert (f"| 8 | 3 | 0 | {second['data/epochs']:.1f} | {second['data/exposures']:.0f} | "
            f"{second['test/cloze_acc']:.3f} | {second['test/question_acc']:.3f} | "
            f"{second['test/open_book_acc']:.3f} |") in table
    assert (out / "calibration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    files = {name: (out / name).read_bytes() for name in ("calibration.md", "calibration.json", "calibration.png")}
    assert run_zoo("calibrate", grid, "--out", out)[0] == 0
    assert {name: (out / name).read_bytes() for name in files} == files, "cached runs give the same bytes"


@pytest.mark.parametrize("text, message", [
    ("recipe: configs/base_lm/base-lm-tiny.yaml\nn_entities: [2]\nmax_steps: [10]\n", r"n_entities must be .*>= 4"),
    ("recipe: configs/base_lm/base-lm-tiny.yaml\nn_entities: [8]\nmax_steps: []\n", "max_steps must be a non-empty"),
    ("recipe: configs/nope.yaml\nn_entities: [8]\nmax_steps: [10]\n", "recipe configs/nope.yaml not found"),
    ("recipe: configs/base_lm/base-lm-tiny.yaml\nsteps: [10]\n", "a calibration file is a mapping"),
    ("[unclosed\n", "not readable YAML"),
    ("recipe: configs/base_lm/base-lm-tiny.yaml\nn_entities: [8]\nmax_steps: [1]\nmetrics: test/ppl\n",
     "metrics must be a list of test metric names"),
])
def test_a_bad_grid_file_is_one_line(tmp_path, run_zoo, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ZooError, match=message):
        load_calibration(str(path))
    code, out, err = run_zoo("calibrate", path)
    assert code == 2 and out == "" and err.startswith("zoo: error: ") and len(err.strip().splitlines()) == 1


def test_unknown_grid_and_out_that_is_a_file(run_zoo, tmp_path):
    code, _, err = run_zoo("calibrate", "nope")
    assert code == 2 and "unknown calibration 'nope'; one of dapt-biomed" in err
    (tmp_path / "file").write_text("")
    code, _, err = run_zoo("calibrate", "dapt-biomed", "--out", tmp_path / "file")
    assert code == 2 and "is a file; pass a folder" in err


def test_shipped_grids_load():
    grid = load_calibration("dapt-biomed")
    assert grid.recipe == PROJECT_ROOT / "configs/adaptllm/dapt-biomed-tiny.yaml" and min(grid.n_entities) >= 120
