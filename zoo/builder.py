"""``zoo build NAME``: train a registry entry by its recipe, test it, export its folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.checkpoint import CARD_FILE, export_module, read_card
from zoo.paths import PROJECT_ROOT, checkpoints_dir, using_preset, zoo_home
from zoo.registry import get_entry

#: Trainer configs layered on a recipe per preset (``full`` is the recipe as written).
PRESET_CONFIGS = {"full": [], "smoke": ["configs/trainer/smoke.yaml"]}


def build(name: str, preset: str = "full", force: bool = False) -> tuple[Path, dict[str, Any]]:
    """Build a zoo entry: ``fit`` its recipe, ``test`` the result, export the folder.

    Args:
        name: Registry name with a recipe (``zoo list`` shows them).
        preset: ``full`` (the recipe) or ``smoke`` (a few steps, kept in a separate folder).
        force: Rebuild even if the folder exists.

    Returns:
        The folder under ``ZOO_HOME`` and its card.
    """
    from zoo.cli import lightning_cli

    entry = get_entry(name)
    out = checkpoints_dir(preset) / name
    if (out / CARD_FILE).exists() and not force:
        return out, read_card(out)
    configs = [entry.recipe_path, *(PROJECT_ROOT / c for c in PRESET_CONFIGS[preset])]
    args = [arg for config in configs for arg in ("-c", str(config))]
    if entry.base:
        build(entry.base, preset=preset)
    run_dir = zoo_home() / "runs" / preset / name
    # The recipe names its base (and any prior or generator) by registry name: a smoke build uses their smoke builds.
    with using_preset(preset):
        cli = lightning_cli([*args, "--trainer.default_root_dir", str(run_dir)], run=False)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        results = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
        metrics = {key: float(value) for result in results for key, value in result.items()}
        export_module(cli.model, out, name=name, metrics=metrics,
                      extra_card={"preset": preset, "steps": int(cli.trainer.global_step)})
    card = read_card(out)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
    return out, card
