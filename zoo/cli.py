"""The ``zoo`` command: LightningCLI (fit/validate/test/predict) plus the zoo's own verbs.

``zoo fit|validate|test|predict -c configs/<system>/<recipe>.yaml`` is LightningCLI with
``class_path``/``init_args`` configs; the resolved config is saved next to every run and
recorded in its checkpoints. The zoo verbs (``list``, ``build``, ``export``, ``world``) skip
the Lightning import where they can, so they answer quickly.

Bad input never shows a traceback: one line ``zoo: error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from zoo.errors import ZooError

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def _cli_classes():
    """Lightning classes of the CLI (imported on demand: ``import lightning`` takes seconds)."""
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

    from zoo.paths import zoo_home

    class ZooSaveConfig(SaveConfigCallback):
        """Save the resolved config next to the run and hand it to the module for its checkpoints."""

        def setup(self, trainer, pl_module, stage: str) -> None:
            pl_module.zoo_recipe = self.parser.dump(self.config, skip_none=False)
            super().setup(trainer, pl_module, stage)

    class ZooCLI(LightningCLI):
        """LightningCLI with a ``last.ckpt`` checkpoint and runs under ``ZOO_HOME/runs``."""

        def add_arguments_to_parser(self, parser) -> None:
            parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
            # Keep only last.ckpt (resume with --ckpt_path last); best-k selection is not a zoo concept.
            parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                                 "checkpoint.every_n_train_steps": 100, "checkpoint.filename": "step{step}"})

        def before_instantiate_classes(self) -> None:
            config = self.config[self.subcommand] if self.subcommand else self.config
            if config.trainer.default_root_dir is None:
                sources = config.get("config") or []
                run = Path(str(sources[0])).stem if sources else "default"
                config.trainer.default_root_dir = str(zoo_home() / "runs" / run)
            if config.checkpoint.dirpath is None:
                # A fixed folder (not per logger version) is what lets `--ckpt_path last` find the run.
                config.checkpoint.dirpath = str(Path(config.trainer.default_root_dir) / "checkpoints")

    return ZooCLI, ZooSaveConfig


def lightning_cli(args: Sequence[str] | None, run: bool = True):
    """Build the zoo LightningCLI on ``args`` (``run=False``: parse and instantiate only)."""
    from lightning import LightningDataModule, LightningModule

    ZooCLI, ZooSaveConfig = _cli_classes()
    strict = {"exit_on_error": False}
    return ZooCLI(
        LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
        save_config_callback=ZooSaveConfig, save_config_kwargs={"overwrite": True},
        parser_kwargs={**strict, **{name: strict for name in LIGHTNING_SUBCOMMANDS}},
        args=list(args) if args is not None else None, run=run, auto_configure_optimizers=False,
    )


def _argument_error_line(message: str) -> str:
    """jsonargparse explains a bad config over many lines; keep the key and the most specific cause."""
    import re

    lines = [line.strip(" -") for line in str(message).splitlines() if line.strip(" -")]
    key = re.search(r'Parser key "([^"]+)"', message)
    for marker in ("is not accepted", "is not expected", "No action for key", "Unable to load", "does not exist",
                   "Import path", "Problem with given class_path"):
        hits = [line for line in lines if marker in line]
        if hits:
            cause = hits[-1]
            break
    else:
        cause = lines[0] if lines else "invalid arguments"
    where = f"{key.group(1)}: " if key and key.group(1) not in cause else ""
    return f"{where}{cause}; check it against `zoo fit --print_config` or `zoo fit --help`"


def _check_config_files(argv: Sequence[str]) -> None:
    """Name a missing or malformed ``-c`` file before LightningCLI buries it in a long message."""
    import yaml

    for flag, value in zip(argv, argv[1:]):
        if flag not in ("-c", "--config"):
            continue
        path = Path(value)
        if not path.is_file():
            raise ZooError(f"config file not found: {path}; recipes live under configs/ (e.g. configs/base_lm/base-lm-tiny.yaml)")
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ZooError(f"{path}: malformed YAML ({getattr(error, 'problem', None) or 'syntax error'}{where}); "
                           "fix the syntax") from None
        except UnicodeDecodeError:
            raise ZooError(f"{path}: config is not UTF-8 text; re-save it as UTF-8") from None


# ---------------------------------------------------------------------- zoo verbs
def cmd_list(args: argparse.Namespace) -> int:
    from zoo.paths import checkpoints_dir
    from zoo.registry import entries, list_models

    names = list_models(args.pattern)
    if not names:
        raise ZooError(f"no model matches '{args.pattern}'; `zoo list` shows them all")
    width = max(len(n) for n in names)
    print(f"{'name':<{width}}  {'system':<20}  {'built':<5}  source")
    for name in names:
        entry = entries()[name]
        built = "yes" if (checkpoints_dir() / name / "zoo_card.json").exists() else ("-" if entry.recipe else "hub")
        print(f"{name:<{width}}  {entry.system:<20}  {built:<5}  {entry.source if not entry.recipe else entry.recipe}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from zoo.build import build

    folder, card = build(args.name, preset=args.preset, force=args.force)
    print(f"checkpoint: {folder}")
    for key, value in sorted(card["metrics"].items()):
        print(f"{key:>24}: {value:.4f}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from zoo.checkpoint import export_checkpoint

    folder = export_checkpoint(Path(args.ckpt), Path(args.out), name=args.name)
    print(f"exported: {folder}")
    return 0


def cmd_world(args: argparse.Namespace) -> int:
    from datamodules.tinyworld import generate_world

    try:
        world = generate_world(domain=args.domain, seed=args.seed, n_entities=args.n_entities)
    except ValueError as error:
        raise ZooError(str(error)) from None
    for part, path in sorted(world.write_jsonl(Path(args.out)).items()):
        print(f"{part:>10}: {path}")
    print(f"fingerprint: {world.fingerprint()}")
    return 0


def verb_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="lmzoo: train, load and benchmark LM adaptation methods. "
                                     "Lightning subcommands: zoo fit|validate|test|predict -c CONFIG (see zoo fit --help).")
    verbs = parser.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="list registry entries")
    listing.add_argument("pattern", nargs="?", default="*", help="shell pattern, e.g. 'adaptllm*'")
    listing.set_defaults(run=cmd_list)
    building = verbs.add_parser("build", help="train a registry entry by its recipe, test it and export its folder")
    building.add_argument("name", help="registry name, e.g. base-lm-tiny")
    building.add_argument("--preset", choices=("smoke", "full"), default="full",
                          help="smoke: a few steps, to check the pipeline (kept apart from full builds)")
    building.add_argument("--force", action="store_true", help="rebuild even if the folder exists")
    building.set_defaults(run=cmd_build)
    exporting = verbs.add_parser("export", help="export a Lightning .ckpt of a zoo fit as a zoo folder")
    exporting.add_argument("ckpt", help="path of the .ckpt (e.g. .../checkpoints/last.ckpt)")
    exporting.add_argument("out", help="output folder (replaced atomically)")
    exporting.add_argument("--name", default=None, help="registry name to record in the card")
    exporting.set_defaults(run=cmd_export)
    world = verbs.add_parser("world", help="write a tinyworld as JSONL for inspection")
    world.add_argument("--domain", default="general", help="tinyworld domain (general, biomed, ...)")
    world.add_argument("--out", required=True, help="output folder")
    world.add_argument("--seed", type=int, default=0)
    world.add_argument("--n-entities", type=int, default=200)
    world.set_defaults(run=cmd_world)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in LIGHTNING_SUBCOMMANDS:
            _check_config_files(argv)
            try:
                lightning_cli(argv)
            except argparse.ArgumentError as error:
                raise ZooError(_argument_error_line(str(error))) from None
            return 0
        args = verb_parser().parse_args(argv)
        return args.run(args)
    except ZooError as error:
        print(f"zoo: error: {error}", file=sys.stderr)
        return error.exit_code
