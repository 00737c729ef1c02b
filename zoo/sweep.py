"""The leaderboard sweep: build the registry models that are missing, evaluate them on their suites.

This is the app layer's job over the benchmark harness: it builds (``zoo.builder``), which the
harness never does, and it turns a model that fails to build or evaluate into error rows, so one
failure never crashes the sweep.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from tqdm import tqdm

from benchmarks.contamination import VERSION as CONTAMINATION_VERSION
from benchmarks.harness import error_rows, evaluate_with_items
from benchmarks.suites import load_suite
from zoo.builder import build, record_contamination
from zoo.errors import ZooError
from zoo.profiling import span
from zoo.registry import entries, get_entry, list_models


class Plan(NamedTuple):
    """Which models are evaluated on which suites, and what is left out and why."""

    #: (model, its suites).
    work: list[tuple[str, list[str]]]
    #: (suite, the models it is left out for, the reason).
    skipped: list[tuple[str, tuple[str, ...], str]]


#: Why a real-data suite is left out of a board built without ``ZOO_DATA_DIR``.
NO_DATA_DIR = ("reads the real data sets, and ZOO_DATA_DIR is not set: point it at them (SOURCES.md lists them) "
               "or name the suite with --suites")
#: Why the upstream hub entries are left out of a board built without ``--hub``.
NO_HUB = "upstream hf-hub releases, and recipes that name hub models, need the network: pass --hub"


def plan(pattern: str = "*", suites: list[str] | None = None, include_hub: bool = False) -> Plan:
    """Which models are evaluated on which suites: registry entries matching ``pattern`` with their suites.

    Hub entries join only with ``include_hub`` (they need the network; a package's model needs nothing); suites that read real data join
    only when ``ZOO_DATA_DIR`` is set, unless named in ``suites``. What is left out is said, with the reason.

    Args:
        pattern: Registry names (fnmatch pattern).
        suites: Only these suites (None: each entry's own).
        include_hub: Also the upstream hub entries.
    """
    chosen, left_out = [], {}
    for name in list_models(pattern):
        entry = entries()[name]
        wanted = [s for s in entry.suites if suites is None or s in suites]
        # A package's model (the offline MiniLM) is on this machine; only what names the hub needs the network.
        if entry.needs_hub and not include_hub:
            for suite in wanted:
                left_out.setdefault((suite, NO_HUB), []).append(name)
            continue
        if suites is None and not os.environ.get("ZOO_DATA_DIR"):
            for suite in [s for s in wanted if load_suite(s).real_data]:
                left_out.setdefault((suite, NO_DATA_DIR), []).append(name)
                wanted.remove(suite)
        if wanted:
            chosen.append((name, wanted))
    return Plan(chosen, [(suite, tuple(models), reason) for (suite, reason), models in sorted(left_out.items())])


class SweepResult(NamedTuple):
    """What a board is made of: rows, per-item outcomes, each built model's folder, what was left out."""

    rows: list[dict[str, Any]]
    #: Per (model, suite), the per-item outcomes of each task.
    items: dict[tuple[str, str], dict[str, dict[str, Any]]]
    #: The folder of each built model.
    folders: dict[str, Path]
    skipped: list[tuple[str, tuple[str, ...], str]]


def sweep(pattern: str = "*", suites: list[str] | None = None, preset: str = "full", limit: int | None = None,
          include_hub: bool = False, batch_size: int = 64) -> SweepResult:
    """Build what is missing, evaluate what is not cached; a failing model becomes error rows.

    A model built by an older version, whose card has no contamination report or one of another version,
    gets a current one (``zoo.builder.record_contamination``).

    Args:
        pattern: Registry names (fnmatch pattern).
        suites: Only these suites (None: each entry's own).
        preset: Which builds (``full`` or ``smoke``).
        limit: Documents per task (a quick look).
        include_hub: Also the upstream hub entries.
        batch_size: Requests per forward pass.
    """
    work, skipped = plan(pattern, suites, include_hub)
    if not work:
        raise ZooError(f"no model with suites matches '{pattern}'" + (f" and {suites}" if suites else "")
                       + "; `zoo list` shows the models, benchmarks/suites the suites"
                       + "".join(f"; {suite} is left out: {reason}" for suite, _, reason in skipped))
    for suite, models, reason in skipped:
        print(f"skipping {suite} for {', '.join(models)}: {reason}")
    failed: dict[str, BaseException] = {}
    folders: dict[str, Path] = {}
    for name, _ in tqdm(work, desc="build", unit="model"):
        if get_entry(name).recipe is None:
            continue
        try:
            folder, card = build(name, preset=preset)
            if (card.get("contamination") or {}).get("version") != CONTAMINATION_VERSION:
                with span("build", f"{name} (contamination report)"):
                    record_contamination(name, preset)
            folders[name] = folder
        except Exception as error:  # a model that fails becomes an error row, not a crashed sweep
            failed[name] = error
    rows: list[dict[str, Any]] = []
    items: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    pairs = [(name, suite) for name, names in work for suite in names]
    for name, suite in tqdm(pairs, desc="evaluate", unit="suite"):
        if name in failed:
            rows += error_rows(name, suite, failed[name])
            continue
        try:
            with span("evaluate", f"{name} on {suite}"):
                evaluation = evaluate_with_items(name, suite, limit=limit, batch_size=batch_size, preset=preset)
        except Exception as error:
            rows += error_rows(name, suite, error)
            continue
        rows += evaluation.rows
        items[(name, suite)] = evaluation.items  # registry suites are shipped names, as the rows record them
    return SweepResult(rows, items, folders, skipped)
