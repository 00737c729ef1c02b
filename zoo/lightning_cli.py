"""The zoo's LightningCLI: ``zoo fit|validate|test|predict``, and the runs that ``zoo build`` and ``zoo synth`` start.

``zoo fit|validate|test|predict -c configs/<system>/<recipe>.yaml`` is LightningCLI with
``class_path``/``init_args`` configs; the resolved config is saved next to every run and
recorded in its checkpoints. Lightning is imported only when a run starts (it takes seconds),
so importing this module is cheap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from zoo.errors import ZooError

SUBCOMMANDS = ("fit", "validate", "test", "predict")
#: Set to 1 to let ``--weights_only false`` unpickle a checkpoint you made yourself (it can run any code).
TRUST_PICKLE = "ZOO_TRUST_PICKLE"


def check_lightning_checkpoint(path: Path) -> None:
    """Refuse a ``--ckpt_path`` that is missing or not a Lightning checkpoint, before Lightning reads it
    (a safe load: tensors and plain containers only, memory-mapped so a large file costs little)."""
    import pickle

    import torch

    fix = "pass a .ckpt that `zoo fit` wrote (e.g. .../checkpoints/last.ckpt) or `last`"
    if not path.is_file():
        raise ZooError(f"--ckpt_path {path}: no such checkpoint file; {fix}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:
        raise ZooError(f"--ckpt_path {path}: checkpoint refused: it holds objects a safe load does not unpickle "
                       f"({str(error).splitlines()[0][:120]}); {fix}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise ZooError(f"--ckpt_path {path}: not a readable checkpoint ({type(error).__name__}); {fix}") from None
    if not isinstance(checkpoint, dict) or not {"state_dict", "global_step"} <= set(checkpoint):
        raise ZooError(f"--ckpt_path {path}: a torch file but not a Lightning checkpoint (no state_dict); {fix}")


def check_ckpt_path(config) -> None:
    """Refuse a ``--ckpt_path`` that is remote, names a checkpoint zoo runs never keep, or is not a
    Lightning checkpoint file: before Lightning reads it (its CLI reads a given file's hyper-parameters
    while parsing).

    Args:
        config: The subcommand's parsed config.
    """
    ckpt_path = config.get("ckpt_path")
    if ckpt_path is None or ckpt_path == "last":
        return
    if "://" in str(ckpt_path):
        raise ZooError(f"--ckpt_path {ckpt_path}: remote checkpoints are refused (Lightning would unpickle it, and a "
                       "pickle can run any code); download it, check where it comes from, and pass the local file")
    if ckpt_path in ("best", "hpc", "registry"):
        raise ZooError(f"--ckpt_path {ckpt_path}: zoo runs keep only last.ckpt; pass `last` or a .ckpt file")
    check_lightning_checkpoint(Path(ckpt_path))


def check_run_arguments(config, subcommand: str) -> None:
    """Refuse what would unpickle a checkpoint the user did not make, and runs that would do nothing.

    Lightning unpickles with ``weights_only=False`` when asked to, so every load is
    ``weights_only=True`` unless the user sets both ``--weights_only false`` and ``ZOO_TRUST_PICKLE=1``.

    Args:
        config: The subcommand's parsed config (``ckpt_path``, ``weights_only``, ``trainer``, ``checkpoint``).
        subcommand: ``fit``, ``validate``, ``test`` or ``predict``.
    """
    if config.get("weights_only") is False and os.environ.get(TRUST_PICKLE) != "1":
        raise ZooError(f"--weights_only false unpickles the checkpoint, which can run any code; only for a checkpoint "
                       f"you made yourself: set {TRUST_PICKLE}=1 as well")
    if config.get("weights_only") is None:
        config.weights_only = True
    if config.get("ckpt_path") == "last":
        last = Path(config.checkpoint.dirpath) / "last.ckpt"
        if not last.is_file():
            # Lightning would only warn, then train from scratch or evaluate random weights.
            raise ZooError(f"--ckpt_path last: no earlier run in {last.parent} (no last.ckpt); drop --ckpt_path to "
                           "start a new run, or set --trainer.default_root_dir to the run to use")
    if subcommand == "fit" and config.trainer.max_steps == 0:
        raise ZooError("--trainer.max_steps 0: the fit would train nothing and save nothing; give a positive number "
                       "of steps, or use `zoo test` to evaluate the starting weights")


def _cli_classes():
    """The CLI's Lightning classes (defined on demand: ``import lightning`` takes seconds)."""
    from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

    from zoo.callbacks import FinalStepCheckpoint, JsonlPredictionWriter

    from zoo.paths import zoo_home

    class ZooSaveConfig(SaveConfigCallback):
        """Save the resolved config next to the run and hand it to the module for its checkpoints."""

        def setup(self, trainer, pl_module, stage: str) -> None:
            pl_module.zoo_recipe = self.parser.dump(self.config, skip_none=False)
            super().setup(trainer, pl_module, stage)

    class ZooCLI(LightningCLI):
        """LightningCLI with a ``last.ckpt`` checkpoint and runs under ``ZOO_HOME/runs``."""

        def add_arguments_to_parser(self, parser) -> None:
            parser.add_lightning_class_args(FinalStepCheckpoint, "checkpoint")
            parser.add_lightning_class_args(JsonlPredictionWriter, "prediction_writer")
            # Keep only last.ckpt (resume with --ckpt_path last); best-k selection is not a zoo concept.
            parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                                 "checkpoint.every_n_train_steps": 100, "checkpoint.filename": "step{step}"})

        def parse_arguments(self, parser, args) -> None:
            # Checked here, right after parsing: Lightning reads a --ckpt_path file's hyper-parameters and seeds
            # (printing "Seed set to") before any later hook, and a refused run must print only its error.
            super().parse_arguments(parser, args)
            config = self.config[self.config.subcommand] if self.config.get("subcommand") else self.config
            if config.trainer.default_root_dir is None:
                sources = config.get("config") or []
                run = Path(str(sources[0])).stem if sources else "default"
                config.trainer.default_root_dir = str(zoo_home() / "runs" / run)
            if config.checkpoint.dirpath is None:
                # A fixed folder (not per logger version) is what lets `--ckpt_path last` find the run.
                config.checkpoint.dirpath = str(Path(config.trainer.default_root_dir) / "checkpoints")
            if self.config.get("subcommand"):
                check_ckpt_path(config)
                check_run_arguments(config, self.config.subcommand)

    return ZooCLI, ZooSaveConfig


