"""Result rows -> LEADERBOARD.md, leaderboard.csv, leaderboard.json, leaderboard.png (deterministic).

The Markdown board has one table per suite: its models x its tasks (the suite's first metric of each
task). Each cell shows the value and its 95 % bootstrap interval over items; the models in bold are
the best of the column and those statistically tied with it (the paired-bootstrap interval of their
difference to the best contains 0, on the same items). Multiple-choice columns get two reference
rows, the majority class and chance; a model that answers one option for nearly every item is
marked, and so is a task whose test items the model (or a model it was built from) saw in training.
Suites that were not evaluated are listed with the reason, and so are the machines behind the rows.

A model that failed is an error row; a task that could not be scored (absent data, another model
kind) is listed under Errors with its suite and task. The same inputs always give the same bytes,
so ``--check`` can compare.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from benchmarks.compare import tied_with_best
from benchmarks.stats import bootstrap_interval
from benchmarks.studies.report import arms_table, differences_table
from zoo.paths import atomic_file, cache_dir

FILES = ("LEADERBOARD.md", "leaderboard.csv", "leaderboard.json", "leaderboard.png")
#: A model that gives one option for at least this share of a multiple-choice task's items is marked: its
#: accuracy is that option's share of gold answers, not knowledge.
ONE_ANSWER_SHARE = 0.95
#: Marks of the Markdown cells.
SEEN_MARK, ONE_ANSWER_MARK = "†", "‡"
#: Names of the reference rows of multiple-choice columns.
MAJORITY, CHANCE = "majority class", "chance"

Column = tuple[str, str, str]


@dataclass(frozen=True)
class Board:
    """Everything a board is rendered from.

    Args:
        rows: Result rows (``benchmarks.harness``), of every model and suite.
        primary: The column metric of each (suite, task).
        items: Per (model, suite), the per-item outcomes of each task (``Evaluation.items``); intervals,
            ties, reference rows and one-answer marks need them (without, a column shows the best only).
        cards: Model card link of each model.
        studies: Per study (named like its suite): each model's x and whether it is the study's method.
        seen: Per model, the (suite, task) whose test items its training text (or that of a model it was
            built from) contains, with a note (``benchmarks.contamination``).
        skipped: Suites not evaluated: ``(suite, models, reason)``.
        seed_studies: Per study run over seeds (``zoo study NAME``), its record (``study.json``) and the
            folder of its files relative to the board.
    """

    rows: list[dict[str, Any]]
    primary: dict[tuple[str, str], str]
    items: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)
    studies: dict[str, dict[str, tuple[float, bool]]] = field(default_factory=dict)
    seen: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    skipped: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    seed_studies: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)


def _columns(rows: list[dict[str, Any]], primary: dict[tuple[str, str], str]) -> list[Column]:
    """(suite, task, metric) columns in first-seen order of suites and tasks."""
    seen: dict[Column, None] = {}
    for row in rows:
        if row["metric"] != "error" and primary.get((row["suite"], row["task"])) == row["metric"]:
            seen[(row["suite"], row["task"], row["metric"])] = None
    return list(seen)


def table(rows: list[dict[str, Any]], primary: dict[tuple[str, str], str]):
    """Models, columns, values[model][column] = (value, stderr, ci_low, ci_high), directions[column], errors[model]."""
    columns = _columns(rows, primary)
    models = sorted({row["model"] for row in rows})
    values: dict[str, dict[Column, tuple]] = {m: {} for m in models}
    higher: dict[Column, bool] = {}
    errors: dict[str, list[str]] = {m: [] for m in models}
    for row in rows:
        key = (row["suite"], row["task"], row["metric"])
        if row["metric"] == "error":
            # A whole-suite failure (task "*") names the suite, a task's own failure names the task too.
            where = row["suite"] if row["task"] in (None, "*") else f"{row['suite']}/{_short(row['task'], row['suite'])}"
            errors[row["model"]].append(f"{where}: {row['error']}")
        elif key in columns:
            values[row["model"]][key] = (row["value"], row["stderr"], row.get("ci_low"), row.get("ci_high"))
            higher[key] = bool(row["higher_is_better"])
    return models, columns, values, higher, errors


def _best(values, models, column, higher_is_better: bool):
    scored = [values[m][column][0] for m in models if column in values[m] and values[m][column][0] is not None]
    if not scored:
        return None
    return max(scored) if higher_is_better else min(scored)


def _short(task: str, suite: str = "") -> str:
    """Task name without the zoo prefix and without the suite's name when it repeats it."""
    return task.removeprefix("zoo_").removeprefix(suite.replace("-", "_") + "_")


