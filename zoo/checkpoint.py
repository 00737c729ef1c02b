"""Zoo checkpoint folders: export, load.

A folder is the distributable artifact. Its module writes the files that shape its outputs
(``ZooModule.save_artifacts``: a transformers folder for an LM, two encoder folders for a
bi-encoder, a timm encoder, a projector and an LM for a vision-LM); this layer adds
``zoo_card.json`` (what produced it, the sha256 of every output-shaping file) and a ``README.md``
model card whose YAML header is the Hub's model metadata, writes all of it atomically, and loads
it back through the module class the card names. It never names a system. Lightning ``.ckpt``
files are for resuming only; exporting one reads it with ``weights_only=True``.
"""

from __future__ import annotations

import importlib
import json
import pickle
import platform
import re
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import ZooError
from zoo.hashing import identity_of
from zoo.paths import atomic_dir, zoo_home
from zoo.registry import KINDS, entries
from zoo.resolve import CARD_FILE, folder_files_sha256, read_card, resolve, verify_folder

#: Bump when the folder layout or card schema changes (2: every output-shaping file hashed, kinds).
CARD_VERSION = 2
#: The package whose classes a card may name; anything else is refused before it is imported.
MODULES_PACKAGE = "zoo.modules"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a result."""
    import lightning
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": lightning.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def module_class(class_path: Any, where: Path | str):
    """The zoo module class a card or checkpoint names, refused unless it is a ``ZooModule`` of ``zoo.modules``."""
    from zoo.modules.base import ZooModule

    module_path, _, class_name = str(class_path).rpartition(".")
    if module_path != MODULES_PACKAGE and not module_path.startswith(MODULES_PACKAGE + "."):
        raise ZooError(f"{where}: names class {class_path!r}, outside {MODULES_PACKAGE}; refusing to import it "
                       "(re-export the folder with `zoo export` or `zoo build`)")
    try:
        cls = getattr(importlib.import_module(module_path), class_name)
    except (ImportError, AttributeError):
        raise ZooError(f"{where}: names class {class_path!r}, which this lmzoo does not have; "
                       "upgrade lmzoo or re-export the folder") from None
    if not (isinstance(cls, type) and issubclass(cls, ZooModule)) or cls.kind not in KINDS:
        raise ZooError(f"{where}: {class_path!r} is not a zoo module of a kind ({', '.join(KINDS)}); "
                       "re-export the folder")
    return cls


# ---------------------------------------------------------------------- export
def check_export_target(out: Path, force: bool = False) -> None:
    """Refuse to replace anything but a zoo folder (or nothing) unless ``force``: an export swaps ``out`` whole."""
    out = Path(out)
    if force or not out.exists() or (out.is_dir() and ((out / CARD_FILE).is_file() or not any(out.iterdir()))):
        return
    what = "a file" if not out.is_dir() else "a folder that is not a zoo folder"
    raise ZooError(f"{out} is {what}; an export replaces its target whole: pick a new or empty folder, "
                   "or pass --force to replace it")


def portable(value: Any) -> Any:
    """``value`` with this machine's ``ZOO_HOME`` written as ``$ZOO_HOME``, so a card leaks no local path
    and two identical builds under different homes have the same card."""
    home = str(zoo_home().resolve())
    if isinstance(value, str):
        # On a path boundary only: /data/home2 is not under /data/home.
        return re.sub(re.escape(home) + r"(?=/|$|\s|\")", "$ZOO_HOME", value)
    if isinstance(value, dict):
        return {key: portable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(item) for item in value]
    return value


def export_module(module, out: Path, name: str | None = None, metrics: dict[str, float] | None = None,
                  extra_card: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                  force: bool = False) -> Path:
    """Write a module's folder with its card and model card; atomic (``out`` is replaced only on success).

    Args:
        module: A ``ZooModule`` (after fit, or rebuilt from a checkpoint).
        out: Target folder: new, empty, or a zoo folder to replace.
        name: Registry name, if this is a zoo entry.
        metrics: Final metrics to record in the card.
        extra_card: More card fields (the build preset, the training step).
        metadata: ``module.zoo_metadata()`` as saved in a checkpoint (default: the live module's).
        force: Replace ``out`` even if it is a file or a folder that is not a zoo folder.
    """
    check_export_target(out, force)
    metadata = metadata or module.zoo_metadata()
    # jsonargparse adds private keys (_class_path, _instantiator) that are not init arguments.
    hparams = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(module.hparams).items()
               if not k.startswith("_")}
    with atomic_dir(Path(out)) as tmp:
        module.save_artifacts(tmp)
        files = folder_files_sha256(tmp)
        card = portable({
            **metadata.get("card", {}), **(extra_card or {}),
            # Written last: neither a module's card fields nor a checkpoint's metadata may replace them.
            "card_version": CARD_VERSION, "name": name, "kind": module.kind, "class_path": metadata["class_path"],
            "system": metadata["class_path"].rsplit(".", 1)[-1], "hparams": hparams, "recipe": metadata.get("recipe"),
            "data_fingerprint": metadata.get("data_fingerprint"), "data_report": metadata.get("data_report"),
            "files_sha256": files, "identity": identity_of(files),
            "parameters": sum(p.numel() for p in module.parameters()), "metrics": metrics or {},
            "versions": library_versions(),
        })
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(model_card_markdown(card, type(module)), encoding="utf-8")
    return Path(out)


def export_checkpoint(ckpt_path: Path, out: Path, name: str | None = None, force: bool = False) -> Path:
    """Export a Lightning ``.ckpt`` written by a zoo fit as a zoo folder (read with ``weights_only=True``).

    Args:
        ckpt_path: The ``.ckpt`` file.
        out: Target folder: new, empty, or a zoo folder to replace.
        name: Registry name to record in the card.
        force: Replace ``out`` even if it is a file or a folder that is not a zoo folder.
    """
    check_export_target(out, force)
    module, checkpoint = read_checkpoint(ckpt_path)
    return export_module(module, out, name=name, metadata=checkpoint["zoo"], force=force,
                         extra_card={"steps": int(checkpoint.get("global_step", 0))})


def read_checkpoint(ckpt_path: Path) -> tuple[Any, dict[str, Any]]:
    """The module of a Lightning ``.ckpt`` written by a zoo fit (in eval mode) and the checkpoint's contents,
    read with ``weights_only=True``.

    Args:
        ckpt_path: The ``.ckpt`` file.
    """
    import torch

    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise ZooError(f"checkpoint not found: {ckpt_path}; pass the .ckpt a zoo fit wrote (e.g. .../checkpoints/last.ckpt)")
    try:
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise ZooError(f"{ckpt_path}: not a readable Lightning checkpoint ({type(error).__name__}); "
                       "export only .ckpt files written by `zoo fit`") from None
    metadata = checkpoint.get("zoo") if isinstance(checkpoint, dict) else None
    if not isinstance(metadata, dict) or "state_dict" not in checkpoint or "artifact" not in metadata:
        raise ZooError(f"{ckpt_path}: no zoo metadata in this checkpoint; export only .ckpt files written by `zoo fit`")
    return module_class(metadata.get("class_path"), ckpt_path).from_checkpoint(checkpoint), checkpoint


# ---------------------------------------------------------------------- model card
def hub_metadata(card: dict[str, Any], cls) -> dict[str, Any]:
    """The Hub's model-card metadata (the README's YAML header), so a pushed folder is a proper model page."""
    init_from = str(card["hparams"].get("init_from") or "")
    source = str((card.get("data_report") or {}).get("source") or "")
    metrics = [{"type": key.rsplit("/", 1)[-1], "name": key, "value": round(float(value), 6)}
               for key, value in sorted(card["metrics"].items())]
    metadata = {
        "library_name": cls.library_name,
        **({"pipeline_tag": cls.pipeline_tag} if cls.pipeline_tag else {}),
        **({"base_model": init_from.removeprefix("hf-hub:")} if init_from.startswith("hf-hub:") else {}),
        **({"datasets": [source.removeprefix("hf-hub:")]} if source.startswith("hf-hub:") else {}),
        "tags": ["lmzoo", card["kind"], card["system"]],
    }
    if metrics:
        metadata["model-index"] = [{"name": card.get("name") or "zoo checkpoint", "results": [{
            "task": {"type": cls.pipeline_tag or card["kind"]},
            "dataset": {"name": source or "held-out split", "type": source or "held-out"},
            "metrics": metrics}]}]
    return metadata


def model_card_markdown(card: dict[str, Any], cls) -> str:
    """The folder's README.md: Hub metadata, what it is, how it was trained, its metrics, how to load it."""
    entry = entries().get(card.get("name") or "")
    title = card.get("name") or "zoo checkpoint"
    metrics = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(card["metrics"].items())) or "| (none) | |"
    lines = [
        "---", yaml.safe_dump(hub_metadata(card, cls), sort_keys=False).rstrip(), "---", "",
        f"# {title}", "",
        entry.description if entry else f"A `{card['system']}` checkpoint ({card['kind']}) exported by lmzoo.", "",
        "## Training", "",
        f"- System: `{card['class_path']}` ({card['kind']}), {card['parameters']:,} parameters",
        *cls.card_lines(card),
        f"- Data fingerprint: `{card.get('data_fingerprint')}`",
        f"- Identity (sha256 over every output-shaping file): `{card['identity']}`",
        "- Built with: " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()), "",
        "The resolved recipe is under `recipe` in `zoo_card.json`; rerun it with `zoo fit -c recipe.yaml`.", "",
        *data_section(card.get("data_report")),
        *contamination_section(card.get("contamination")),
        "## Metrics", "", "| metric | value |", "|---|---|", metrics, "",
        "## Load", "", "```python",
        "import zoo", f"module = zoo.load({(card.get('name') or 'local-dir:PATH')!r})  # LightningModule, files verified",
        "", *cls.load_snippet("PATH"), "```", "",
    ]
    return "\n".join(lines)


