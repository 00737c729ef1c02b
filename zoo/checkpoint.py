"""Zoo checkpoint folders: export, resolve, verify, load.

A folder is the distributable artifact: HF-format ``config.json`` + ``model.safetensors`` +
tokenizer files (so it loads with ``AutoModelForCausalLM`` and ``lm_eval --model hf``), plus
``zoo_card.json`` (what produced it and its sha256) and a ``README.md`` model card. Lightning
``.ckpt`` files are for resuming only; exporting one reads it with ``weights_only=True``.
"""

from __future__ import annotations

import importlib
import json
import platform
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.paths import atomic_dir, checkpoints_dir, current_preset

CARD_FILE, WEIGHTS_FILE = "zoo_card.json", "model.safetensors"
#: Bump when the folder layout or card schema changes.
CARD_VERSION = 1


def sha256_of(path: Path) -> str:
    """sha256 of a file."""
    from datamodules.base import sha256_file

    return sha256_file(path)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a result."""
    import lightning
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": lightning.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


# ---------------------------------------------------------------------- export
def export_payload(state_dict: dict, zoo: dict[str, Any], hparams: dict[str, Any], out: Path,
                   name: str | None = None, metrics: dict[str, float] | None = None,
                   extra_card: dict[str, Any] | None = None) -> Path:
    """Write a zoo folder from a module's state dict and its ``zoo_metadata``; atomic.

    Args:
        state_dict: The LightningModule's state dict (net weights under ``net.``).
        zoo: ``CausalLM.zoo_metadata()``: class path, net config, tokenizer JSON, recipe, data fingerprint.
        hparams: The module's init arguments (to rebuild it on load).
        out: Target folder (replaced whole on success, untouched on failure).
        name: Registry name, if this is a zoo entry.
        metrics: Final metrics to record in the card.
        extra_card: More card fields (e.g. the build preset).
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    from datamodules.tokenizer import wrap_fast_tokenizer

    net_config = dict(zoo["net_config"])
    config = AutoConfig.for_model(net_config.pop("model_type"), **net_config)
    net = AutoModelForCausalLM.from_config(config)
    weights = {k.removeprefix("net."): v for k, v in state_dict.items() if k.startswith("net.")}
    missing, unexpected = net.load_state_dict(weights, strict=False)
    # Tied output embeddings are stored once; anything else missing means a wrong checkpoint.
    missing = [k for k in missing if k not in ("lm_head.weight",)]
    if missing or unexpected:
        raise ZooError(f"checkpoint does not match its net config (missing {missing[:3]}, unexpected {unexpected[:3]}); "
                       "was it written by lmzoo?")
    tokenizer = wrap_fast_tokenizer(zoo["tokenizer_json"])
    # jsonargparse adds private keys (_class_path, _instantiator) that are not init arguments.
    hparams = {k: (list(v) if isinstance(v, tuple) else v) for k, v in hparams.items() if not k.startswith("_")}
    with atomic_dir(Path(out)) as tmp:
        net.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        card = {
            "card_version": CARD_VERSION, "name": name, "class_path": zoo["class_path"],
            "system": zoo["class_path"].rsplit(".", 1)[-1], "hparams": hparams, "recipe": zoo.get("recipe"),
            "data_fingerprint": zoo.get("data_fingerprint"), "data_report": zoo.get("data_report"),
            "weights_sha256": sha256_of(tmp / WEIGHTS_FILE),
            "parameters": sum(p.numel() for p in net.parameters()), "metrics": metrics or {},
            "versions": library_versions(), **{key: zoo[key] for key in ("method", "editing") if zoo.get(key)},
            **(extra_card or {}),
        }
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(model_card_markdown(card), encoding="utf-8")
    return Path(out)


def export_module(module, out: Path, **card: Any) -> Path:
    """Export a live LightningModule (after fit) as a zoo folder."""
    return export_payload(module.state_dict(), module.zoo_metadata(), dict(module.hparams), out, **card)


