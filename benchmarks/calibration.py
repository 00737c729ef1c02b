"""World calibration: how many times a tiny LM must see a fact before it stores it.

A calibration file (``benchmarks/studies/calibration/<name>.yaml``) names a recipe and a grid of world sizes
(``n_entities``) and step budgets (``max_steps``); every cell is fitted and tested like a study run (cached in
``ZOO_HOME/runs/studies``, same fixed split, seeds vary initialisation and data order). Each run's
x-coordinate is the number of times it saw an average held-out fact::

    exposures = epochs x statements,   epochs = steps x batch size / training rows,

with ``statements`` the mean number of training documents that state a cloze item's fact (each fact is
stated in 2 or 3 of an entity's documents; some of those fall in the validation or test split). The
learning curve (cloze, questions and open-book accuracy against exposures, one line per world size) shows
where the raw-text arm leaves chance, and the studies' world and budget are chosen from it.

A file holds ``recipe``, ``n_entities`` (list), ``max_steps`` (list), ``seeds`` (list, default ``[0]``),
``metrics`` (default cloze, questions, open book) and ``description``.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from benchmarks.studies.protocol import display_path, read_spec, recipe_path
from benchmarks.studies.seeds import Fit, run
from datamodules.base import split_of
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT, atomic_file, atomic_write_text

CALIBRATION_DIR = PROJECT_ROOT / "benchmarks" / "studies" / "calibration"
RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results" / "calibration"
CALIBRATION_METRICS = ("test/cloze_acc", "test/question_acc", "test/open_book_acc")
#: Accuracy of guessing among the 4 options of every tinyworld item.
CHANCE = 0.25


@dataclass(frozen=True)
class Calibration:
    """A calibration grid as its file says.

    Args:
        name: The file's stem.
        source: The file.
        recipe: The recipe every cell runs.
        n_entities: World sizes.
        max_steps: Step budgets.
        seeds: Seeds of every cell.
        metrics: Test metrics plotted.
        description: What the grid is for.
    """

    name: str
    source: Path
    recipe: Path
    n_entities: tuple[int, ...]
    max_steps: tuple[int, ...]
    seeds: tuple[int, ...] = (0,)
    metrics: tuple[str, ...] = CALIBRATION_METRICS
    description: str = ""

    def cells(self) -> list[tuple[int, int, int]]:
        """Every ``(n_entities, max_steps, seed)`` of the grid."""
        return [(n, steps, seed) for n in self.n_entities for steps in self.max_steps for seed in self.seeds]


def _ints(path: Path, key: str, value: Any, low: int = 1) -> tuple[int, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in value)):
        raise ZooError(f"{path}: {key} must be a non-empty list of integers >= {low}, not {value!r}; fix the file")
    return tuple(value)


def load_calibration(name: str) -> Calibration:
    """Read and check a calibration file (a shipped name or a ``.yaml`` path); problems are one ``ZooError`` line.

    Args:
        name: ``dapt-biomed`` or ``./my-grid.yaml``.
    """
    path = Path(name) if name.endswith((".yaml", ".yml")) else CALIBRATION_DIR / f"{name}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in CALIBRATION_DIR.glob("*.yaml")))
        raise ZooError(f"unknown calibration '{name}'; one of {shipped}, or the path of a calibration .yaml")
    spec = read_spec(path, "calibration file")
    known = {"recipe", "n_entities", "max_steps", "seeds", "metrics", "description"}
    if not isinstance(spec, dict) or set(spec) - known or "recipe" not in spec:
        raise ZooError(f"{path}: a calibration file is a mapping with recipe, n_entities, max_steps and optionally "
                       f"seeds, metrics, description; fix the file")
    metrics = spec.get("metrics", list(CALIBRATION_METRICS))
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise ZooError(f"{path}: metrics must be a list of test metric names (test/cloze_acc...), not {metrics!r}; "
                       "fix the file")
    return Calibration(name=path.stem, source=path, recipe=recipe_path(path, "the grid's", spec["recipe"]),
                       n_entities=_ints(path, "n_entities", spec.get("n_entities"), low=4),
                       max_steps=_ints(path, "max_steps", spec.get("max_steps")),
                       seeds=_ints(path, "seeds", spec.get("seeds", [0]), low=0),
                       metrics=tuple(metrics),
                       description=str(spec.get("description", "")).strip())


def statements_per_fact(world, val_fraction: float, test_fraction: float, split_seed: int = 0) -> float:
    """Mean number of training documents that state the fact of a cloze item of ``world``.

    A document states a fact when it names the entity's value as a whole word (the renderer writes values
    verbatim; an attribute a document omits is not named in it).

    Args:
        world: A generated tinyworld.
        val_fraction: The DataModule's validation share of documents.
        test_fraction: Its test share.
        split_seed: Its split seed.
    """
    training: dict[str, list[str]] = {}
    for doc in world.documents:
        if split_of(doc["id"], val_fraction, test_fraction, split_seed) == "train":
            training.setdefault(doc["entity"], []).append(doc["text"])
    counts = [sum(bool(re.search(rf"\b{re.escape(item['answer'])}\b", text)) for text in training.get(item["entity"], []))
              for item in world.cloze]
    return sum(counts) / len(counts)


def exposures(datamodule, steps: int) -> dict[str, float]:
    """How often a fitted run saw its data: ``epochs`` and ``exposures`` per fact (see the module docstring).

    Args:
        datamodule: The run's set-up ``TextCorpusDataModule`` (a tinyworld source).
        steps: Optimiser steps taken.
    """
    rows = len(datamodule.blocks["train"])
    epochs = steps * datamodule.batch_size / rows
    statements = statements_per_fact(datamodule.tinyworld, datamodule.val_fraction, datamodule.test_fraction,
                                     datamodule.split_seed)
    return {"data/epochs": epochs, "data/statements_per_fact": statements, "data/exposures": epochs * statements}


def calibration_runs(calibration: Calibration, fit: Fit) -> list[dict[str, Any]]:
    """Every cell of the grid fitted and tested (cached as study runs): one row per run.

    Args:
        calibration: The grid.
        fit: Fits and tests LightningCLI arguments, returning the test metrics (with the ``data/`` counts of
            :func:`exposures`).
    """
    # The world is a dict argument: the recipe's, with the grid's size, given whole (a dotted key would be a string).
    world = yaml.safe_load(calibration.recipe.read_text(encoding="utf-8"))["data"]["init_args"].get("world", {})
    rows = []
    for n, steps, seed in calibration.cells():
        overrides = ["--trainer.max_steps", str(steps),
                     "--data.init_args.world", json.dumps({**world, "n_entities": n}, sort_keys=True)]
        record = run(calibration.recipe, seed, overrides, fit)
        rows.append({"n_entities": n, "max_steps": steps, "seed": seed, **record})
    return rows


def render_markdown(calibration: Calibration, rows: list[dict[str, Any]], command: str) -> str:
    """The grid as a table: world size, steps, epochs, exposures per fact and each metric, per run."""
    lines = [f"# Calibration: {calibration.name}", "",
             f"Generated by `{command}` from `{display_path(calibration.source)}` (recipe "
             f"`{display_path(calibration.recipe)}`); do not edit by hand.", "", calibration.description, "",
             f"![{calibration.name}](calibration.png)", "",
             "Exposures per fact = epochs x training documents stating the fact (mean over cloze items). "
             f"Chance is {CHANCE} on every accuracy (4 options).", "",
             "| entities | steps | seed | epochs | exposures/fact | " + " | ".join(calibration.metrics) + " |",
             "|---:|---:|---:|---:|---:|" + "---:|" * len(calibration.metrics)]
    for row in rows:
        m = row["metrics"]
        values = " | ".join(f"{m[k]:.3f}" if k in m else "-" for k in calibration.metrics)
        lines.append(f"| {row['n_entities']} | {row['max_steps']} | {row['seed']} | {m['data/epochs']:.1f} | "
                     f"{m['data/exposures']:.0f} | {values} |")
    return "\n".join(lines) + "\n"


def render_png(calibration: Calibration, rows: list[dict[str, Any]], target: Path | BinaryIO) -> None:
    """One panel per metric: accuracy against exposures per fact (log axis), one line per world size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    figure, axes = plt.subplots(1, len(calibration.metrics), figsize=(3.8 * len(calibration.metrics), 3.2),
                                squeeze=False)
    for axis, metric in zip(axes.flat, calibration.metrics):
        for n in calibration.n_entities:
            points = sorted((r["metrics"]["data/exposures"], r["metrics"][metric]) for r in rows
                            if r["n_entities"] == n and metric in r["metrics"])
            axis.plot([x for x, _ in points], [y for _, y in points], "o-", markersize=3.5, label=f"{n} entities")
        axis.axhline(CHANCE, color="#7f7f7f", linestyle=":", linewidth=1, label="chance")
        axis.set_xscale("log")
        # Ticks at the runs' exposures, as plain numbers (a log axis would label its minor ticks over each other).
        axis.set_xticks(sorted({round(r["metrics"]["data/exposures"]) for r in rows}))
        axis.xaxis.set_major_formatter(ticker.ScalarFormatter())
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_xlabel("exposures per fact", fontsize=8)
        axis.set_title(metric, fontsize=8)
        axis.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=6)
    figure.suptitle(f"calibration {calibration.name}: {display_path(calibration.recipe)}", fontsize=8)
    figure.tight_layout()
    figure.savefig(target, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def write_calibration(calibration: Calibration, rows: list[dict[str, Any]], out: Path, command: str) -> str:
    """Write ``calibration.json``, ``calibration.md`` and ``calibration.png`` into ``out``; returns the Markdown."""
    markdown = render_markdown(calibration, rows, command)
    record = {"calibration": calibration.name, "file": display_path(calibration.source),
              "recipe": display_path(calibration.recipe), "command": command, "runs": rows}
    png = io.BytesIO()
    render_png(calibration, rows, png)
    atomic_write_text(out / "calibration.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    with atomic_file(out / "calibration.png", "wb") as handle:
        handle.write(png.getvalue())
    atomic_write_text(out / "calibration.md", markdown)
    return markdown