def data_section(report: dict[str, Any] | None) -> list[str]:
    """Model-card lines on the training data: source, documents and blocks per split, what was mixed in."""
    if not report:
        return []
    splits = ("train", "val", "test")
    lines = [f"- Source: `{report.get('source')}`" + (f", {report['block_size']}-token blocks" if "block_size" in report else ""),
             *(f"- {key.capitalize()} (train/val/test): " + "/".join(str(report[key].get(s)) for s in splits)
               for key in ("documents", "blocks") if isinstance(report.get(key), dict))]
    mix = report.get("mix")
    if mix and "share" in mix:
        lines.append(f"- Mixed in: `{mix['source']}`, replacing {mix['share']:.0%} of the training documents")
    elif mix:
        unit = "token" if mix.get("unit") == "tokens" else "document"
        lines.append(f"- Mixed in: `{mix['source']}`, {mix['ratio']} {unit}s per training {unit}")
    return ["## Data", "", *lines, ""]


def contamination_section(report: dict[str, Any] | None) -> list[str]:
    """Model-card lines on the test items found in the training text (``benchmarks.contamination``): per
    suite, each task's seen/items (and lm-eval's any-n-gram count where it differs), its question
    templates seen, the overlaps by design labelled; the tasks not checked, with why."""
    if not report:
        return []
    n, share = report["n"], report["seen_share"]
    lines = [(f"{n}-gram overlap of the {report['training_words']:,} training words with each suite's test items, "
              f"seen/items per task: an item is seen when at least {share:.0%} of its {n}-grams occur in the "
              f"training text (an item under {n} words must occur whole); \"any\" counts the items with at least "
              "one (lm-eval's decontamination), where that differs; \"templates\" counts the question wordings "
              "of a task that occur around other values."), ""]
    for suite, tasks in report["suites"].items():
        counts = []
        for task, c in tasks.items():
            notes = ([f"any {c['any_ngram']}"] if c["any_ngram"] != c["seen"] else []) + (
                [f"templates {c['templates_seen']}/{c['templates']}"] if "templates" in c else []) + (
                ["by design"] if c["expected"] else [])
            counts.append(f"{task} {c['seen']}/{c['items']}" + (f" ({'; '.join(notes)})" if notes else ""))
        lines.append(f"- {suite}: " + (", ".join(counts) or "no task checked"))
    lines += [f"- Not checked: {where} ({reason})" for where, reason in report["skipped"].items()]
    return ["## Contamination", "", *lines, ""]