def export_checkpoint(ckpt_path: Path, out: Path, name: str | None = None) -> Path:
    """Export a Lightning ``.ckpt`` written by a zoo fit as a zoo folder (read with ``weights_only=True``)."""
    import pickle

    import torch

    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise ZooError(f"checkpoint not found: {ckpt_path}; pass the .ckpt a zoo fit wrote (e.g. .../checkpoints/last.ckpt)")
    try:
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise ZooError(f"{ckpt_path}: not a readable Lightning checkpoint ({type(error).__name__}); "
                       "export only .ckpt files written by `zoo fit`") from None
    if "zoo" not in checkpoint or "state_dict" not in checkpoint:
        raise ZooError(f"{ckpt_path}: no zoo metadata in this checkpoint; export only .ckpt files written by `zoo fit`")
    return export_payload(checkpoint["state_dict"], checkpoint["zoo"], dict(checkpoint.get("hyper_parameters", {})),
                          out, name=name)


def model_card_markdown(card: dict[str, Any]) -> str:
    """The folder's README.md: what it is, how it was trained, its metrics, how to load it."""
    from zoo.registry import entries

    entry = entries().get(card.get("name") or "")
    title = card.get("name") or "zoo checkpoint"
    metrics = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(card["metrics"].items())) or "| (none) | |"
    lines = [
        f"# {title}", "",
        entry.description if entry else f"A `{card['system']}` checkpoint exported by lmzoo.", "",
        "## Training", "",
        f"- System: `{card['class_path']}`, {card['parameters']:,} parameters",
        *([f"- Method: {card['method']}"] if card.get("method") else []),
        *([f"- Token editing: " + ", ".join(f"{k} {v}" for k, v in sorted(card["editing"].items()))]
          if card.get("editing") else []),
        f"- Data fingerprint: `{card.get('data_fingerprint')}`",
        f"- Weights sha256: `{card['weights_sha256']}`",
        f"- Built with: " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()), "",
        "The resolved recipe is under `recipe` in `zoo_card.json`; rerun it with `zoo fit -c recipe.yaml`.", "",
        *data_section(card.get("data_report")),
        "## Metrics", "", "| metric | value |", "|---|---|", metrics, "",
        "## Load", "", "```python",
        "import zoo", f"module = zoo.load({(card.get('name') or 'local-dir:PATH')!r})  # LightningModule, sha256 verified", "",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "model = AutoModelForCausalLM.from_pretrained(PATH); tokenizer = AutoTokenizer.from_pretrained(PATH)", "```", "",
    ]
    return "\n".join(lines)


def data_section(report: dict[str, Any] | None) -> list[str]:
    """Model-card lines on the training data: documents and blocks per split, transform, mix."""
    if not report:
        return []
    lines = ["## Data", "", f"- Source: `{report.get('source')}`, {report.get('block_size')}-token blocks",
             "- Documents (train/val/test): " + "/".join(str(report["documents"].get(s)) for s in ("train", "val", "test")),
             "- Blocks (train/val/test): " + "/".join(str(report["blocks"].get(s)) for s in ("train", "val", "test"))]
    mix = report.get("mix")
    if mix and "share" in mix:
        lines.append(f"- Mixed in: `{mix['source']}`, replacing {mix['share']:.0%} of the training documents")
    elif mix:
        lines.append(f"- Mixed in: `{mix['source']}`, {mix['ratio']} per training document")
    transform = report.get("transform_report")
    if transform and "families" in transform:
        per_family = ", ".join(f"{name} {entry['examples']}" for name, entry in transform["families"].items())
        lines.append(f"- Reading-comprehension tasks mined: {transform['examples']} "
                     f"({transform['examples_per_document']:.2f} per document; {per_family})")
    return [*lines, ""]


# ---------------------------------------------------------------------- resolve and load
def read_card(folder: Path) -> dict[str, Any] | None:
    """The folder's ``zoo_card.json``, or None for a plain HF folder."""
    path = Path(folder) / CARD_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ZooError(f"{path}: corrupt card (not JSON); re-export the folder with `zoo export` or `zoo build`") from None


