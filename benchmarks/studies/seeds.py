"""Multi-seed studies: fit and test several recipes over data seeds, report mean and spread.

Each (recipe, seed) run is a fit then a test of the recipe with ``--data.init_args.seed`` and
``--seed_everything`` set to the seed (continued pre-training starts from fixed weights, so the data
seed, which orders and splits the data, is what varies). Fitting is the app layer's job: the caller
passes ``fit``, which runs LightningCLI arguments as ``zoo fit`` + ``zoo test`` do and returns the test
metrics. Runs are cached in ``ZOO_HOME/runs/studies`` by recipe, seed and overrides (a run equal to a
registry entry's full build is read from its card); ``study`` writes the table (Markdown) and the
per-run rows (JSON) to its ``out`` folder.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path
from typing import Callable, Sequence

import yaml
from tqdm import tqdm

from zoo.paths import PROJECT_ROOT, atomic_write_text, checkpoints_dir, zoo_home
from zoo.registry import entries
from zoo.resolve import read_card

#: Fits and tests one run given its LightningCLI arguments; returns the test metrics.
Fit = Callable[[list[str]], dict[str, float]]


def built_metrics(recipe: Path, seed: int, overrides: list[str]) -> dict[str, float] | None:
    """The test metrics of the zoo build of ``recipe`` when that build is this very run.

    A registry entry's full build is its recipe at the recipe's own seeds, so the study's run at
    those seeds with no overrides would repeat it; its card already holds the test metrics.

    Args:
        recipe: The run's recipe.
        seed: The run's seed.
        overrides: The run's extra LightningCLI arguments.
    """
    config = yaml.safe_load(recipe.read_text())
    own_seed = config.get("seed_everything") == seed and config["data"]["init_args"].get("seed", 0) == seed
    entry = entries().get(recipe.stem)
    if overrides or not own_seed or entry is None or (PROJECT_ROOT / entry.recipe).resolve() != recipe.resolve():
        return None
    card = read_card(checkpoints_dir() / entry.name) if (checkpoints_dir() / entry.name).is_dir() else None
    return card["metrics"] if card and card.get("preset") == "full" else None


def run(recipe: Path, seed: int, overrides: list[str], fit: Fit) -> dict[str, float]:
    """Test metrics of one seeded fit of ``recipe`` (cached by recipe text, seed and overrides; a run
    that equals the recipe's zoo build is read from the build's card).

    Args:
        recipe: The LightningCLI recipe.
        seed: Seed of the data (split and order) and of the initialisation.
        overrides: Extra LightningCLI arguments of the run.
        fit: Fits and tests LightningCLI arguments, returning the test metrics.
    """
    if (metrics := built_metrics(recipe, seed, overrides)) is not None:
        return metrics
    key = hashlib.sha256(json.dumps([recipe.read_text(), seed, overrides]).encode()).hexdigest()[:16]
    folder = zoo_home() / "runs" / "studies" / f"{recipe.stem}-s{seed}-{key}"
    done = folder / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    metrics = fit(["-c", str(recipe), "--seed_everything", str(seed), "--data.init_args.seed", str(seed),
                   "--trainer.default_root_dir", str(folder), "--trainer.enable_progress_bar", "false", *overrides])
    atomic_write_text(done, json.dumps(metrics, indent=1, sort_keys=True))
    return metrics


def summarise(rows: list[dict], metrics: list[str]) -> str:
    """Markdown table: recipe x metric, mean ± sample std over seeds."""
    recipes = list(dict.fromkeys(r["recipe"] for r in rows))
    lines = ["| recipe | seeds | " + " | ".join(metrics) + " |", "|---|---:|" + "---:|" * len(metrics)]
    for recipe in recipes:
        runs = [r for r in rows if r["recipe"] == recipe]
        cells = []
        for metric in metrics:
            values = [r["metrics"][metric] for r in runs if metric in r["metrics"]]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f}" if values else "—")
        lines.append(f"| {recipe} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def study(recipes: Sequence[Path], seeds: Sequence[int], out: Path, fit: Fit,
          metrics: Sequence[str] = ("test/cloze_acc", "test/question_acc", "test/ppl"),
          overrides: Sequence[str] = (), base_from: Path | None = None) -> str:
    """Run every recipe at every seed, write ``study.md`` and ``study.json`` into ``out``; returns the table.

    Args:
        recipes: The recipes compared.
        seeds: Their seeds.
        out: Folder of the study's files.
        fit: Fits and tests LightningCLI arguments, returning the test metrics (the app layer's).
        metrics: Test metrics in the table.
        overrides: Extra LightningCLI arguments of every run (``--trainer.max_steps=600``).
        base_from: Also test the starting weights: this recipe with no training step, labelled ``base``.
    """
    # The base runs test the starting weights: the base recipe with no training step.
    runs = [("base (no continued training)", base_from, [*overrides, "--trainer.max_steps", "0"])] if base_from else []
    runs += [(recipe.stem, recipe, list(overrides)) for recipe in recipes]
    pairs = [(label, recipe, extra, seed) for label, recipe, extra in runs for seed in seeds]
    rows = [{"recipe": label, "seed": seed, "metrics": run(recipe, seed, extra, fit)}
            for label, recipe, extra, seed in tqdm(pairs, desc="study", unit="run")]
    table = summarise(rows, list(metrics))
    out.mkdir(parents=True, exist_ok=True)
    given = f" Overrides of every run: `{' '.join(overrides)}`." if overrides else ""
    atomic_write_text(out / "study.md", f"# {out.name}\n\nGenerated by `zoo study` over seeds "
                      f"{list(seeds)}.{given}\n\n{table}")
    atomic_write_text(out / "study.json", json.dumps(rows, indent=1, sort_keys=True) + "\n")
    return table
