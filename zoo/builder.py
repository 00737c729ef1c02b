"""``zoo build NAME``: train a registry entry by its recipe, test it, export its folder.

Every build records in its card the 13-gram contamination of its training text by the suites' test
items (``benchmarks.contamination``); ``record_contamination`` adds it to a folder built before.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from benchmarks.contamination import contamination_report
from zoo.checkpoint import export_module, model_card_markdown, module_class, portable
from zoo.console import lightning_info_hidden, without_library_progress_bars
from zoo.errors import ZooError
from zoo.hashing import sha256_file
from zoo.lightning_cli import lightning_cli
from zoo.paths import PRESETS, PROJECT_ROOT, atomic_write_text, checkpoints_dir, using_preset, zoo_home
from zoo.profiling import add_training, span
from zoo.registry import Entry, get_entry
from zoo.resolve import CARD_FILE, read_card

#: Trainer configs layered on a recipe per preset (``full`` is the recipe as written).
PRESET_CONFIGS = {"full": [], "smoke": ["configs/trainer/smoke.yaml"]}
#: Trainer settings of every build: the build prints its own summary of the model (its card) instead.
BUILD_TRAINER = {"enable_model_summary": False}


def build(name: str, preset: str = "full", force: bool = False, resume: bool = False, _building: tuple[str, ...] = ()
          ) -> tuple[Path, dict[str, Any]]:
    """Build a zoo entry: build the entries its recipe names first, ``fit`` the recipe, ``test`` it, export the folder.

    Args:
        name: Registry name with a recipe (``zoo list`` shows them).
        preset: ``full`` (the recipe) or ``smoke`` (a few steps, kept in a separate folder).
        force: Rebuild even if the folder exists (the entries it depends on are reused).
        resume: Continue the run folder's ``last.ckpt`` (a build that was stopped or failed after saving it)
            instead of clearing it; without one, the build starts over.

    Returns:
        The folder under ``ZOO_HOME`` and its card.
    """
    if preset not in PRESETS:
        raise ZooError(f"preset={preset!r} is not one of {', '.join(PRESETS)}")
    entry = get_entry(name)
    out = checkpoints_dir(preset) / name
    if (out / CARD_FILE).exists() and not force:
        card = read_card(out)
        built_from = card.get("recipe_sha256")
        if built_from and built_from != sha256_file(entry.recipe_path):
            # Reused, never silently: a rebuild can take many minutes and invalidates what was built on it.
            print(f"zoo: note: {name} was built from another text of {entry.recipe}; `zoo build {name} --force` "
                  "rebuilds it from the recipe as it is now", file=sys.stderr)
        elif built_from and preset == "smoke" and card.get("smoke") != entry.smoke:
            print(f"zoo: note: {name} was built with another smoke config than its registry entry's; "
                  f"`zoo build {name} --preset smoke --force` rebuilds it", file=sys.stderr)
        return out, card
    args = preset_args(entry, preset)
    for dependency in entry.depends_on:
        if dependency in (*_building, name):
            raise ZooError(f"recipes name each other in a circle ({' -> '.join([*_building, name, dependency])}); "
                           "remove one of the names from its recipe")
        build(dependency, preset=preset, _building=(*_building, name))
    with span("build", name):  # this entry's own fit, test and export: its dependencies are spans of their own
        return _fit_and_export(entry, preset, args, out, resume)


def preset_args(entry: Entry, preset: str) -> list[str]:
    """The LightningCLI config arguments of ``entry``'s build at ``preset``: its recipe, the preset's trainer
    configs and, for ``smoke``, the entry's own ``smoke`` config (a JSON string: jsonargparse reads a config
    argument that is not a path as the config itself)."""
    configs = [str(entry.recipe_path), *(str(PROJECT_ROOT / c) for c in PRESET_CONFIGS[preset])]
    if preset == "smoke" and entry.smoke:
        configs.append(json.dumps(entry.smoke))
    return [arg for config in configs for arg in ("-c", config)]


def _fit_and_export(entry: Entry, preset: str, args: list[str], out: Path, resume: bool) -> tuple[Path, dict[str, Any]]:
    """:func:`build`'s fit, test and export of ``entry`` into ``out``, once its dependencies are built."""
    name = entry.name
    run_dir = zoo_home() / "runs" / preset / name
    last = run_dir / "checkpoints" / "last.ckpt"
    if not (resume and last.is_file()):
        # A (re)build is a fresh run: Lightning would save it as last-v1.ckpt beside the previous build's last.ckpt,
        # and resuming that folder with ckpt_path=last would read the stale one.
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    # The recipe names its base (and any prior or generator) by registry name: a smoke build uses their smoke builds.
    with using_preset(preset):
        cli, metrics = fit_and_test([*args, "--trainer.default_root_dir", str(run_dir)],
                                    ckpt_path=last if last.is_file() else None)
        # Dependencies are not merged in: each folder records its own training text (the board combines them).
        contamination = contamination_report(cli.datamodule.training_texts())
        export_module(cli.model, out, name=name, metrics=metrics,
                      extra_card={"preset": preset, "steps": int(cli.trainer.global_step),
                                  # Which recipe file it is the build of: a study reuses a build only of this very text.
                                  "recipe_sha256": sha256_file(entry.recipe_path),
                                  **({"smoke": entry.smoke} if preset == "smoke" else {}),
                                  # A float's last bits on CPU depend on it (a parallel sweep's builds use fewer).
                                  "threads": torch.get_num_threads(),
                                  "contamination": contamination})
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True))
    return out, read_card(out)


