"""What the ``zoo`` command prints: its own lines and progress bars, not the libraries' chatter.

The libraries under the zoo warn about things a zoo user cannot change (how the zoo calls
LightningCLI, which logger it falls back to, a deprecation inside Lightning) and advertise
products. The filters here are precise (one message pattern each) and apply only while a
command runs (the app layer), so library code and Python users of ``zoo`` see every warning.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import ExitStack, contextmanager
from typing import Iterator

#: Warnings a zoo user cannot act on, by message (matched at its start), with why each is safe to hide.
UNACTIONABLE_WARNINGS = (
    # The zoo hands LightningCLI its own argument list on purpose (the verbs build it).
    r"LightningCLI's args parameter is intended",
    # Without tensorboard Lightning logs to CSV files, which is what the zoo wants.
    r"Starting from v1\.9\.0, `tensorboardX` has been removed",
    # Raised inside Lightning's pytree helper by a torch deprecation; nothing in the zoo calls it.
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # Zoo modules hold frozen submodules (a prior LM, a teacher) in eval mode by design.
    r"Found \d+ module\(s\) in eval mode at the start of training",
    # Synthesis shards are an iterable data set of known length, read by one process per rank.
    r"Your `IterableDataset` has `__len__` defined",
    # The zoo's prediction writer keys rows by their own index, not by batch indices.
    r"Couldn't infer the batch indices fetched from your dataloader",
)
#: Warnings about run settings that the zoo's own commands fix in their recipes (``zoo fit`` users see them).
RECIPE_WARNINGS = (
    # The datamodules serve in-memory token blocks; worker processes cost more than they give on small machines.
    r"The '\w+' does not have many workers",
    # Synthesis keys its randomness by document and its own seed; a global seed changes nothing.
    r"No seed found, seed set to",
)
#: Lightning's loggers: its info lines (seed, accelerator, "fit stopped") go through them.
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric")
#: The loggers that Lightning's ``rank_zero_info`` writes to (whichever of the two packages was imported last).
RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class _DropAdverts(logging.Filter):
    """Drop Lightning's product tips ("💡 Tip: try installing ..."): they report nothing about the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


@contextmanager
def quiet_console(own_command: bool) -> Iterator[None]:
    """Hide third-party warnings and adverts while a command runs; restore everything afterwards.

    Args:
        own_command: A zoo verb (``build``, ``synth``, ...) rather than a Lightning subcommand: its
            runs come from recipes the user does not edit here, so Lightning's advice on run
            settings is hidden too.
    """
    patterns = UNACTIONABLE_WARNINGS + (RECIPE_WARNINGS if own_command else ())
    with ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        for pattern in patterns:
            warnings.filterwarnings("ignore", message=pattern)
        advert = _DropAdverts()
        for name in RANK_ZERO_LOGGERS:
            logger = logging.getLogger(name)
            logger.addFilter(advert)
            stack.callback(logger.removeFilter, advert)
        yield


@contextmanager
def lightning_info_hidden() -> Iterator[None]:
    """Hide Lightning's info lines (seed, accelerator, "fit stopped") while a zoo verb runs a recipe: the
    verb reports what matters itself. Lightning sets its loggers' levels when imported, so it is imported first.
    """
    import lightning  # noqa: F401

    with ExitStack() as stack:
        for name in LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            stack.callback(logger.setLevel, logger.level)
            logger.setLevel(logging.WARNING)
        yield


@contextmanager
def without_library_progress_bars() -> Iterator[None]:
    """Hide the bars that transformers and datasets draw for steps inside a zoo run (loading and writing
    weights, mapping a corpus): the run's own bar covers the phase. Downloads from the hub keep theirs."""
    import datasets
    from huggingface_hub import utils as hub
    from transformers.utils import logging as hf_logging

    transformers_bars, hub_bars = hf_logging.is_progress_bar_enabled(), not hub.are_progress_bars_disabled()
    datasets_bars = datasets.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # turns the hub's bars off too
    if hub_bars:
        hub.enable_progress_bars()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if transformers_bars:
            hf_logging.enable_progress_bar()
        if not hub_bars:
            hub.disable_progress_bars()
        if datasets_bars:
            datasets.enable_progress_bars()
