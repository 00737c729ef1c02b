"""The leaderboard sweep: build the registry models that are missing, evaluate them on their suites.

This is the app layer's job over the benchmark harness: it builds (``zoo.builder``), which the
harness never does, and it turns a model that fails to build or evaluate into error rows, so one
failure never crashes the sweep.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks.contamination import VERSION as CONTAMINATION_VERSION
from benchmarks.contamination import contamination_report
from benchmarks.harness import error_rows, evaluate_with_items
from benchmarks.suites import load_suite
from zoo.builder import build, record_contamination
from zoo.errors import ZooError
from zoo.profiling import span
from zoo.registry import entries, get_entry, list_models, recipe_dependencies
from zoo.workers import Job, Workers


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
          include_hub: bool = False, batch_size: int = 64, jobs: int = 1) -> SweepResult:
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
        jobs: Builds and evaluations run at once, each in a worker process with its share of the CPU threads
            (``Workers``); 1 runs everything in this process.
    """
    work, skipped = plan(pattern, suites, include_hub)
    if not work:
        raise ZooError(f"no model with suites matches '{pattern}'" + (f" and {suites}" if suites else "")
                       + "; `zoo list` shows the models, benchmarks/suites the suites"
                       + "".join(f"; {suite} is left out: {reason}" for suite, _, reason in skipped))
    for suite, models, reason in skipped:
        print(f"skipping {suite} for {', '.join(models)}: {reason}")
    recipes = [name for name, _ in work if get_entry(name).recipe is not None]
    settings = {"limit": limit, "batch_size": batch_size, "preset": preset}
    # A model's evaluation waits only for its own build and those of the models its suites name (UPRISE's answering
    # LMs), so evaluations fill the time that builds wait for theirs.
    named = {name: _models_named_by(names) for name, names in work}
    todo = _build_jobs(list(dict.fromkeys(recipes + [m for models in named.values() for m in models])), preset)
    todo += [Job(("evaluate", name), _evaluate_model, (name, names, settings),
                 after=tuple(("build", m) for m in ([name] if name in recipes else []) + list(named[name])))
             for name, names in work]
    with Workers(jobs, initializer=_quiet_worker) as workers:
        if workers.jobs > 1:
            # Every build checks its training text against the suites' items: index them once here, before the
            # workers are forked (at the first build), so they start with the index instead of each making its own.
            contamination_report(())
        outcomes = workers.run("build and evaluate", todo)
    rows: list[dict[str, Any]] = []
    items: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for name, names in work:
        for suite in names:
            outcome = outcomes[("evaluate", name)]  # a failed build's error, or each suite's evaluation
            outcome = outcome[suite] if isinstance(outcome, dict) else outcome
            if isinstance(outcome, BaseException):
                rows += error_rows(name, suite, outcome)
                continue
            rows += outcome.rows
            items[(name, suite)] = outcome.items  # registry suites are shipped names, as the rows record them
    folders = {name: outcomes[("build", name)] for name in recipes}
    return SweepResult(rows, items, {name: folder for name, folder in folders.items()
                                     if not isinstance(folder, BaseException)}, skipped)


def _models_named_by(suites: list[str]) -> tuple[str, ...]:
    """The buildable entries the tasks of ``suites`` name in their arguments (the LM that answers UPRISE's
    questions): an evaluation on them needs those built."""
    return recipe_dependencies([task.args for suite in suites for task in load_suite(suite).tasks], own_name="")


def _quiet_worker() -> None:
    """A worker's builds draw no Lightning progress bars: two at once would garble each other (the sweep's own
    bars say what is done)."""
    from zoo import builder

    builder.BUILD_TRAINER = {**builder.BUILD_TRAINER, "enable_progress_bar": False}


def _build_one(name: str, preset: str) -> Path:
    """Build ``name`` (its dependencies built already, or built here first) and bring its card's contamination
    report up to date; returns its folder."""
    folder, card = build(name, preset=preset)
    if (card.get("contamination") or {}).get("version") != CONTAMINATION_VERSION:
        with span("build", f"{name} (contamination report)"):
            record_contamination(name, preset)
    return folder


def _evaluate_model(name: str, suites: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """Each of a model's suites' ``Evaluation``, or the exception that stopped it (the model's other suites go on)."""
    outcomes: dict[str, Any] = {}
    for suite in suites:
        try:
            with span("evaluate", f"{name} on {suite}"):
                outcomes[suite] = evaluate_with_items(name, suite, **settings)
        except Exception as error:  # a suite that fails becomes an error row, not a crashed sweep
            outcomes[suite] = error
    return outcomes


def _build_jobs(names: list[str], preset: str) -> list[Job]:
    """A build job for every entry of ``names`` and everything it continues from, each after its dependencies'
    (keyed ``("build", name)``)."""
    needs: dict[str, tuple[str, ...]] = {}
    stack = list(names)
    while stack:
        if (name := stack.pop()) not in needs:
            needs[name] = tuple(get_entry(name).depends_on)
            stack += needs[name]
    return [Job(("build", name), _build_one, (name, preset), after=tuple(("build", d) for d in needs[name]))
            for name in names + sorted(set(needs) - set(names))]
