"""``zoo build NAME``: train a registry entry by its recipe, test it, export its folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.checkpoint import export_module
from zoo.console import lightning_info_hidden, without_library_progress_bars
from zoo.errors import ZooError
from zoo.lightning_cli import lightning_cli
from zoo.paths import PRESETS, PROJECT_ROOT, atomic_write_text, checkpoints_dir, using_preset, zoo_home
from zoo.registry import get_entry
from zoo.resolve import CARD_FILE, read_card

#: Trainer configs layered on a recipe per preset (``full`` is the recipe as written).
PRESET_CONFIGS = {"full": [], "smoke": ["configs/trainer/smoke.yaml"]}
#: Trainer settings of every build: the build prints its own summary of the model (its card) instead.
BUILD_TRAINER = {"enable_model_summary": False}


def build(name: str, preset: str = "full", force: bool = False, _building: tuple[str, ...] = ()
          ) -> tuple[Path, dict[str, Any]]:
    """Build a zoo entry: build the entries its recipe names first, ``fit`` the recipe, ``test`` it, export the folder.

    Args:
        name: Registry name with a recipe (``zoo list`` shows them).
        preset: ``full`` (the recipe) or ``smoke`` (a few steps, kept in a separate folder).
        force: Rebuild even if the folder exists (the entries it depends on are reused).

    Returns:
        The folder under ``ZOO_HOME`` and its card.
    """
    if preset not in PRESETS:
        raise ZooError(f"preset={preset!r} is not one of {', '.join(PRESETS)}")
    entry = get_entry(name)
    out = checkpoints_dir(preset) / name
    if (out / CARD_FILE).exists() and not force:
        return out, read_card(out)
    configs = [entry.recipe_path, *(PROJECT_ROOT / c for c in PRESET_CONFIGS[preset])]
    args = [arg for config in configs for arg in ("-c", str(config))]
    for dependency in entry.depends_on:
        if dependency in (*_building, name):
            raise ZooError(f"recipes name each other in a circle ({' -> '.join([*_building, name, dependency])}); "
                           "remove one of the names from its recipe")
        build(dependency, preset=preset, _building=(*_building, name))
    run_dir = zoo_home() / "runs" / preset / name
    # The recipe names its base (and any prior or generator) by registry name: a smoke build uses their smoke builds.
    with using_preset(preset):
        cli, metrics = fit_and_test([*args, "--trainer.default_root_dir", str(run_dir)])
        export_module(cli.model, out, name=name, metrics=metrics,
                      extra_card={"preset": preset, "steps": int(cli.trainer.global_step)})
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True))
    return out, read_card(out)


def fit_and_test(args: list[str]):
    """``zoo fit`` then ``zoo test`` of LightningCLI arguments in one process, quietly.

    Args:
        args: LightningCLI arguments (``-c recipe.yaml --trainer.max_steps 600 ...``).

    Returns:
        The CLI (its fitted model and trainer) and the test metrics.
    """
    with lightning_info_hidden(), without_library_progress_bars():
        cli = lightning_cli(args, run=False, trainer_defaults=BUILD_TRAINER)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        results = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    return cli, {key: float(value) for result in results for key, value in result.items()}