def verify_folder(folder: Path, card: dict[str, Any]) -> None:
    """Check ``model.safetensors`` against the card's sha256 (catches corruption and swapped files)."""
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.exists():
        raise ZooError(f"{folder}: no {WEIGHTS_FILE}; rebuild it (`zoo build NAME --force`) or re-export it")
    actual = sha256_of(weights)
    if actual != card.get("weights_sha256"):
        raise ZooError(f"{weights}: sha256 mismatch (card {str(card.get('weights_sha256'))[:12]}..., file {actual[:12]}...); "
                       "the weights are corrupt or replaced: rebuild with `zoo build NAME --force` or re-export")


def resolve(reference: str, preset: str | None = None) -> Path:
    """Turn a model reference into a local folder.

    Args:
        reference: A registry name (built under ``ZOO_HOME``; upstream entries go to the hub),
            ``local-dir:/path`` or ``hf-hub:org/name``.
        preset: Which build of a registry name: ``full`` or ``smoke`` (default: ``current_preset()``).
    """
    preset = preset or current_preset()
    if reference.startswith("local-dir:"):
        folder = Path(reference.removeprefix("local-dir:")).expanduser()
        if not folder.is_dir():
            raise ZooError(f"local-dir:{folder}: no such folder; pass a folder written by `zoo export` or `zoo build`")
        return folder
    if reference.startswith("hf-hub:"):
        return _download(reference.removeprefix("hf-hub:"))
    from zoo.registry import get_entry

    entry = get_entry(reference)
    if entry.source.startswith("hf-hub:"):
        return _download(entry.source.removeprefix("hf-hub:"))
    folder = checkpoints_dir(preset) / entry.name
    if not (folder / CARD_FILE).exists():
        flag = "" if preset == "full" else f" --preset {preset}"
        raise ZooError(f"'{entry.name}' is not built yet (looked in {folder}); run `zoo build {entry.name}{flag}`")
    return folder


def weights_identity(reference: str) -> str | None:
    """What names a model's weights, for cache keys: its card's sha256, else its resolved folder (a
    hub snapshot's path holds the commit); None when the reference does not resolve (yet)."""
    try:
        folder = resolve(reference)
    except ZooError:
        return None
    card = read_card(folder)
    return f"sha256:{card['weights_sha256']}" if card and card.get("weights_sha256") else str(folder.resolve())


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id))
    except Exception as error:  # hub errors differ by cause (offline, 404, auth); all mean "not available"
        raise ZooError(f"cannot download hf-hub:{repo_id} ({type(error).__name__}); the hub is unreachable or "
                       "HF_HUB_OFFLINE=1: download it where you are online and pass local-dir:PATH") from None


def load_pretrained(reference: str, preset: str | None = None):
    """The HF causal LM and tokenizer behind a reference, verified against its card when it has one."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = resolve(reference, preset)
    card = read_card(folder)
    if card is not None:
        verify_folder(folder, card)
    try:
        # Never run code shipped with a checkpoint: trust_remote_code stays off.
        net = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except (OSError, ValueError, SafetensorError) as error:
        raise ZooError(f"{folder}: cannot load as a causal LM ({str(error).splitlines()[0][:160]}); "
                       "check config.json and the weights, or re-export the folder") from None
    return net.eval(), tokenizer


def load(reference: str, preset: str | None = None):
    """Load a zoo model as its LightningModule, in eval mode, with sha256 verified.

    Args:
        reference: A registry name (``base-lm-tiny``), ``local-dir:/path`` or ``hf-hub:org/name``.
            Folders without a zoo card (plain HF models) load as ``CausalLM``.
        preset: For registry names built here: ``full`` or ``smoke`` (default: ``current_preset()``).
    """
    folder = resolve(reference, preset)
    card = read_card(folder) or {"class_path": "zoo.modules.CausalLM", "hparams": {}}
    module_path, _, class_name = card["class_path"].rpartition(".")
    if not module_path.startswith("zoo.modules"):
        raise ZooError(f"{folder}: card names class {card['class_path']}, outside zoo.modules; refusing to import it")
    cls = getattr(importlib.import_module(module_path), class_name)
    return cls.from_folder(str(folder), card)
