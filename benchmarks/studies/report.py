"""A study's files: ``study.json`` (every run and the paired statistics), ``study.md`` (the tables) and ``study.png``.

The record (:func:`study_record`) is computed once from the runs; the Markdown and the figure are drawn
from it alone, so the leaderboard can draw a study's tables from its ``study.json`` too
(:func:`arms_table`, :func:`differences_table`). The same runs give the same bytes: no dates or paths of
this machine in the Markdown, no metadata in the PNG. A hand-written diagnosis lives in ``diagnosis.md``
beside the generated files; regeneration copies it into ``study.md`` and never writes it.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any, BinaryIO

from benchmarks.studies.paired import NOT_SHOWN, OPPOSITE, SHOWN, compare, higher_is_better, t_interval
from benchmarks.studies.protocol import BASE_ARM, MIN_SEEDS, Study, display_path
from benchmarks.studies.seeds import STUDY_PROTOCOL
from zoo.paths import atomic_file, atomic_write_text

#: The author's diagnosis of the claims that do not show, kept beside the generated files.
DIAGNOSIS_FILE = "diagnosis.md"
#: How the Markdown names the base arm.
BASE_LABEL = "base (starting weights, no training step)"


def study_record(study: Study, rows: list[dict[str, Any]], command: str, overrides: list[str]) -> dict[str, Any]:
    """Everything a study's files show: the study, every run, each arm's mean and interval, every paired comparison.

    Args:
        study: The study.
        rows: Its runs (``benchmarks.studies.seeds.study_row`` of each planned run).
        command: The command line that produced it (``zoo study NAME``).
        overrides: The LightningCLI arguments given on that command line, after the study's own.
    """
    # A list, not a mapping: the arms keep the study's order through JSON's sorted keys.
    arms = [{"arm": arm, "recipe": display_path(recipe), "recipe_sha256": hashlib.sha256(recipe.read_bytes()).hexdigest(),
             "arguments": own} for arm, recipe, own in study.runs]
    values = {spec["arm"]: {metric: {row["seed"]: row["metrics"][metric] for row in rows
                                     if row["arm"] == spec["arm"] and metric in row["metrics"]}
                            for metric in study.metrics} for spec in arms}
    summary = {arm: {metric: dict(zip(("mean", "low", "high"), t_interval(list(by_seed.values()))),
                                  n=len(by_seed))
                     for metric, by_seed in per_metric.items() if len(by_seed) > 1}
               for arm, per_metric in values.items()}
    comparisons = []
    for metric in study.metrics:
        higher = higher_is_better(metric)
        for better, worse in study.comparisons:
            first, second = values[better][metric], values[worse][metric]
            if len(first.keys() & second.keys()) < 2:
                continue  # a metric the runs did not report: no interval to draw
            paired = compare(first, second, higher)
            comparisons.append({
                "better": better, "worse": worse, "metric": metric, "higher_is_better": higher,
                "seeds": list(paired.seeds), "differences": list(paired.differences),
                "mean": paired.interval.value, "low": paired.interval.low, "high": paired.interval.high,
                "p_t": paired.p, "wins": paired.sign.wins, "losses": paired.sign.losses, "ties": paired.sign.ties,
                "p_sign": paired.sign.p, "verdict": paired.verdict})
    return {
        "study": study.name, "file": study.shown_path, "file_sha256": study.file_sha256, "produced_by": command,
        "protocol": STUDY_PROTOCOL, "paper": study.paper, "claim": study.claim, "description": study.description,
        "headline": study.headline, "method": study.method, "baselines": list(study.baselines),
        "contrasts": [list(pair) for pair in study.contrasts], "seeds": list(study.seeds),
        "allow_fewer_seeds": study.allow_fewer_seeds, "metrics": list(study.metrics),
        "overrides": [*study.overrides, *overrides], "arms": arms, "summary": summary, "comparisons": comparisons,
        "runs": rows,
    }


def _arrow(metric: str) -> str:
    return "↑" if higher_is_better(metric) else "↓"


def _label(record: dict[str, Any], arm: str) -> str:
    if arm == BASE_ARM:
        return BASE_LABEL
    return f"{arm} (*method*)" if arm == record["method"] else arm


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def arms_table(record: dict[str, Any]) -> list[str]:
    """Markdown rows: per arm, its recipe, its runs, and per metric the mean over seeds with its 95 % t-interval.

    Args:
        record: A study's record (``study.json``).
    """
    metrics = record["metrics"]
    lines = ["| arm | recipe | seeds | " + " | ".join(f"{m} {_arrow(m)}" for m in metrics) + " |",
             "|---|---|---:|" + "---:|" * len(metrics)]
    for spec in record["arms"]:
        arm = spec["arm"]
        cells = [(f"{s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]" if (s := record["summary"][arm].get(m))
                  else "—") for m in metrics]
        n = max((s["n"] for s in record["summary"][arm].values()), default=0)
        if n == 0 and (reason := blocked_arms(record).get(arm)):
            cells = [f"blocked: {reason}"] + ["—"] * (len(metrics) - 1)
        lines.append(f"| {_label(record, arm)} | `{spec['recipe']}` | {n} | " + " | ".join(cells) + " |")
    return lines


def blocked_arms(record: dict[str, Any]) -> dict[str, str]:
    """Arm -> why its runs did not train (its first blocked run's one-line error), for the arms with a blocked run.

    Args:
        record: A study's record.
    """
    blocked: dict[str, str] = {}
    for row in record["runs"]:
        if row.get("blocked"):
            blocked.setdefault(row["arm"], row["blocked"])
    return blocked


def differences_table(record: dict[str, Any], metric: str) -> list[str]:
    """Markdown rows of one metric: per claimed order, the per-seed differences, their mean, 95 % t-interval,
    the paired t-test's p, the sign test (seeds where the claim holds, of the seeds) and whether the claim shows.

    Args:
        record: A study's record (``study.json``).
        metric: One of its metrics.
    """
    rows = [c for c in record["comparisons"] if c["metric"] == metric]
    if not rows:
        return ["*No two arms report this metric at two common seeds.*"]
    lines = ["| claim | per seed | mean | 95 % interval | paired t p | sign test | shows |",
             "|---|---|---:|---:|---:|---:|---|"]
    shows = {SHOWN: "yes", NOT_SHOWN: "no: the interval contains 0", OPPOSITE: "no: the other way"}
    for c in rows:
        per_seed = " ".join(f"{d:+.3f}" for d in c["differences"])
        sign = f"{c['wins']} of {len(c['seeds'])}" + (f" ({c['ties']} tied)" if c["ties"] else "") + f", p {_p(c['p_sign'])}"
        lines.append(f"| {c['better']} > {c['worse']} | {per_seed} | {c['mean']:+.3f} | "
                     f"[{c['low']:+.3f}, {c['high']:+.3f}] | {_p(c['p_t'])} | {sign} | {shows[c['verdict']]} |")
    return lines


def automatic_diagnosis(comparison: dict[str, Any]) -> str:
    """The sentence a study writes, without a human, for a claim that does not show.

    Args:
        comparison: One of a record's comparisons, whose verdict is not ``shown``.
    """
    n = len(comparison["seeds"])
    if comparison["verdict"] == NOT_SHOWN:
        return f"the interval contains 0: no difference shown at {n} seeds"
    return (f"the interval lies wholly on the other side of 0: {comparison['worse']} is better than "
            f"{comparison['better']} at {n} seeds, against the claim")


def _claims(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Every claimed order ``(better, worse)`` of a record: the method over each baseline, then the contrasts."""
    return [(record["method"], baseline) for baseline in record["baselines"]] + [tuple(c) for c in record["contrasts"]]


def render_markdown(record: dict[str, Any], diagnosis: str | None) -> str:
    """``study.md``: the claim, the arms' means and intervals, the paired differences per metric, the diagnosis.

    Args:
        record: The study's record.
        diagnosis: The hand-written ``diagnosis.md``, if there is one.
    """
    name, headline, n = record["study"], record["headline"], len(record["seeds"])
    overrides = f" Overrides of every run: `{' '.join(record['overrides'])}`." if record["overrides"] else ""
    lines = [f"# Study: {name}", "",
             (f"Generated by `{record['produced_by']}` from `{record['file']}`; do not edit by hand (the hand-written "
              f"diagnosis goes in `{DIAGNOSIS_FILE}` beside this file, which regeneration keeps). Seeds "
              f"{', '.join(map(str, record['seeds']))}: each sets the initialisation and the data order; the split "
              f"is fixed, so every run is tested on the same items.{overrides}")]
    if n < MIN_SEEDS:
        lines += ["", f"**{n} seeds, fewer than the protocol's {MIN_SEEDS}** (`allow_fewer_seeds`): a quick look."]
    lines += ["", *([f"**Paper:** {record['paper']}", ""] if record["paper"] else []),
              f"**Claim:** {record['claim']}", "",
              f"**Headline metric:** `{headline}` ({'higher' if higher_is_better(headline) else 'lower'} is better).",
              "",
              record["description"], "", f"![{name}](study.png)", "",
              "## Arms", "", "Mean over seeds and its 95 % t-interval (Student's t, n − 1 degrees of freedom).", "",
              *arms_table(record), "",
              "## Paired differences", "",
              ("Per seed, the arm claimed better minus the other, on the same test items (a loss or perplexity "
               "difference is better when negative); their mean with its 95 % t-interval over seeds, the paired "
               "t-test's two-sided p, and the sign test: seeds where the claim holds and its exact two-sided p.")]
    for metric in sorted(record["metrics"], key=lambda m: m != headline):
        lines += ["", f"### {metric} {_arrow(metric)}{' (headline)' if metric == headline else ''}", "",
                  *differences_table(record, metric)]
    failing = [c for c in record["comparisons"] if c["metric"] == headline and c["verdict"] != SHOWN]
    blocked = blocked_arms(record)
    untested = [(better, worse) for better, worse in _claims(record) if {better, worse} & set(blocked)]
    lines += ["", "## Diagnosis", ""]
    if untested:
        lines += ["Claims not tested because an arm did not run:", "",
                  *(f"- {better} > {worse}: {arm} is blocked: {blocked[arm]}." for better, worse in untested
                    for arm in (better, worse) if arm in blocked), ""]
    if failing:
        lines += [f"The claims on the headline metric whose direction does not show at {n} seeds:", "",
                  *(f"- {c['better']} > {c['worse']}: {automatic_diagnosis(c)}." for c in failing)]
    elif any(c["metric"] == headline for c in record["comparisons"]):
        lines += [f"Every claim {'tested ' if untested else ''}on the headline metric shows at {n} seeds."]
    if diagnosis and diagnosis.strip():
        lines += ["", "### Hand-written diagnosis", "", diagnosis.strip()]
    elif failing or untested:
        lines += ["", "### Hand-written diagnosis", "",
                  (f"*None yet.* For each claim above, write in `{DIAGNOSIS_FILE}` beside this file why it does not "
                   "show (too few steps? a test that does not ask what the method teaches? a control that explains "
                   "the gain?); regeneration copies that file here.")]
    return "\n".join(lines) + "\n"


def render_png(record: dict[str, Any], target: Path | BinaryIO) -> None:
    """One panel per metric: each arm's per-seed values as dots, its mean and 95 % t-interval as a bar.

    Args:
        record: The study's record.
        target: A PNG file's path, or a binary file object.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics, arms = record["metrics"], [spec["arm"] for spec in record["arms"]]
    cols = min(3, len(metrics))
    rows_n = -(-len(metrics) // cols)
    figure, axes = plt.subplots(rows_n, cols, figsize=(3.8 * cols, 3.4 * rows_n), squeeze=False)
    for axis in axes.flat[len(metrics):]:
        axis.axis("off")
    colors = {arm: "#d62728" if arm == record["method"] else "#7f7f7f" if arm == BASE_ARM else "#1f77b4"
              for arm in arms}
    for axis, metric in zip(axes.flat, metrics):
        shown = []
        for x, arm in enumerate(arms):
            by_seed = sorted((r["seed"], r["metrics"][metric]) for r in record["runs"]
                             if r["arm"] == arm and metric in r["metrics"])
            # Seeds side by side (in seed order) so equal values stay visible as separate dots.
            offsets = [(i - (len(by_seed) - 1) / 2) * 0.08 for i in range(len(by_seed))]
            axis.plot([x + o for o in offsets], [v for _, v in by_seed], "o", markersize=3.5, color=colors[arm],
                      alpha=0.6)
            shown += [v for _, v in by_seed]
            if (s := record["summary"][arm].get(metric)) is not None:
                axis.errorbar([x + 0.3], [s["mean"]], yerr=[[s["mean"] - s["low"]], [s["high"] - s["mean"]]],
                              fmt="_", markersize=10, capsize=3, color=colors[arm])
        if shown and min(shown) > 0 and max(shown) / min(shown) > 100:
            # The untrained base's perplexity dwarfs the trained arms': a log axis keeps both readable.
            axis.set_yscale("log")
        axis.set_xticks(range(len(arms)), arms, rotation=30, ha="right", fontsize=6)
        axis.set_title(f"{metric} {_arrow(metric)}{' (headline)' if metric == record['headline'] else ''}", fontsize=8)
        axis.tick_params(axis="y", labelsize=7)
    figure.suptitle(f"{record['study']}: dots per seed, bar = mean and 95 % t-interval", fontsize=8)
    figure.tight_layout()
    # No timestamp or version in the metadata: the same runs give the same bytes.
    figure.savefig(target, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def write_study(study: Study, rows: list[dict[str, Any]], out: Path, command: str,
                overrides: list[str] | tuple[str, ...] = ()) -> str:
    """Write ``study.json``, ``study.md`` and ``study.png`` into ``out`` (``diagnosis.md`` there is read, never
    written); returns the Markdown.

    Args:
        study: The study.
        rows: Its runs.
        out: The study's results folder.
        command: The command line that produced it.
        overrides: The LightningCLI arguments given on that command line.
    """
    record = study_record(study, rows, command, list(overrides))
    sidecar = out / DIAGNOSIS_FILE
    markdown = render_markdown(record, sidecar.read_text(encoding="utf-8") if sidecar.is_file() else None)
    buffer = io.BytesIO()
    render_png(record, buffer)
    atomic_write_text(out / "study.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    with atomic_file(out / "study.png", "wb") as handle:
        handle.write(buffer.getvalue())
    atomic_write_text(out / "study.md", markdown)
    return markdown


def committed_records(folder: Path) -> dict[str, dict[str, Any]]:
    """Study name -> record of every ``<folder>/<name>/study.json`` of the current protocol.

    Records of an older protocol (a list of runs; a split that moved with the seed) are left out: they are
    not evidence until rerun.
    """
    found = {}
    for path in sorted(folder.glob("*/study.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and record.get("protocol") == STUDY_PROTOCOL:
            found[path.parent.name] = record
    return found


def render_index(folder: Path) -> str:
    """The Markdown of ``<folder>/README.md``: every study of the folder in one table, its headline per claim.

    One row per claimed order on the headline metric (the method over each baseline, then the contrasts):
    the paired difference's mean and 95 % interval over seeds and whether the claim shows; links to the
    study's tables and, where written, its diagnosis. Folders without a current-protocol record are listed
    as to be rerun.
    """
    records = committed_records(folder)
    lines = ["# Studies", "",
             "Generated by `zoo study NAME` from each study's `study.json`; do not edit by hand. Each study runs "
             "every arm at every seed on a fixed split; a row is one claimed order on the study's headline metric: "
             "the paired difference (method − baseline, per seed), its mean and 95 % t-interval, and whether the "
             "claim shows. The tables, figures and diagnoses are in each study's folder.", "",
             "| study | seeds | headline | claim | mean | 95 % interval | shows |", "|---|---:|---|---|---:|---:|---|"]
    shows = {SHOWN: "yes", NOT_SHOWN: "no: the interval contains 0", OPPOSITE: "no: the other way"}
    for name, record in records.items():
        link = f"[{name}]({name}/study.md)" + (f" ([diagnosis]({name}/{DIAGNOSIS_FILE}))"
                                                if (folder / name / DIAGNOSIS_FILE).is_file() else "")
        headline = record["headline"]
        compared = {(c["better"], c["worse"]): c for c in record["comparisons"] if c["metric"] == headline}
        blocked = blocked_arms(record)
        for better, worse in _claims(record):
            cells = ["—", "—", f"blocked: {blocked[better]}" if better in blocked else "no runs to compare"]
            if comparison := compared.get((better, worse)):
                cells = [f"{comparison['mean']:+.3f}", f"[{comparison['low']:+.3f}, {comparison['high']:+.3f}]",
                         shows[comparison["verdict"]]]
            lines.append(f"| {link} | {len(record['seeds'])} | {headline} {_arrow(headline)} | {better} > {worse} | "
                         + " | ".join(cells) + " |")
            link = ""
    older = sorted(path.parent.name for path in folder.glob("*/study.json") if path.parent.name not in records)
    if older:
        lines += ["", "Of an older protocol, not evidence until rerun with `zoo study NAME`: "
                  + ", ".join(f"[{name}]({name}/)" for name in older) + "."]
    return "\n".join(lines) + "\n"


def write_index(folder: Path) -> None:
    """Write ``<folder>/README.md``, the index of the studies there (:func:`render_index`)."""
    atomic_write_text(folder / "README.md", render_index(folder))
