"""lmzoo: a model zoo and benchmark harness for language-model adaptation methods.

>>> import zoo
>>> zoo.list_models("adaptllm*")
>>> module = zoo.load("base-lm-tiny")          # a built entry, every file verified
>>> module = zoo.load("local-dir:/path/to/folder")
"""

from zoo.errors import ZooError
from zoo.registry import Entry, get_entry, list_models


def load(reference: str, preset: str | None = None):
    """Load a zoo model as its LightningModule; see ``zoo.checkpoint.load`` (imported here on first use, so
    that importing a core module such as ``zoo.errors`` does not import the artifact layer)."""
    from zoo.checkpoint import load as _load

    return _load(reference, preset=preset)


def build(name: str, preset: str = "full", force: bool = False):
    """Train, test and export a registry entry; returns ``(folder, card)``. See ``zoo.builder.build``."""
    from zoo.builder import build as _build

    return _build(name, preset=preset, force=force)


def card(name: str) -> Entry:
    """The registry entry of ``name`` (what it is, where it comes from, its suites)."""
    return get_entry(name)


__all__ = ["Entry", "ZooError", "build", "card", "get_entry", "list_models", "load"]
__version__ = "0.1.0"