# ---------------------------------------------------------------------- load
def plain_folder_class(folder: Path, reference: str | None = None):
    """The module class of a folder without a zoo card, and its init arguments: those the registry entry named
    ``reference`` gives its release (``loads_as``), else the module of what the folder's ``config.json`` says it is."""
    from zoo.modules import module_for_architectures

    entry = entries().get(reference) if reference else None
    if entry is not None and entry.loads_as:
        return module_class(f"zoo.modules.{entry.loads_as['class']}", f"registry entry {entry.name}"), \
            dict(entry.loads_as.get("init_args") or {})
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise ZooError(f"{folder}: neither a zoo folder (no {CARD_FILE}) nor a transformers folder (no readable "
                       "config.json); pass a folder written by `zoo export` or a Hugging Face model folder") from None
    return module_for_architectures(config.get("architectures") or [], folder), {}


def load(reference: str, preset: str | None = None):
    """Load a zoo model as its LightningModule, in eval mode, every output-shaping file verified.

    Args:
        reference: A registry name (``base-lm-tiny``), ``local-dir:/path`` or ``hf-hub:org/name``.
            Folders without a zoo card (plain HF models) load as the module of their architecture.
        preset: For registry names built here: ``full`` or ``smoke`` (default: ``current_preset()``).
    """
    folder = resolve(reference, preset)
    card = read_card(folder)
    if card is not None:
        verify_folder(folder, card)
    return load_folder(folder, card, reference)


def load_folder(folder: Path, card: dict[str, Any] | None, reference: str | None = None):
    """The module of a folder whose files are already verified against ``card`` (None: a plain HF folder, loaded
    as the registry entry ``reference`` says, or as its architecture's module)."""
    if card is None:
        cls, init_args = plain_folder_class(folder, reference)
        return cls.from_folder(folder, {"hparams": init_args} if init_args else None)
    return module_class(card.get("class_path"), folder / CARD_FILE).from_folder(folder, card)
