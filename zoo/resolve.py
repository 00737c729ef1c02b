"""Resolve a model reference to a verified local folder, and read a causal LM's weights from it.

This is the core layer's door to weights: a registry name (built under ``ZOO_HOME`` or an
upstream hub release), ``local-dir:/path`` or ``hf-hub:org/name`` becomes a folder whose every
output-shaping file matches its card. Modules continue from such folders (``init_from``);
the artifact layer (``zoo.checkpoint``) writes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.hashing import files_sha256, identity_of
from zoo.paths import PRESETS, checkpoints_dir, current_preset
from zoo.registry import get_entry

CARD_FILE = "zoo_card.json"
#: Files of a folder that describe it but do not shape its outputs.
DESCRIPTIVE_FILES = frozenset({CARD_FILE, "README.md", ".gitattributes"})


def output_files(folder: Path) -> list[str]:
    """Relative names of every file in ``folder`` that shapes a model's outputs (weights, configs,
    tokenizer, projector, index...): all files but the card, the model card and hidden files."""
    folder = Path(folder)
    names = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.as_posix() not in DESCRIPTIVE_FILES \
                and not any(part.startswith(".") for part in relative.parts):
            names.append(relative.as_posix())
    return names


def folder_files_sha256(folder: Path) -> dict[str, str]:
    """sha256 of each output-shaping file of ``folder``."""
    return files_sha256(folder, output_files(folder))


def read_card(folder: Path) -> dict[str, Any] | None:
    """The folder's ``zoo_card.json``, or None for a plain HF folder."""
    path = Path(folder) / CARD_FILE
    if not path.exists():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ZooError(f"{path}: corrupt card (not JSON); re-export the folder with `zoo export` or `zoo build`") from None
    if not isinstance(card, dict) or not isinstance(card.get("files_sha256"), dict):
        raise ZooError(f"{path}: card from an older lmzoo (no files_sha256); rebuild it with `zoo build NAME --force` "
                       "or re-export the run with `zoo export`")
    return card


def verify_folder(folder: Path, card: dict[str, Any]) -> None:
    """Check every output-shaping file against the card: none changed, none missing, none added."""
    folder = Path(folder)
    expected: dict[str, str] = card["files_sha256"]
    present = set(output_files(folder))
    fix = "rebuild it with `zoo build NAME --force` or re-export it with `zoo export`"
    if missing := sorted(set(expected) - present):
        raise ZooError(f"{folder}: {', '.join(missing)} missing; {fix}")
    if added := sorted(present - set(expected)):
        raise ZooError(f"{folder}: {', '.join(added)} not in the card (files added after export change what the model "
                       f"does); remove them, or {fix}")
    for name, digest in expected.items():
        actual = files_sha256(folder, [name])[name]
        if actual != digest:
            raise ZooError(f"{folder / name}: sha256 mismatch (card {digest[:12]}..., file {actual[:12]}...); "
                           f"the file is corrupt or replaced: {fix}")


def resolve(reference: str, preset: str | None = None) -> Path:
    """Turn a model reference into a local folder.

    Args:
        reference: A registry name (built under ``ZOO_HOME``; upstream entries go to the hub),
            ``local-dir:/path`` or ``hf-hub:org/name``.
        preset: Which build of a registry name: ``full`` or ``smoke`` (default: ``current_preset()``).
    """
    if not isinstance(reference, str) or not reference:
        raise ZooError(f"model reference must be a registry name, local-dir:/path or hf-hub:org/name, "
                       f"not {reference!r}; `zoo list` shows the names")
    preset = preset or current_preset()
    if reference.startswith("local-dir:"):
        folder = Path(reference.removeprefix("local-dir:")).expanduser()
        if not folder.is_dir():
            raise ZooError(f"local-dir:{folder}: no such folder; pass a folder written by `zoo export` or `zoo build`")
        return folder
    if reference.startswith("hf-hub:"):
        return _download(reference.removeprefix("hf-hub:"))
    entry = get_entry(reference)
    if entry.source.startswith("hf-hub:"):
        return _download(entry.source.removeprefix("hf-hub:"))
    if entry.source.startswith("package:"):
        return _package_folder(entry.source.removeprefix("package:"))
    if preset not in PRESETS:
        raise ZooError(f"unknown preset '{preset}'; use one of {', '.join(PRESETS)}")
    folder = checkpoints_dir(preset) / entry.name
    if not (folder / CARD_FILE).exists():
        others = [other for other in PRESETS if other != preset and (checkpoints_dir(other) / entry.name / CARD_FILE).exists()]
        flag = "" if preset == "full" else f" --preset {preset}"
        hint = (f"; it is built at preset {others[0]}: load it with zoo.load('{entry.name}', preset='{others[0]}') "
                f"or --preset {others[0]}, or build this one with `zoo build {entry.name}{flag}`" if others
                else f"; run `zoo build {entry.name}{flag}`")
        raise ZooError(f"'{entry.name}' is not built at preset {preset} (looked in {folder}){hint}")
    return folder


