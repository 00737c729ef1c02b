"""Where lmzoo keeps what it builds: ``ZOO_HOME`` (default ``~/.cache/lmzoo``)."""

from __future__ import annotations

import contextvars
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from zoo.errors import ZooError

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _temp_prefix(target: Path) -> str:
    """Temporaries of ``target`` are hidden siblings named after it and the writing process and host."""
    return f".{target.name}.tmp-{os.getpid()}@{socket.gethostname()}-"


def clean_stale_temps(target: Path) -> None:
    """Remove the temporaries that killed writers of ``target`` on this host left behind (their process is
    gone; a shared ZOO_HOME's other hosts are left alone), and finish a swap that a killed writer interrupted."""
    target = Path(target)
    host = socket.gethostname()
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        pid, _, rest = stale.name.rsplit(".tmp-", 1)[1].partition("@")
        if pid.isdigit() and rest.startswith(f"{host}-") and not _pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    old = target.with_name(f".{target.name}.old")
    if old.exists() and not target.exists():
        os.replace(old, target)  # killed between the two renames of a swap: the old copy is the only one
    shutil.rmtree(old, ignore_errors=True)


def _prepare_parent(target: Path) -> None:
    """Create ``target``'s folder, refusing before anything is created when the path cannot be written:
    the nearest existing folder on the way is checked first, so a refused write leaves no empty folders."""
    existing = next(folder for folder in (target.parent, *target.parent.parents) if folder.exists())
    if not existing.is_dir():
        raise ZooError(f"cannot write {target}: a file is in the way of its folder {target.parent}; "
                       "pick another output path")
    if not os.access(existing, os.W_OK):
        raise ZooError(f"cannot write {target}: {existing} is read-only; pick a writable path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise ZooError(f"cannot write {target}: permission denied on {target.parent}; pick a writable path") from None
    clean_stale_temps(target)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder that replaces ``target`` only if the block succeeds.

    Readers never see a half-written folder: the rename is atomic on one file system, and a
    failure leaves ``target`` as it was. Temporaries that a killed run left are removed first.
    """
    target = Path(target)
    _prepare_parent(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), dir=target.parent))
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


@contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO]:
    """Yield a handle on a temporary sibling that replaces ``path`` only if the block succeeds.

    Args:
        path: The file to write.
        mode: ``w`` (UTF-8 text, ``\\n`` line ends) or ``wb``.
    """
    path = Path(path)
    if path.is_dir():
            raise ZooError(f"cannot write {path}: it is a folder; pass a file path")
    _prepare_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=path.parent)
    try:
        text = {"encoding": "utf-8", "newline": "\n"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **text) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_file(path) as handle:
        handle.write(text)