def _number(value: float, decimals: int = 4) -> str:
    """A cell's number: fixed decimals, or three significant digits for the perplexities of unseen worlds."""
    return f"{value:.{decimals}f}" if abs(value) < 1e5 else f"{value:.3e}"


def _column_items(board: Board, models: list[str], column: Column) -> dict[str, dict[str, Any]]:
    """The items of a column's task per model that has them (models on the same suite share its documents)."""
    suite, task, _ = column
    return {model: board.items[(model, suite)][task] for model in models
            if task in board.items.get((model, suite), {})}


def ties(board: Board, models: list[str], column: Column, values, higher_is_better: bool) -> set[str]:
    """The models in bold: the best and those tied with it (paired bootstrap on the same items); the best
    alone when some scored model has no items to pair (an evaluator task)."""
    scored = [m for m in models if values[m].get(column, (None,))[0] is not None]
    items = _column_items(board, scored, column)
    hashes = {tuple(entry["doc_hash"]) for entry in items.values()}
    if scored and set(items) == set(scored) and len(hashes) == 1:
        return tied_with_best({m: entry["outcomes"][column[2]] for m, entry in items.items()}, column[2],
                              higher_is_better)
    best = _best(values, models, column, higher_is_better)
    return {m for m in scored if values[m][column][0] == best}


def reference_rows(board: Board, models: list[str], column: Column) -> dict[str, tuple[float, float | None, float | None]]:
    """The majority-class and chance rows of a multiple-choice column: (value, ci_low, ci_high).

    Majority class always answers the option index most often gold among the test items (its interval
    is a bootstrap over items); chance answers uniformly at random (its expected accuracy, exact).
    """
    items = _column_items(board, models, column)
    entry = items[min(items)] if items else {}
    if "gold" not in entry or not all(isinstance(gold, int) for gold in entry["gold"]):
        return {}
    most_common = Counter(entry["gold"]).most_common(1)[0][0]
    majority = bootstrap_interval(column[2], [float(gold == most_common) for gold in entry["gold"]])
    chance = sum(1 / n for n in entry["n_choices"]) / len(entry["n_choices"])
    return {MAJORITY: (majority.value, majority.low, majority.high), CHANCE: (chance, None, None)}


def one_answer(board: Board, model: str, column: Column) -> tuple[int, float] | None:
    """(option, share) when the model gives one option for at least ``ONE_ANSWER_SHARE`` of the items."""
    entry = board.items.get((model, column[0]), {}).get(column[1], {})
    if not entry.get("pred"):
        return None
    option, count = Counter(entry["pred"]).most_common(1)[0]
    share = count / len(entry["pred"])
    return (option, share) if share >= ONE_ANSWER_SHARE else None


@dataclass(frozen=True)
class ColumnFacts:
    """What a column shows besides its values: who is in bold, its reference rows, its marks."""

    tied: set[str]
    references: dict[str, tuple[float, float | None, float | None]]
    one_answer: dict[str, tuple[int, float]]
    seen: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {"tied_with_best": sorted(self.tied),
                "references": {name: dict(zip(("value", "ci_low", "ci_high"), ref)) for name, ref in self.references.items()},
                "one_answer": {model: {"option": option, "share": share} for model, (option, share) in self.one_answer.items()},
                "seen_in_training": self.seen}


def column_facts(board: Board) -> dict[Column, ColumnFacts]:
    """The facts of every column of the board (computed once: the Markdown and the JSON show the same)."""
    models, columns, values, higher, _ = table(board.rows, board.primary)
    facts = {}
    for column in columns:
        present = [m for m in models if column in values[m]]
        facts[column] = ColumnFacts(
            tied=ties(board, present, column, values, higher[column]),
            references=reference_rows(board, present, column),
            one_answer={m: found for m in present if (found := one_answer(board, m, column)) is not None},
            seen={m: board.seen[m][column[:2]] for m in present if column[:2] in board.seen.get(m, {})})
    return facts


def _value_and_interval(cell: tuple | None) -> tuple:
    """(value, ci_low, ci_high) of a ``table`` cell; Nones for an empty one."""
    return (None, None, None) if cell is None else (cell[0], cell[2], cell[3])