def lightning_cli(args: Sequence[str] | None, run: bool = True, trainer_defaults: dict[str, Any] | None = None):
    """Build the zoo LightningCLI on ``args``.

    Args:
        args: Command-line arguments (a subcommand first when ``run``); None reads ``sys.argv``.
        run: Run the subcommand; False only parses and instantiates (the model, the DataModule and the
            Trainer are then ``cli.model``, ``cli.datamodule`` and ``cli.trainer``).
        trainer_defaults: Trainer arguments that configs and ``args`` may override (typed values).

    Raises:
        argparse.ArgumentError: for arguments or config values the classes do not accept.
        ZooError: for a class that refused its arguments with its own one-line error.
    """
    from lightning import LightningDataModule, LightningModule

    ZooCLI, ZooSaveConfig = _cli_classes()
    strict = {"exit_on_error": False}
    try:
        return ZooCLI(
            LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
            save_config_callback=ZooSaveConfig, save_config_kwargs={"overwrite": True},
            parser_kwargs={**strict, **{name: strict for name in SUBCOMMANDS}}, trainer_defaults=trainer_defaults,
            args=list(args) if args is not None else None, run=run, auto_configure_optimizers=False,
        )
    except ValueError as error:
        # jsonargparse reports a class that refused its arguments as a ValueError about union subtypes;
        # the zoo's own one-line error is further down the chain.
        cause = error
        while cause is not None and not isinstance(cause, ZooError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise cause from None


def check_config_files(argv: Sequence[str]) -> None:
    """Name a missing or malformed ``-c`` file before LightningCLI buries it in a long message.

    Args:
        argv: The arguments of a Lightning subcommand.
    """
    import yaml

    for flag, value in zip(argv, argv[1:]):
        if flag not in ("-c", "--config"):
            continue
        path = Path(value)
        if not path.is_file():
            raise ZooError(f"config file not found: {path}; recipes live under configs/ "
                           "(e.g. configs/base_lm/base-lm-tiny.yaml)")
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ZooError(f"{path}: malformed YAML ({getattr(error, 'problem', None) or 'syntax error'}{where}); "
                           "fix the syntax") from None
        except UnicodeDecodeError:
            raise ZooError(f"{path}: config is not UTF-8 text; re-save it as UTF-8") from None
