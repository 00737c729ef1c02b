"""Multi-seed studies: fit and test several recipes over data seeds, report mean and spread.

    python -m benchmarks.studies.seeds --recipes configs/adaptllm/adaptllm-biomed-tiny.yaml \\
        configs/adaptllm/dapt-biomed-tiny.yaml --seeds 0 1 2 --out benchmarks/results/studies/adaptllm-biomed

Each (recipe, seed) run is ``zoo fit`` then ``zoo test`` with ``--data.init_args.seed`` and
``--seed_everything`` set to the seed (continued pre-training starts from fixed weights, so the data
seed, which orders and splits the data, is what varies). Runs are cached in ``ZOO_HOME/runs/studies``
by recipe, seed and overrides (a run equal to a registry entry's full build is read from its card);
the table (Markdown) and the per-run rows (JSON) go to ``--out``. Overrides for every run follow ``--``
(``... --out DIR -- --trainer.max_steps=600``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
from pathlib import Path

from zoo.paths import atomic_write_text, zoo_home


def built_metrics(recipe: Path, seed: int, overrides: list[str]) -> dict[str, float] | None:
    """The test metrics of the zoo build of ``recipe`` when that build is this very run.

    A registry entry's full build is its recipe at the recipe's own seeds, so the study's run at
    those seeds with no overrides would repeat it; its card already holds the test metrics.
    """
    import yaml

    from zoo.checkpoint import read_card
    from zoo.paths import PROJECT_ROOT, checkpoints_dir
    from zoo.registry import entries

    config = yaml.safe_load(recipe.read_text())
    own_seed = config.get("seed_everything") == seed and config["data"]["init_args"].get("seed", 0) == seed
    entry = entries().get(recipe.stem)
    if overrides or not own_seed or entry is None or (PROJECT_ROOT / entry.recipe).resolve() != recipe.resolve():
        return None
    card = read_card(checkpoints_dir() / entry.name) if (checkpoints_dir() / entry.name).is_dir() else None
    return card["metrics"] if card and card.get("preset") == "full" else None


def run(recipe: Path, seed: int, overrides: list[str]) -> dict[str, float]:
    """Test metrics of one seeded fit of ``recipe`` (cached by recipe text, seed and overrides; a run
    that equals the recipe's zoo build is read from the build's card)."""
    if (metrics := built_metrics(recipe, seed, overrides)) is not None:
        return metrics
    key = hashlib.sha256(json.dumps([recipe.read_text(), seed, overrides]).encode()).hexdigest()[:16]
    folder = zoo_home() / "runs" / "studies" / f"{recipe.stem}-s{seed}-{key}"
    done = folder / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    from zoo.cli import lightning_cli

    cli = lightning_cli(["-c", str(recipe), "--seed_everything", str(seed), "--data.init_args.seed", str(seed),
                         "--trainer.default_root_dir", str(folder), "--trainer.enable_progress_bar", "false",
                         *overrides], run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    results = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    metrics = {k: float(v) for result in results for k, v in result.items()}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", required=True, type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--metrics", nargs="+", default=["test/cloze_acc", "test/question_acc", "test/ppl"])
    parser.add_argument("--out", type=Path, required=True, help="folder for study.md and study.json")
    parser.add_argument("override", nargs="*", default=[],
                        help="extra zoo CLI overrides for every run, after --: -- --trainer.max_steps=600")
    parser.add_argument("--base-from", type=Path, default=None, metavar="RECIPE",
                        help="also test the starting weights: RECIPE with no training step, labelled 'base'")
    args = parser.parse_args()
    rows = []
    if args.base_from:
        for seed in args.seeds:
            metrics = run(args.base_from, seed, [*args.override, "--trainer.max_steps", "0"])
            rows.append({"recipe": "base (no continued training)", "seed": seed, "metrics": metrics})
    for recipe in args.recipes:
        for seed in args.seeds:
            rows.append({"recipe": recipe.stem, "seed": seed, "metrics": run(recipe, seed, args.override)})
            print(f"{recipe.stem} seed {seed}: " + ", ".join(f"{m}={rows[-1]['metrics'].get(m, float('nan')):.4f}"
                                                          for m in args.metrics), flush=True)
    table = summarise(rows, args.metrics)
    args.out.mkdir(parents=True, exist_ok=True)
    overrides = f" Overrides of every run: `{' '.join(args.override)}`." if args.override else ""
    atomic_write_text(args.out / "study.md", f"# {args.out.name}\n\nGenerated by `python -m benchmarks.studies.seeds`"
                      f" over seeds {args.seeds}.{overrides}\n\n{table}")
    atomic_write_text(args.out / "study.json", json.dumps(rows, indent=1, sort_keys=True) + "\n")
    print(table)


if __name__ == "__main__":
    main()