def verified_folder(reference: str, preset: str | None = None) -> tuple[Path, dict[str, Any] | None]:
    """The resolved folder and its card, every file verified when it has a card."""
    folder = resolve(reference, preset)
    card = read_card(folder)
    if card is not None:
        verify_folder(folder, card)
    return folder, card


def output_hashes(folder: Path, card: dict[str, Any] | None) -> dict[str, str]:
    """sha256 of every output-shaping file: the card's record (checked by ``verify_folder``), or computed
    for a plain folder."""
    return card["files_sha256"] if card is not None else folder_files_sha256(folder)


def identity_string(hashes: dict[str, str]) -> str:
    """A model's identity (its cache key) from the digests of its output-shaping files."""
    return "files:" + identity_of(hashes)


def model_identity(reference: str, preset: str | None = None) -> str | None:
    """What names a model's outputs, for cache keys: the sha256 over every output-shaping file of
    its folder (the card's record for zoo folders, computed for plain HF folders); None when the
    reference does not resolve (yet)."""
    try:
        folder = resolve(reference, preset)
        card = read_card(folder)
    except ZooError:
        return None
    return identity_string(output_hashes(folder, card))


def _package_folder(location: str) -> Path:
    """The folder ``module/sub/folder`` inside an installed Python package (a model shipped on PyPI)."""
    import importlib.util

    package, _, inner = location.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ZooError(f"package:{location}: the Python package {package} is not installed; "
                       f"pip install {package.replace('_', '-')}")
    folder = Path(next(iter(spec.submodule_search_locations))) / inner
    if not folder.is_dir():
        raise ZooError(f"package:{location}: {folder} is missing; reinstall {package.replace('_', '-')}")
    return folder


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id))
    except Exception as error:  # hub errors differ by cause (offline, 404, auth); all mean "not available"
        raise ZooError(f"cannot download hf-hub:{repo_id} ({type(error).__name__}); the hub is unreachable or "
                       "HF_HUB_OFFLINE=1: download it where you are online and pass local-dir:PATH") from None


def load_pretrained(reference: str, preset: str | None = None, subfolder: str | None = None):
    """The HF causal LM and tokenizer behind a reference, every file verified against its card.

    Args:
        reference: A registry name, ``local-dir:/path`` or ``hf-hub:org/name``.
        preset: For registry names built here: ``full`` or ``smoke``.
        subfolder: The LM's folder inside a composite folder (a vision-LM keeps it in ``lm/``).
    """
    folder, card = verified_folder(reference, preset)
    return read_causal_lm(folder / subfolder if subfolder else folder, exact_vocabulary=card is not None)


def load_errors() -> tuple[type[BaseException], ...]:
    """What transformers raises for a folder it cannot read: missing or truncated files, a bad config."""
    from safetensors import SafetensorError

    return OSError, ValueError, KeyError, SafetensorError


def check_folder_vocabulary(folder: Path) -> None:
    """``check_vocabulary`` from ``config.json`` and the tokenizer alone, before anything reads the weights."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        rows = AutoConfig.from_pretrained(folder, trust_remote_code=False).vocab_size
        tokens = len(AutoTokenizer.from_pretrained(folder, trust_remote_code=False))
    except load_errors() as error:
        raise ZooError(f"{folder}: cannot read its config and tokenizer ({str(error).splitlines()[0][:160]}); "
                       "check config.json and the tokenizer files") from None
    _check_sizes(rows, tokens, folder, exact=False)


def read_causal_lm(folder: Path, exact_vocabulary: bool = True):
    """The HF causal LM and tokenizer of a folder that is already verified (see ``load_pretrained``)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        # Never run code shipped with a checkpoint: trust_remote_code stays off.
        net = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except load_errors() as error:
        raise ZooError(f"{folder}: cannot load as a causal LM ({str(error).splitlines()[0][:160]}); "
                       "check config.json and the weights, or re-export the folder") from None
    check_vocabulary(net, tokenizer, folder, exact=exact_vocabulary)
    return net.eval(), tokenizer


def check_vocabulary(net, tokenizer, where: Path | str, exact: bool = True) -> None:
    """Refuse a tokenizer whose ids do not fit the model's embedding: ids past its rows index out of
    range, and a far smaller vocabulary means the tokenizer belongs to another model.

    Args:
        net: A transformers model.
        tokenizer: Its tokenizer.
        where: The folder, for the message.
        exact: Zoo folders size the embedding to the tokenizer exactly; released models often pad
            the embedding (Qwen2: 151,936 rows for 151,665 tokens), so plain folders may have up to
            10 % + 256 spare rows.
    """
    _check_sizes(net.get_input_embeddings().num_embeddings, len(tokenizer), where, exact)


def _check_sizes(rows: int, tokens: int, where: Path | str, exact: bool) -> None:
    if tokens > rows or (tokens != rows if exact else rows > tokens * 1.1 + 256):
        raise ZooError(f"{where}: tokenizer has {tokens} tokens but the model's embedding has {rows} rows; "
                       "put the tokenizer the model was trained with beside it")
