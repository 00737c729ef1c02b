"""Hashing shared by every layer: file digests, fingerprints of derived data, folder identities."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(*parts: Any) -> str:
    """A short sha256 over JSON-serialisable parts (the cache key of derived data)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def files_sha256(folder: Path, names: Iterable[str]) -> dict[str, str]:
    """sha256 of each named file under ``folder`` (relative POSIX names), sorted by name."""
    folder = Path(folder)
    return {name: sha256_file(folder / name) for name in sorted(names)}


def identity_of(file_hashes: dict[str, str]) -> str:
    """One sha256 naming a set of files by their relative names and digests (a model's identity)."""
    lines = "".join(f"{name}\t{digest}\n" for name, digest in sorted(file_hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()