def record_contamination(name: str, preset: str = "full") -> dict[str, Any]:
    """Add the contamination report to the card of a folder built before builds recorded it; nothing is trained.

    The DataModule is rebuilt from the resolved recipe the card records (what the folder was trained on,
    even if the recipe file has changed since) and must reproduce the card's data fingerprint.
    ``zoo_card.json`` and ``README.md`` are rewritten (each atomically; the card last): they describe
    the folder and are not among its hashed output-shaping files, so its identity stays.

    Args:
        name: Registry name of a built entry.
        preset: Which build (``full`` or ``smoke``).

    Returns:
        The report, as now in the card's ``contamination``.

    Raises:
        ZooError: The entry is not built at ``preset`` (or its card records no recipe), or its recorded
            recipe no longer gives its training data.
    """
    from lightning import LightningDataModule
    from lightning.pytorch.cli import LightningArgumentParser

    if preset not in PRESETS:
        raise ZooError(f"preset={preset!r} is not one of {', '.join(PRESETS)}")
    out = checkpoints_dir(preset) / get_entry(name).name
    card = read_card(out)
    if not (card or {}).get("recipe"):
        raise ZooError(f"{out}: no built folder with a recorded recipe; run `zoo build {name}"
                       f"{'' if preset == 'full' else ' --preset ' + preset} --force`")
    recipe = yaml.safe_load(card["recipe"].replace("$ZOO_HOME", str(zoo_home().resolve())))
    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_lightning_class_args(LightningDataModule, "data", subclass_mode=True)
    with using_preset(preset), lightning_info_hidden(), without_library_progress_bars():
        datamodule = parser.instantiate(parser.parse_object({"data": recipe["data"]})).data
        found = getattr(datamodule, "fingerprint", None)
        if card.get("data_fingerprint") and found != card["data_fingerprint"]:
            raise ZooError(f"{out}: its recorded recipe no longer gives its training data (data fingerprint {found}, "
                           f"card {card['data_fingerprint']}); rebuild it with `zoo build {name} --force`")
        # As export writes it (no local ZOO_HOME path), so the card is the one a build today would write.
        card["contamination"] = portable(contamination_report(datamodule.training_texts()))
    atomic_write_text(out / "README.md", model_card_markdown(card, module_class(card["class_path"], out / CARD_FILE)))
    atomic_write_text(out / CARD_FILE, json.dumps(card, indent=2, sort_keys=True) + "\n")
    return card["contamination"]


def fit_and_test(args: list[str], ckpt_path: Path | None = None):
    """``zoo fit`` then ``zoo test`` of LightningCLI arguments in one process, quietly.

    Args:
        args: LightningCLI arguments (``-c recipe.yaml --trainer.max_steps 600 ...``).
        ckpt_path: Resume the fit from this checkpoint.

    Returns:
        The CLI (its fitted model and trainer) and the test metrics.
    """
    with lightning_info_hidden(), without_library_progress_bars():
        cli = lightning_cli(args, run=False, trainer_defaults=BUILD_TRAINER)
        started = time.perf_counter()
        cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path)
        add_training(time.perf_counter() - started)
        results = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    return cli, {key: float(value) for result in results for key, value in result.items()}


def test_metrics(args: list[str]) -> dict[str, float]:
    """The test metrics of ``fit_and_test(args)``: a study run's outcome (a module-level function, so that a worker
    process can be sent it)."""
    return fit_and_test(args)[1]
