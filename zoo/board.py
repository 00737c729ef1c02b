"""``zoo leaderboard``: sweep the registry (build what is missing, evaluate what is not cached), write the board.

The board is generated, never edited: ``--check`` regenerates it in a temporary folder and
compares it with the committed files byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from jsonargparse.typing import PositiveInt

from zoo.paths import PROJECT_ROOT
from zoo.verbs import Preset

#: Where the committed board lives.
RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"
#: Documents scored per task by a smoke board unless --limit says otherwise: a smoke board checks the pipeline
#: end to end (its models trained a few steps), so its scores mean nothing, and full suites were most of its time.
SMOKE_LIMIT = 16


def leaderboard(*, models: str = "*", suites: list[str] | None = None, preset: Preset = "full",
                out: Path = RESULTS_DIR, limit: PositiveInt | None = None, batch_size: PositiveInt = 64,
                hub: bool = False, check: bool = False, profile: bool = False, jobs: PositiveInt = 1) -> int:
    """Build missing models, evaluate what is not cached, write LEADERBOARD.md, .csv, .json, .png and the model cards.

    Args:
        models: Registry pattern (default: every entry with a recipe).
        suites: Only these suites (default: each model's own).
        preset: Which builds to evaluate (and build when missing); ``smoke`` also scores at most 16 documents
            per task unless ``limit`` is given.
        out: Output folder.
        limit: Score at most this many documents per task.
        batch_size: Requests per forward pass.
        hub: Also the upstream hf-hub entries (needs the network).
        check: Leave OUT as it is (models are still built and evaluated into ZOO_HOME); exit 1 if its files
            differ from a fresh regeneration.
        profile: Print where the time went: seconds per phase (build, evaluate, write) and per model, the
            share spent in training steps, and peak memory.
        jobs: Builds and evaluations at once, each in a worker process with its share of the CPU threads
            (2 on a 2-core machine halves a smoke board's Python-bound work; a build made so can differ in the
            last bits of its floats from one made alone, and its card records its thread count).
    """
    from contextlib import nullcontext

    from zoo.profiling import profiling, report

    if preset == "smoke" and limit is None:
        limit = SMOKE_LIMIT
    with profiling() if profile else nullcontext() as recorded:
        code = _sweep_and_write(models, suites, preset, out, limit, batch_size, hub, check, jobs)
    if recorded is not None:
        print(report(recorded))
    return code


def _sweep_and_write(models: str, suites: list[str] | None, preset: str, out: Path, limit: int | None,
                     batch_size: int, hub: bool, check: bool, jobs: int) -> int:
    """:func:`leaderboard`'s work: the sweep, then the board written to (or checked against) ``out``."""
    import shutil
    import tempfile

    from benchmarks import leaderboard as board
    from zoo.console import without_library_progress_bars
    from zoo.profiling import span
    from zoo.sweep import sweep

    with without_library_progress_bars():
        result = sweep(models, suites, preset=preset, limit=limit, include_hub=hub, batch_size=batch_size, jobs=jobs)
    if check:
        target = Path(tempfile.mkdtemp(prefix="leaderboard-"))
        try:
            names = render(result, target)
            stale = board.differences(out, target, names)
        finally:
            shutil.rmtree(target, ignore_errors=True)
        if stale:
            print(f"leaderboard files differ from a fresh regeneration: {', '.join(stale)}; "
                  f"run `zoo leaderboard --out {out}`")
            return 1
        print(f"leaderboard in {out} is up to date")
        return 0
    with span("write", "board and cards"):
        render(result, out)
    rows = result.rows
    errors = sorted({row["model"] for row in rows if row["metric"] == "error"})
    print(f"{len({row['model'] for row in rows})} models, {len(rows)} rows"
          + (f", errors: {', '.join(errors)}" if errors else "")
          + (f"; skipped: {', '.join(suite for suite, _, _ in result.skipped)} (see LEADERBOARD.md)" if result.skipped else ""))
    print(f"wrote {out}: LEADERBOARD.md, leaderboard.csv, leaderboard.json, figures and {len(result.folders)} model cards")
    return 0


def render(result, target: Path) -> list[str]:
    """Write the board and each model's card into ``target``; returns the names written (relative to it).

    Args:
        result: The sweep (``zoo.sweep.SweepResult``): rows, items, built folders, what was skipped.
        target: The folder.
    """
    from benchmarks import leaderboard as board
    from benchmarks.harness import primary_metrics
    from zoo.paths import atomic_write_text

    written = board.write(board.Board(
        rows=result.rows, primary=primary_metrics(result.rows), items=result.items,
        cards={name: f"cards/{name}.md" for name in result.folders},
        studies=study_points({row["model"] for row in result.rows}), seen=seen_in_training(result.folders),
        skipped=result.skipped, seed_studies=seed_studies()), target)
    for name, folder in result.folders.items():
        atomic_write_text(target / "cards" / f"{name}.md", (Path(folder) / "README.md").read_text(encoding="utf-8"))
    return [*(path.name for path in written), *(f"cards/{name}.md" for name in sorted(result.folders))]


def seed_studies() -> dict[str, tuple[dict, str]]:
    """The committed studies run over seeds (``zoo study NAME``, of the current protocol): each record and the
    folder of its files, relative to the board."""
    from benchmarks.studies.report import committed_records

    return {name: (record, f"studies/{name}") for name, record in committed_records(RESULTS_DIR / "studies").items()}


def seen_in_training(folders: dict[str, Path]) -> dict[str, dict[tuple[str, str], str]]:
    """Per built model, the (suite, task) whose test items occur in its training text or in that of an entry
    it was built from (its recipe's ``depends_on``, transitively), with a note naming whose and how many.

    Args:
        folders: The folder of each built model (the sweep's; dependencies are built before their users).
    """
    from functools import cache

    from benchmarks.contamination import seen_tasks
    from zoo.registry import get_entry
    from zoo.resolve import read_card

    def lineage(name: str) -> list[str]:
        found = [name]
        for dependency in get_entry(name).depends_on:
            found += [n for n in lineage(dependency) if n not in found]
        return found

    @cache
    def seen_by(folder: Path) -> dict[tuple[str, str], str]:
        """A folder's contaminated tasks, its card read once however many models were built from it."""
        report = (read_card(folder) or {}).get("contamination") if folder.is_dir() else None
        return seen_tasks(report or {})

    seen: dict[str, dict[tuple[str, str], str]] = {}
    for name, folder in sorted(folders.items()):
        for source in lineage(name):
            # A dependency the sweep did not list lies beside its users, in the same preset's folder.
            for task, note in sorted(seen_by(folders.get(source) or Path(folder).parent / source).items()):
                seen.setdefault(name, {}).setdefault(task, f"{note} of " + ("this model" if source == name else source))
    return seen


def study_points(models: set[str]) -> dict[str, dict[str, tuple[float, bool]]]:
    """Per registry study, each evaluated model's x and whether it is a method (not a baseline).

    Args:
        models: The models on the board.
    """
    from zoo.registry import entries

    studies: dict[str, dict[str, tuple[float, bool]]] = {}
    for name in sorted(models):
        entry = entries().get(name)
        if entry is not None and entry.study and entry.study_x is not None:
            studies.setdefault(entry.study, {})[name] = (float(entry.study_x), entry.baseline_of is None)
    return studies
