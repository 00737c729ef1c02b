"""The runs of a study: every arm fitted and tested at every seed, each run cached.

Each (arm, seed) run is a fit then a test of the arm's recipe with ``--seed_everything`` and
``--data.init_args.seed`` set to the seed: the initialisation and the order of the data. The split is
never varied (the DataModules' ``split_seed`` stays at its default), so every seed of every arm is
tested on the same documents and items, and what a prior, generator or synthesizer was trained on is
the training split of every seed. Fitting is the app layer's job: the caller passes ``fit``, which runs
LightningCLI arguments as ``zoo fit`` + ``zoo test`` do and returns the test metrics. Runs are cached in
``ZOO_HOME/runs/studies`` by recipe text, seed, overrides and the identities of the builds it starts from, with
what produced them (a run equal to a registry entry's full build is read from its card).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.studies.protocol import Study
from zoo.errors import ZooError
from zoo.hashing import sha256_file
from zoo.paths import PROJECT_ROOT, atomic_write_text, checkpoints_dir, zoo_home
from zoo.registry import entries, recipe_dependencies
from zoo.resolve import CARD_FILE, read_card

#: Fits and tests one run given its LightningCLI arguments; returns the test metrics.
Fit = Callable[[list[str]], dict[str, float]]
#: Bump when what a cached run means changes, so every cached run is redone. 2: the split is fixed and a seed
#: sets the initialisation and data order only (before, the data seed also drew the split). 3: the test also scores
#: open-book questions on documents never trained on (``test/open_book_acc``).
STUDY_PROTOCOL = 3


def built_run(recipe: Path, seed: int, overrides: list[str]) -> dict[str, Any] | None:
    """The run of the zoo build of ``recipe`` when that build is this very run: its metrics and identity.

    A registry entry's full build is its recipe at the recipe's own seeds, so the study's run at
    those seeds with no overrides would repeat it; its card already holds the test metrics. The card
    must record the sha256 of the very recipe file the study runs.

    Args:
        recipe: The run's recipe.
        seed: The run's seed.
        overrides: The run's extra LightningCLI arguments.
    """
    config = yaml.safe_load(recipe.read_text())
    data = config.get("data") or {}
    if isinstance(data, str):  # the shared data config the recipe names (configs/data), relative to the recipe
        data = yaml.safe_load((recipe.parent / data).read_text())
    own_seed = config.get("seed_everything") == seed and (data.get("init_args") or {}).get("seed", 0) == seed
    entry = entries().get(recipe.stem)
    if overrides or not own_seed or entry is None or (PROJECT_ROOT / entry.recipe).resolve() != recipe.resolve():
        return None
    card = read_card(checkpoints_dir() / entry.name) if (checkpoints_dir() / entry.name).is_dir() else None
    # A build of another text of the recipe (made before it changed, or by a version that did not record it) is
    # another run: its metrics must not stand for this one.
    if not card or card.get("preset") != "full" or card.get("recipe_sha256") != sha256_file(recipe):
        return None
    return {"metrics": card["metrics"], "run": f"build:{entry.name}",
            "produced_by": {"identity": card.get("identity"), "versions": card.get("versions")}}


def dependency_identities(recipe: Path) -> dict[str, str | None]:
    """The identity of each registry build ``recipe`` continues from, samples from or is taught by (as its card
    records it; None where it is not built).

    Args:
        recipe: A LightningCLI recipe.
    """
    identities = {}
    for name in recipe_dependencies(yaml.safe_load(recipe.read_text(encoding="utf-8")), recipe.stem):
        folder = checkpoints_dir() / name
        identities[name] = read_card(folder).get("identity") if (folder / CARD_FILE).is_file() else None
    return identities


def run_folder(recipe: Path, seed: int, overrides: list[str]) -> Path:
    """The folder under ``ZOO_HOME/runs/studies`` that caches the run of ``recipe`` at ``seed`` with ``overrides``:
    named by the recipe, the seed and a key of the recipe text, seed, overrides and dependency identities.

    Args:
        recipe: The LightningCLI recipe.
        seed: The run's seed.
        overrides: The run's extra LightningCLI arguments (the study's, then the arm's).
    """
    # A rebuilt base (prior, generator...) makes another run of the same recipe text.
    key = hashlib.sha256(json.dumps([STUDY_PROTOCOL, recipe.read_text(), seed, overrides,
                                     dependency_identities(recipe)]).encode()).hexdigest()[:16]
    return zoo_home() / "runs" / "studies" / f"{recipe.stem}-s{seed}-{key}"


def run(recipe: Path, seed: int, overrides: list[str], fit: Fit) -> dict[str, Any]:
    """One seeded fit and test of ``recipe``: its test ``metrics``, the ``run`` it is cached as and what
    ``produced_by`` it (commit, libraries, machine, date). Cached by recipe text, seed, overrides and the
    identities of the builds it starts from; a run that equals the recipe's zoo build is read from the build's
    card.

    Args:
        recipe: The LightningCLI recipe.
        seed: Seed of the initialisation and the data order (never of the split).
        overrides: Extra LightningCLI arguments of the run.
        fit: Fits and tests LightningCLI arguments, returning the test metrics.
    """
    if (built := built_run(recipe, seed, overrides)) is not None:
        return built
    folder = run_folder(recipe, seed, overrides)
    done = folder / "run.json"
    if done.exists():
        return json.loads(done.read_text())
    metrics = fit(["-c", str(recipe), "--seed_everything", str(seed), "--data.init_args.seed", str(seed),
                   "--trainer.default_root_dir", str(folder), "--trainer.enable_progress_bar", "false", *overrides])
    record = {"metrics": metrics, "run": folder.name, "produced_by": produced_by()}
    atomic_write_text(done, json.dumps(record, indent=1, sort_keys=True))
    return record


def produced_by() -> dict[str, Any]:
    """What a run is made with besides its recipe: the source commit, the libraries, the machine, the date."""
    from benchmarks.harness import git_commit, machine
    from zoo.checkpoint import library_versions

    return {"git_commit": git_commit(), "versions": library_versions(), "machine": machine(),
            "date": dt.date.today().isoformat()}


def planned_runs(study: Study, overrides: list[str] | tuple[str, ...] = ()) -> list[tuple[str, Path, list[str], int]]:
    """Every run of ``study`` as ``(arm, recipe, arguments, seed)``: each arm at every seed, the base arm first; the
    arguments are the study's overrides, then ``overrides``, then the arm's own.

    Args:
        study: The study.
        overrides: LightningCLI arguments of every run after the study's own (``--trainer.max_steps=600``).
    """
    return [(arm, recipe, [*study.overrides, *overrides, *own], seed)
            for arm, recipe, own in study.runs for seed in study.seeds]


def study_row(arm: str, recipe: Path, overrides: list[str], seed: int, fit: Fit) -> dict[str, Any]:
    """The row of one planned run (``run`` with its arm and seed); an arm its own recipe refuses to train (a
    synthesizer below its quality gate, say) is a row reported as blocked, with the reason, beside the arms that
    ran. A blocked run is not cached, so a later study retries it.

    Args:
        arm: The run's arm.
        recipe: The arm's recipe.
        overrides: The run's extra LightningCLI arguments.
        seed: The run's seed.
        fit: Fits and tests LightningCLI arguments, returning the test metrics (the app layer's).
    """
    try:
        return {"arm": arm, "seed": seed, **run(recipe, seed, overrides, fit)}
    except ZooError as error:
        return {"arm": arm, "seed": seed, "metrics": {}, "blocked": str(error)}