def _cell(value, low, high, bold: bool = False, marks: str = "") -> str:
    if value is None:
        return "—"
    text = f"**{_number(value)}**" if bold else _number(value)
    interval = "" if low is None or high is None else f"<br><sub>{_number(low, 3)}–{_number(high, 3)}</sub>"
    return text + marks + interval


def _header(columns: list[Column], higher: dict[Column, bool]) -> list[str]:
    return ["| model | " + " | ".join(f"{_short(t, s)}<br>{m} {'↑' if higher.get((s, t, m), True) else '↓'}"
                                     for s, t, m in columns) + " |", "|---|" + "---:|" * len(columns)]


def render_markdown(board: Board, facts: dict[Column, ColumnFacts]) -> str:
    """The Markdown leaderboard: a table per suite, the studies, the marks, what was skipped, the machines, the errors."""
    models, columns, values, higher, errors = table(board.rows, board.primary)
    lines = ["# lmzoo leaderboard", "",
             "Generated by `zoo leaderboard` from cached result rows; do not edit by hand. Each cell: the value "
             "and, below it, its 95 % bootstrap interval over the task's items. **Bold**: the best of the column and "
             "every model statistically tied with it (the 95 % paired-bootstrap interval of its difference to the "
             "best, on the same items, contains 0; `zoo compare A B --suite S` prints the paired test). "
             f"{SEEN_MARK}: the task's test items occur in the training text of the model or of a model it was built "
             f"from (13-gram check, see its card). {ONE_ANSWER_MARK}: the model gives one option for "
             f"≥{ONE_ANSWER_SHARE:.0%} of the items. *Italic* rows are references: the majority class (always the "
             "option index most often correct) and chance. Rows carry the model's identity, suite hash, versions, "
             "commit and machine in `leaderboard.json`."]
    notes: list[str] = []
    for suite in dict.fromkeys(c[0] for c in columns):
        shown = [c for c in columns if c[0] == suite]
        present = [m for m in models if any(c in values[m] for c in shown)]
        lines += ["", f"## {suite}", "", *_header(shown, higher)]
        for model in present:
            cells = []
            for column in shown:
                fact, where = facts[column], f"{model}, {suite}/{_short(column[1], suite)}"
                marks = (SEEN_MARK if model in fact.seen else "") + (ONE_ANSWER_MARK if model in fact.one_answer else "")
                if model in fact.seen:
                    notes.append(f"{SEEN_MARK} {where}: {fact.seen[model]}")
                if model in fact.one_answer:
                    option, share = fact.one_answer[model]
                    notes.append(f"{ONE_ANSWER_MARK} {where}: option {option} for {share:.1%} of the items")
                cells.append(_cell(*_value_and_interval(values[model].get(column)), model in fact.tied, marks))
            name = f"[{model}]({board.cards[model]})" if model in board.cards else model
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for reference in (MAJORITY, CHANCE):
            if any(reference in facts[c].references for c in shown):
                lines.append(f"| *{reference}* | " + " | ".join(
                    _cell(*facts[c].references.get(reference, (None, None, None))) for c in shown) + " |")
    for study, points in sorted(board.studies.items()):
        lines += ["", f"## Study: {study}", "", f"![{study}](study-{study}.png)", "",
                  f"Models of the `{study}` suite by their place on the study's axis (registry `study_x`; "
                  "the collapse study: synthetic share); the study's methods are marked *method*. Single builds "
                  "(one seed each): read the intervals before the order.", ""]
        shown = [c for c in columns if c[0] == study]
        lines += ["| model | x | " + " | ".join(f"{_short(t, s)} {m} {'↑' if higher[(s, t, m)] else '↓'}"
                                                 for s, t, m in shown) + " |", "|---|---:|" + "---:|" * len(shown)]
        for model, (x, is_method) in sorted(points.items(), key=lambda item: (item[1][0], item[1][1], item[0])):
            cells = [_cell(*_value_and_interval(values[model].get(c))) for c in shown]
            label = f"{model} (*method*)" if is_method else model
            lines.append(f"| {label} | {x:g} | " + " | ".join(cells) + " |")
    for study, (record, folder) in sorted(board.seed_studies.items()):
        lines += ["", f"## Study over {len(record['seeds'])} seeds: {study}", "",
                  f"{record['claim']} Every arm at every seed, a fixed split; paired differences per seed with their "
                  f"95 % t-interval ([table]({folder}/study.md), [figure]({folder}/study.png)). The tables above are "
                  "single builds (one seed each).", "", *arms_table(record), "", *differences_table(record, record["headline"])]
    if notes:
        lines += ["", "## Marks", "", *(f"- {note}" for note in notes)]
    if board.skipped:
        lines += ["", "## Skipped", ""] + [f"- {suite} ({', '.join(models_)}): {reason}"
                                           for suite, models_, reason in board.skipped]
    machines = Counter(_machine(row) for row in board.rows if row["metric"] != "error")
    if machines:
        lines += ["", "## Machines", ""] + [f"- {machine}: {count} rows" for machine, count in sorted(machines.items())]
    failed = [(m, e) for m in models for e in errors[m]]
    if failed:
        lines += ["", "## Errors", ""] + [f"- {m}: {e}" for m, e in failed]
    return "\n".join(lines) + "\n"


