"""The leaderboard sweep: build the registry models that are missing, evaluate them on their suites.

This is the app layer's job over the benchmark harness: it builds (``zoo.builder``), which the
harness never does, and it turns a model that fails to build or evaluate into error rows, so one
failure never crashes the sweep.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks.harness import error_rows, evaluate
from benchmarks.suites import load_suite
from zoo.builder import build
from zoo.errors import ZooError
from zoo.registry import entries, get_entry, list_models


def plan(pattern: str = "*", suites: list[str] | None = None, include_hub: bool = False) -> list[tuple[str, list[str]]]:
    """Which models are evaluated on which suites: registry entries matching ``pattern`` with their suites.

    Hub entries join only with ``include_hub`` (they need the network); suites that read real data join
    only when ``ZOO_DATA_DIR`` is set, unless named in ``suites``.

    Args:
        pattern: Registry names (fnmatch pattern).
        suites: Only these suites (None: each entry's own).
        include_hub: Also the upstream hub entries.
    """
    chosen = []
    for name in list_models(pattern):
        entry = entries()[name]
        if entry.recipe is None and not include_hub:
            continue
        wanted = [s for s in entry.suites if suites is None or s in suites]
        if suites is None and not os.environ.get("ZOO_DATA_DIR"):
            wanted = [s for s in wanted if not load_suite(s).real_data]
        if wanted:
            chosen.append((name, wanted))
    return chosen


def sweep(pattern: str = "*", suites: list[str] | None = None, preset: str = "full", limit: int | None = None,
          include_hub: bool = False, batch_size: int = 64) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """Build what is missing, evaluate what is not cached; a failing model becomes error rows.

    Args:
        pattern: Registry names (fnmatch pattern).
        suites: Only these suites (None: each entry's own).
        preset: Which builds (``full`` or ``smoke``).
        limit: Documents per task (a quick look).
        include_hub: Also the upstream hub entries.
        batch_size: Requests per forward pass.

    Returns:
        The rows, and the model-card README of each built model.
    """
    work = plan(pattern, suites, include_hub)
    if not work:
        raise ZooError(f"no model with suites matches '{pattern}'" + (f" and {suites}" if suites else "")
                       + "; `zoo list` shows the models, benchmarks/suites the suites")
    failed: dict[str, BaseException] = {}
    cards: dict[str, Path] = {}
    for name, _ in tqdm(work, desc="build", unit="model"):
        if get_entry(name).recipe is None:
            continue
        try:
            folder, _ = build(name, preset=preset)
            cards[name] = folder / "README.md"
        except Exception as error:  # a model that fails becomes an error row, not a crashed sweep
            failed[name] = error
    rows: list[dict[str, Any]] = []
    pairs = [(name, suite) for name, names in work for suite in names]
    for name, suite in tqdm(pairs, desc="evaluate", unit="suite"):
        if name in failed:
            rows += error_rows(name, suite, failed[name])
            continue
        try:
            rows += evaluate(name, suite, limit=limit, batch_size=batch_size, preset=preset)
        except Exception as error:
            rows += error_rows(name, suite, error)
    return rows, cards
