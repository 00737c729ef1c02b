"""Where lmzoo keeps what it builds: ``ZOO_HOME`` (default ``~/.cache/lmzoo``)."""

from __future__ import annotations

import contextvars
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

#: The repository root (configs/ lives there); the package is installed editable.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def zoo_home() -> Path:
    """Root of built checkpoints, data caches and results caches."""
    return Path(os.environ.get("ZOO_HOME") or Path.home() / ".cache" / "lmzoo").expanduser()


#: Which build (``full`` or ``smoke``) a bare registry name means; a smoke build sets ``smoke`` so
#: every name its recipe mentions (a base to continue, a prior, a generator) is a smoke build too.
PRESETS = ("full", "smoke")
_PRESET = contextvars.ContextVar("zoo_preset", default="full")


def current_preset() -> str:
    """The preset that registry names resolve to here (``full`` unless inside ``using_preset``)."""
    return _PRESET.get()


@contextmanager
def using_preset(preset: str) -> Iterator[None]:
    """Resolve registry names to ``preset`` builds inside the block."""
    token = _PRESET.set(preset)
    try:
        yield
    finally:
        _PRESET.reset(token)


def checkpoints_dir(preset: str = "full") -> Path:
    """Folder of built zoo checkpoints; smoke builds live apart so they never pass for full ones."""
    return zoo_home() / ("checkpoints" if preset == "full" else f"checkpoints-{preset}")


def cache_dir(kind: str) -> Path:
    """A named cache under ``ZOO_HOME`` (``datasets``, ``tokenizers``, ``results``...)."""
    return zoo_home() / "cache" / kind


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder that replaces ``target`` only if the block succeeds.

    Readers never see a half-written folder: the rename is atomic on one file system, and a
    failure leaves ``target`` as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