def _machine(row: dict[str, Any]) -> str:
    """What ran a row, in one line (rows from older harness versions lack some fields)."""
    parts = [row.get("cpu"), row.get("isa"), row.get("math_kernels"),
             f"{row['threads']} threads" if row.get("threads") else None, row.get("device"), row.get("dtype")]
    return ", ".join(str(part) for part in parts if part) or "unrecorded"


def render_csv(board: Board) -> str:
    """Plain numbers: one line per model, one column per (suite, task, metric), an error column."""
    models, columns, values, _, errors = table(board.rows, board.primary)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["model", *[f"{s}/{_short(t, s)}/{m}" for s, t, m in columns], "errors"])
    for model in models:
        cells = [values[model].get(c, (None, None))[0] for c in columns]
        writer.writerow([model, *["" if v is None else repr(float(v)) for v in cells], "; ".join(errors[model])])
    return out.getvalue()


def render_png(board: Board, target: Path | BinaryIO) -> None:
    """One panel per column, one bar per model (with its 95 % interval), best bar highlighted.

    Args:
        board: What the board is rendered from.
        target: A PNG file's path, or a binary file object.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, columns, values, higher, _ = table(board.rows, board.primary)
    if not columns:
        columns_shown, n = [], 1
    else:
        columns_shown, n = columns, len(columns)
    cols = min(4, n)
    rows_n = (n + cols - 1) // cols
    figure, axes = plt.subplots(rows_n, cols, figsize=(3.6 * cols, 0.5 + (1.2 + 0.32 * len(models)) * rows_n),
                                squeeze=False)
    for axis in axes.flat[len(columns_shown):]:
        axis.axis("off")
    for axis, column in zip(axes.flat, columns_shown):
        suite, task, metric = column
        shown = [m for m in models if values[m].get(column, (None,))[0] is not None]
        scores = [values[m][column][0] for m in shown]
        # Bootstrap intervals are not symmetric (perplexities): each side is drawn as it is.
        errs = [[0.0 if values[m][column][2] is None else values[m][column][0] - values[m][column][2] for m in shown],
                [0.0 if values[m][column][3] is None else values[m][column][3] - values[m][column][0] for m in shown]]
        best = _best(values, models, column, higher[column])
        colors = ["#1f77b4" if s == best else "#aec7e8" for s in scores]
        axis.barh(range(len(shown)), scores, xerr=errs, color=colors)
        for y, score in enumerate(scores):
            axis.text(score, y, f" {score:.3f}", va="center", fontsize=6)
        if scores and min(scores) > 0 and max(scores) / min(scores) > 100:
            # Perplexities of unseen worlds dwarf the rest: a log axis keeps every bar readable.
            axis.set_xscale("log")
        axis.set_yticks(range(len(shown)), shown, fontsize=7)
        axis.invert_yaxis()
        axis.set_title(f"{suite}\n{_short(task, suite)} {metric} {'↑' if higher[column] else '↓'}", fontsize=8)
        axis.tick_params(axis="x", labelsize=7)
    figure.tight_layout()
    # No timestamp or version in the metadata: the same rows give the same bytes.
    figure.savefig(target, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def render_study_png(board: Board, study: str, points: dict[str, tuple[float, bool]],
                     target: Path | BinaryIO) -> None:
    """One panel per column of the study's suite: baselines as a curve over x, methods as stars.

    Args:
        board: What the board is rendered from.
        study: The study (named like its suite).
        points: Each model's x and whether it is the study's method.
        target: A PNG file's path, or a binary file object.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, columns, values, higher, _ = table(board.rows, board.primary)
    shown = [c for c in columns if c[0] == study] or [(study, "", "")]
    cols = min(3, len(shown))
    figure, axes = plt.subplots((len(shown) + cols - 1) // cols, cols, figsize=(3.6 * cols, 2.8 * ((len(shown) + cols - 1) // cols)),
                                squeeze=False)
    for axis in axes.flat[len(shown):]:
        axis.axis("off")
    for axis, column in zip(axes.flat, shown):
        scored = {m: (x, method, values[m][column][0]) for m, (x, method) in points.items()
                  if column in values[m] and values[m][column][0] is not None}
        curve = sorted((x, v) for x, method, v in scored.values() if not method)
        if curve:
            axis.plot([x for x, _ in curve], [v for _, v in curve], "o-", color="#1f77b4", label="baselines")
        for model, (x, method, value) in sorted(scored.items()):
            if method:
                axis.plot([x], [value], "*", markersize=12, color="#d62728", label=model)
        axis.set_title(f"{_short(column[1], study)} {column[2]} {'↑' if higher.get(column, True) else '↓'}", fontsize=8)
        axis.set_xlabel("x (registry study_x)", fontsize=7)
        axis.tick_params(labelsize=7)
        if scored:
            axis.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(target, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def _png(render, drawn_from: bytes) -> bytes:
    """The bytes of a figure that ``render`` draws into a binary file object.

    Drawing the board's figure takes seconds (a panel per column), most of a board regenerated from its results
    cache; so the bytes are kept under ``ZOO_HOME`` by what they are drawn from (``drawn_from``), this module's
    source and matplotlib's version, and the same figure is never drawn twice.
    """
    import hashlib

    import matplotlib

    key = hashlib.sha256(b"\0".join([drawn_from, Path(__file__).read_bytes(), matplotlib.__version__.encode()]))
    cached = cache_dir("figures") / f"{key.hexdigest()}.png"
    if cached.is_file():
        return cached.read_bytes()
    buffer = io.BytesIO()
    render(buffer)
    with atomic_file(cached, "wb") as handle:
        handle.write(buffer.getvalue())
    return buffer.getvalue()


def write(board: Board, out: Path) -> list[Path]:
    """Write the four files, and a figure per study, into ``out``; rows are sorted first.

    Everything is rendered before anything is written, and each file is written atomically: a figure
    that cannot be drawn or an ``out`` that cannot be written leaves the folder as it was, and no file
    is ever half-written.

    Args:
        board: What the board is rendered from.
        out: Output folder (made if absent).

    Raises:
        ZooError: ``out`` is a file, is under a file, or is read-only (``zoo.paths.atomic_file`` names it).
    """
    out = Path(out)
    rows = sorted(board.rows, key=lambda r: (r["model"], r["suite"] or "", r["task"] or "", r["metric"]))
    board = replace(board, rows=rows, skipped=sorted(board.skipped))
    facts = column_facts(board)
    summary = {"rows": rows, "skipped": [{"suite": suite, "models": list(models), "reason": reason}
                                         for suite, models, reason in board.skipped],
               "columns": [{"suite": s, "task": t, "metric": m, **fact.as_json()} for (s, t, m), fact in facts.items()]}
    contents = {
        "LEADERBOARD.md": render_markdown(board, facts).encode(),
        "leaderboard.csv": render_csv(board).encode(),
        "leaderboard.json": (json.dumps(summary, indent=1, sort_keys=True) + "\n").encode(),
    }
    # The three texts hold everything the figures show (rows, intervals, ties, studies).
    texts = b"\0".join(contents.values())
    contents["leaderboard.png"] = _png(lambda target: render_png(board, target), texts)
    for study, points in sorted(board.studies.items()):
        contents[f"study-{study}.png"] = _png(partial(render_study_png, board, study, points),
                                              texts + json.dumps([study, points], sort_keys=True).encode())
    for name, content in contents.items():
        with atomic_file(out / name, "wb") as handle:
            handle.write(content)
    return [out / name for name in contents]


def differences(expected_dir: Path, actual_dir: Path, names: Iterable[str]) -> list[str]:
    """Files that differ between two folders (missing counts as different)."""
    return [name for name in names
            if not (expected_dir / name).exists() or not (actual_dir / name).exists()
            or (expected_dir / name).read_bytes() != (actual_dir / name).read_bytes()]
