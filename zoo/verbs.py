"""The zoo's small verbs: ``list``, ``build``, ``export``, ``world``, ``eval``, ``suites``.

Each verb is a function whose signature and ``Args:`` docstring are its command line (see
``zoo.cli``): positional-only parameters are positional arguments, keyword-only ones options.
Heavy imports happen inside the functions, so building the parser stays cheap.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Literal

from jsonargparse.typing import PositiveInt

from zoo.errors import ZooError
from zoo.paths import PRESETS

#: A build preset: ``full`` (the recipe as written) or ``smoke`` (a few steps, kept apart).
Preset = Literal[PRESETS]


#: How `zoo list` names where an entry that is not built here comes from, by source prefix.
SOURCE_LABELS = {"hf-hub": "hub", "package": "package"}


def list_entries(pattern: str = "*", /) -> int:
    """List registry entries: kind, system, the presets each is built at, and where it comes from.

    Args:
        pattern: Shell pattern of names, e.g. 'adaptllm*'.
    """
    from zoo.paths import checkpoints_dir
    from zoo.registry import entries, list_models
    from zoo.resolve import CARD_FILE

    names = list_models(pattern)
    if not names:
        raise ZooError(f"no model matches '{pattern}'; `zoo list` shows them all")
    rows = []
    for name in names:
        entry = entries()[name]
        built = [preset for preset in PRESETS if (checkpoints_dir(preset) / name / CARD_FILE).is_file()]
        rows.append((name, entry.kind, entry.system, ",".join(built) or ("-" if entry.recipe else SOURCE_LABELS[entry.source.split(":", 1)[0]]),
                     entry.recipe or entry.source))
    header = ("name", "kind", "system", "built", "source")
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    for cells in (header, *rows):
        print("  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths)).rstrip())
    return 0


def build(name: str, /, *, preset: Preset = "full", force: bool = False, resume: bool = False) -> int:
    """Train a registry entry by its recipe (after the entries it depends on), test it, export its folder.

    Args:
        name: Registry name with a recipe, e.g. base-lm-tiny (`zoo list` shows them).
        preset: full (the recipe) or smoke (a few steps, to check the pipeline; kept apart from full builds).
        force: Rebuild even if the folder exists (the entries it depends on are reused).
        resume: Continue the interrupted build's run from its last checkpoint (same recipe) instead of starting over.
    """
    from zoo.builder import build as build_entry

    folder, card = build_entry(name, preset=preset, force=force, resume=resume)
    print(f"checkpoint: {folder}")
    for key, value in sorted(card["metrics"].items()):
        print(f"{key:>24}: {value:.4f}")
    return 0


def _build_dependencies(recipes: list[Path]) -> None:
    """Build the registry entries the recipes continue from, sample from or are taught by, as zoo build does."""
    import yaml

    from zoo.builder import build as build_entry
    from zoo.registry import recipe_dependencies

    for recipe in recipes:
        for dependency in recipe_dependencies(yaml.safe_load(recipe.read_text(encoding="utf-8")), recipe.stem):
            build_entry(dependency)


def study(name: str, /, *, seeds: list[int] | None = None, allow_fewer_seeds: bool = False, out: Path | None = None,
          jobs: PositiveInt = 1, trainer_args: list[str] | None = None) -> int:
    """Run a study: every arm at every seed (runs are cached), then its table, paired differences and figure.

    Writes study.md (each arm's mean and 95 % t-interval over seeds; per claim the paired difference per seed,
    its mean and t-interval, the paired t-test and the sign test; the diagnosis of claims that do not show,
    with diagnosis.md kept), study.json (every run and what produced it) and study.png into
    benchmarks/results/studies/NAME. The split is fixed; a seed sets the initialisation and the data order. An arm
    whose recipe refuses to train (a synthesizer below its quality gate) is reported as blocked, with the reason.

    Args:
        name: A study of benchmarks/studies (adaptllm-biomed, collapse, instruction-pretrain-general...) or the
            path of a study .yaml of your own.
        seeds: Run these seeds instead of the study's (a variant of the study: give it its own --out).
        allow_fewer_seeds: Accept fewer than 5 seeds (a quick look; the table says so).
        out: Folder of the study's files (default: benchmarks/results/studies/NAME).
        jobs: Runs at once, each in a worker process with its share of the cores. A thread count fixes a run's
            floats' last bits; the shipped studies' runs were made at one thread each (--jobs 2 on 2 cores).
        trainer_args: LightningCLI overrides of every run, after a lone -- (a trainer max steps of 600, say; a
            variant of the study: give it its own --out).
    """
    from benchmarks.studies.protocol import RESULTS_DIR, load_study, with_seeds
    from benchmarks.studies.report import write_index, write_study
    from benchmarks.studies.seeds import planned_runs, study_row
    from zoo.builder import test_metrics
    from zoo.workers import Job, Workers

    spec = load_study(name, allow_fewer_seeds=allow_fewer_seeds)
    if seeds is not None:
        spec = with_seeds(spec, seeds)
    if (seeds is not None or trainer_args) and out is None:
        raise ZooError(f"--seeds or overrides after -- make a variant of study {spec.name}, whose folder holds the "
                       "study as its file says; pass --out DIR for the variant's files")
    out = out or RESULTS_DIR / spec.name
    if out.exists() and not out.is_dir():
        raise ZooError(f"--out {out} is a file; pass a folder for the study's files")
    _build_dependencies([recipe for _, recipe, _ in spec.runs])
    runs = planned_runs(spec, trainer_args or [])
    started = time.perf_counter()
    with Workers(jobs) as workers:
        outcomes = workers.run(f"study {spec.name}", [Job((arm, seed), study_row, (arm, recipe, arguments, seed,
                                                                                   test_metrics))
                                                      for arm, recipe, arguments, seed in runs])
    if failures := [outcome for outcome in outcomes.values() if isinstance(outcome, BaseException)]:
        raise failures[0]
    rows = [outcomes[arm, seed] for arm, _, _, seed in runs]
    command = " ".join(["zoo study", name, *(["--seeds", *map(str, seeds)] if seeds is not None else []),
                        *(["--allow-fewer-seeds"] if allow_fewer_seeds else []),
                        *(["--", *trainer_args] if trainer_args else [])])
    print(write_study(spec, rows, out, command, trainer_args or []))
    if out.resolve() == (RESULTS_DIR / spec.name).resolve():
        write_index(RESULTS_DIR)  # the shipped studies' index; a variant's folder elsewhere leaves it alone
    print(f"zoo: study {spec.name}: {len(runs)} runs in {(time.perf_counter() - started) / 60:.1f} min with "
          f"--jobs {jobs} (a cached run is read, not fitted)", file=sys.stderr)
    return 0


def calibrate(name: str, /, *, out: Path | None = None) -> int:
    """Calibrate a world: fit a recipe over a grid of world sizes and step budgets and plot its learning curve.

    Every cell is a study run (cached in ZOO_HOME/runs/studies; fixed split). Writes calibration.md (per run:
    entities, steps, epochs, exposures per fact, cloze/question/open-book accuracy), calibration.json and
    calibration.png (accuracy against exposures per fact, one line per world size) into
    benchmarks/results/calibration/NAME.

    Args:
        name: A grid of benchmarks/studies/calibration (dapt-biomed...) or the path of a grid .yaml of your own.
        out: Folder of the grid's files (default: benchmarks/results/calibration/NAME).
    """
    from benchmarks.calibration import RESULTS_DIR, calibration_runs, exposures, load_calibration, write_calibration
    from zoo.builder import fit_and_test

    grid = load_calibration(name)
    out = out or RESULTS_DIR / grid.name
    if out.exists() and not out.is_dir():
        raise ZooError(f"--out {out} is a file; pass a folder for the calibration's files")
    _build_dependencies([grid.recipe])

    def fit(args: list[str]) -> dict[str, float]:
        cli, metrics = fit_and_test(args)
        return {**metrics, **exposures(cli.datamodule, cli.trainer.global_step)}

    print(write_calibration(grid, calibration_runs(grid, fit), out, f"zoo calibrate {name}"))
    return 0


def export(ckpt: Path, out: Path, /, *, name: str | None = None, force: bool = False) -> int:
    """Export a Lightning .ckpt written by `zoo fit` as a zoo checkpoint folder.

    Args:
        ckpt: The .ckpt file (e.g. .../checkpoints/last.ckpt).
        out: Output folder: new, empty, or a zoo folder to replace (atomically).
        name: Registry name to record in the card.
        force: Replace OUT even if it is a file or a folder that is not a zoo folder.
    """
    from zoo.checkpoint import export_checkpoint

    print(f"exported: {export_checkpoint(ckpt, out, name=name, force=force)}")
    return 0


def world(*, out: Path, domain: str = "general", seed: int = 0, n_entities: PositiveInt = 200) -> int:
    """Write a tinyworld as JSONL files to read.

    Args:
        out: Output folder.
        domain: Tinyworld domain (general, biomed, finance, law).
        seed: Seed of the world.
        n_entities: Entities in the world.
    """
    from datamodules.tinyworld import generate_world

    try:
        generated = generate_world(domain=domain, seed=seed, n_entities=n_entities)
    except ValueError as error:
        raise ZooError(f"{error}; see `zoo world --help`") from None
    for part, path in sorted(generated.write_jsonl(out).items()):
        print(f"{part:>10}: {path}")
    print(f"fingerprint: {generated.fingerprint()}")
    return 0


def evaluate(model: str, /, *, suite: str, limit: PositiveInt | None = None, batch_size: PositiveInt = 64,
             preset: Preset = "full", cache: bool = True) -> int:
    """Evaluate a model on a suite and print an lm-eval style table (rows cached by model identity and suite hash).

    Args:
        model: Registry name, local-dir:/path or hf-hub:org/name.
        suite: Suite name (`zoo suites` lists them).
        limit: Score at most this many documents per task (a quick look; cached apart).
        batch_size: Requests per forward pass.
        preset: Which build of a registry name.
        cache: Serve cached rows; --no-cache recomputes them.
    """
    from benchmarks.harness import evaluate as evaluate_model
    from zoo.console import without_library_progress_bars

    with without_library_progress_bars():
        rows = evaluate_model(model, suite, limit=limit, batch_size=batch_size, preset=preset, use_cache=cache)
    print(format_rows(rows))
    return 0


def format_rows(rows: list[dict]) -> str:
    """An lm-eval style table of result rows.

    Args:
        rows: Result rows of one model on one suite.
    """
    header = ("task", "version", "n-shot", "metric", "value", "", "stderr", "95% CI (bootstrap)", "n")
    lines = [[r["task"], r["task_version"], str(r["n_shot"]), f"{r['metric']} {'↑' if r['higher_is_better'] else '↓'}",
              "—" if r["value"] is None else f"{r['value']:.4f}", "±",
              "—" if r["stderr"] is None else f"{r['stderr']:.4f}",
              "—" if r.get("ci_low") is None else f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}]",
              "—" if r.get("n_items") is None else str(r["n_items"])] for r in rows]
    first = rows[0] if rows else {}
    title = (f"{first.get('model')} on {first.get('suite')} (identity {str(first.get('model_identity'))[:18]}, "
             f"suite {str(first.get('suite_hash'))[:12]})")
    failures = [f"{r['task']}: {r['error']}" for r in rows if r.get("error")]
    return "\n".join([title, text_table(header, lines), *(f"error in {failure}" for failure in failures)])


def text_table(header: tuple[str, ...], lines: list[list[str]]) -> str:
    """A Markdown-style table with padded columns, for the console.

    Args:
        header: The column names.
        lines: The cells of each line.
    """
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]

    def render(cells) -> str:
        return "|" + "|".join(f" {c!s:<{w}} " for c, w in zip(cells, widths)) + "|"

    return "\n".join([render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(render, lines)])


def compare(first: str, second: str, /, *, suite: str, limit: PositiveInt | None = None,
            batch_size: PositiveInt = 64, preset: Preset = "full", cache: bool = True) -> int:
    """Compare two models item by item on a suite: per task, the paired difference with its 95 % paired-bootstrap
    interval and, for accuracy-like metrics, McNemar's exact test (both models are evaluated, or served from the cache).

    Args:
        first: Registry name, local-dir:/path or hf-hub:org/name.
        second: The model to compare it with.
        suite: Suite name (`zoo suites` lists them) or a suite file.
        limit: Score at most this many documents per task (both models the same ones).
        batch_size: Requests per forward pass.
        preset: Which build of registry names.
        cache: Serve cached results; --no-cache recomputes them.
    """
    from benchmarks.compare import compare as compare_models
    from benchmarks.harness import evaluate_with_items
    from zoo.console import without_library_progress_bars

    with without_library_progress_bars():
        first_run, second_run = (evaluate_with_items(model, suite, limit=limit, batch_size=batch_size, preset=preset,
                                                     use_cache=cache) for model in (first, second))
    print(format_comparison(first, second, compare_models(first_run, second_run)))
    return 0


def format_comparison(first: str, second: str, comparisons: list) -> str:
    """The table of ``zoo compare``: per task and metric both values, their paired difference and the tests.

    Args:
        first: The first model's name.
        second: The second's.
        comparisons: ``benchmarks.compare.compare`` of their evaluations.
    """
    from benchmarks.stats import BOOTSTRAP_ITERS, BOOTSTRAP_SEED

    header = ("task", "metric", "n", "first", "second", "first - second [95% CI]", "McNemar p", "better")
    lines = []
    for c in comparisons:
        difference = ("no items" if c.difference is None else
                      f"{c.difference.value:+.4f} [{c.difference.low:+.4f}, {c.difference.high:+.4f}]")
        lines.append([c.task, f"{c.metric} {'↑' if c.higher_is_better else '↓'}", "—" if c.n_items is None else str(c.n_items),
                      "—" if c.first is None else f"{c.first:.4f}", "—" if c.second is None else f"{c.second:.4f}",
                      difference, "—" if c.mcnemar_p is None else f"{c.mcnemar_p:.4f}",
                      {"first": first, "second": second}.get(c.verdict, c.verdict)])
    title = (f"first: {first}, second: {second}; paired over the same items (percentile bootstrap, "
             f"{BOOTSTRAP_ITERS} resamples, seed {BOOTSTRAP_SEED}); 'better' names a model when the interval excludes 0")
    return "\n".join([title, text_table(header, lines)])


def suites(*, pin: str | None = None) -> int:
    """List the benchmark suites with their versions and hashes.

    Args:
        pin: Recompute this suite's data pins and rewrite its file (after a deliberate data change).
    """
    from benchmarks.suites import load_suite, pin as pin_suite, suite_names

    if pin:
        print(f"pinned {pin_suite(pin)}")
        return 0
    for name in suite_names():
        suite = load_suite(name)
        print(f"{name:<20} v{suite.version}  {suite.hash[:12]}  {len(suite.tasks):>2} tasks  {suite.description}")
    return 0


def retrieve(model: str, /, *, query: list[str], pool: str = "tinyworld", k: PositiveInt = 3,
             backend: Literal["exact", "faiss"] = "exact", preset: Preset = "full") -> int:
    """Print the prompts a retriever (UPRISE) picks for each query from a prompt pool, best first.

    Args:
        model: A bi-encoder: registry name (uprise-retriever-tinyworld) or local-dir:/path.
        query: The query texts (several: --query TEXT TEXT ...).
        pool: The prompts: a .txt file (one per line), a .jsonl file (a "text" field per line), or
            tinyworld (the pool of the default tinyworld task clusters).
        k: Prompts per query.
        backend: exact (matrix product + top-k) or faiss (a flat inner-product index).
        preset: Which build of a registry name.
    """
    import json

    import zoo

    prompts = _prompt_pool(pool)
    if k > len(prompts):
        raise ZooError(f"--k={k} is more than the {len(prompts)} prompts of {pool}; lower --k")
    module = zoo.load(model, preset=preset)
    if not hasattr(module, "retrieve"):
        raise ZooError(f"{model} is a {module.kind} model, not a retriever; pass a bi-encoder such as "
                       "uprise-retriever-tinyworld")
    scores, indices = module.retrieve(query, prompts, k, backend)
    for text, row_scores, row in zip(query, scores.tolist(), indices.tolist()):
        print(json.dumps({"query": text, "prompts": [{"score": round(score, 4), "prompt": prompts[i]}
                                                    for score, i in zip(row_scores, row)]}, ensure_ascii=False))
    return 0


def _prompt_pool(pool: str) -> list[str]:
    """The prompts of ``zoo retrieve --pool``."""
    import json

    if pool == "tinyworld":
        from datamodules.retrieval import Clusters

        return [item.demonstration for item in Clusters().pool()]
    path = Path(pool).expanduser()
    if not path.is_file():
        raise ZooError(f"--pool {pool}: no such file; pass a .txt (one prompt per line), a .jsonl with a text "
                       "field, or tinyworld")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        try:
            prompts = [json.loads(line)["text"] for line in lines]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ZooError(f"--pool {pool}: every line must be a JSON object with a text field") from None
    else:
        prompts = lines
    if not prompts:
        raise ZooError(f"--pool {pool} holds no prompts; add one per line")
    return prompts


def ask(model: str, /, *, image: list[Path], question: list[str], preset: Preset = "full") -> int:
    """Answer questions about image files with a vision-LM (AdaMLLM), one JSON line per question.

    Args:
        model: A vision-LM: registry name (adamllm-food-tiny) or local-dir:/path.
        image: Image files (.jpg, .png...); one, or one per question.
        question: The questions (several: --question TEXT TEXT ...).
        preset: Which build of a registry name.
    """
    import json

    import torch

    import zoo
    from datamodules.vision import image_questions, image_transform, open_image

    asked = image_questions(image, question)
    pictures = {path: open_image(path) for path in dict.fromkeys(path for path, _ in asked)}
    module = zoo.load(model, preset=preset)
    if not hasattr(module, "answer"):
        raise ZooError(f"{model} is a {module.kind} model that answers no questions about images; pass a vision-LM "
                       "such as adamllm-food-tiny")
    transform = image_transform(module.image_size)
    pixels = {path: transform(picture) for path, picture in pictures.items()}
    answers = module.answer(torch.stack([pixels[path] for path, _ in asked]), question)
    for (path, text), answer in zip(asked, answers):
        print(json.dumps({"image": str(path), "question": text, "answer": answer}, ensure_ascii=False))
    return 0
