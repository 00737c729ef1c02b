"""``ZooModule``: the base every system's LightningModule extends; it owns the module's artifact.

A module writes the files of its folder (``save_artifacts``), rebuilds itself from them
(``from_folder``) or from a Lightning checkpoint (``from_checkpoint``), and contributes its own
card fields and model-card lines. The artifact layer (``zoo.checkpoint``) only hashes, verifies,
swaps folders atomically and renders what the module gives it, so it never names a system.
"""

from __future__ import annotations

import inspect
import math
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import torch
import torch.nn.functional as F

from datamodules.base import IGNORE_INDEX
from zoo.errors import ZooError


def warmup_cosine(step: int, warmup: int, total: int, floor: float) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine decay to ``floor`` at ``total``."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def targeted_cross_entropy(output_layer: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the target tokens ``targets`` ``(B, T)`` (``IGNORE_INDEX`` where none), with
    ``output_layer`` applied to the hidden states ``(B, T, D)`` at the positions that have a target only.

    The same value as the cross-entropy of the logits of every position: a prompt, a document the pairs are
    written for, an image's tokens, unmasked tokens and padding have no target, and over the vocabulary the output
    layer is a fifth of a llama-tiny's matrix work per position (as much as the rest of a MiniLM), its
    ``(B, T, V)`` logits the largest tensor of a step.
    """
    where = targets != IGNORE_INDEX
    return F.cross_entropy(output_layer(hidden[where]).float(), targets[where])


class ZooModule(L.LightningModule):
    """A zoo system's LightningModule: trains, evaluates, and owns its exported folder.

    Subclasses set ``kind`` (a key of ``zoo.registry.KINDS``) and implement ``save_artifacts``,
    ``from_folder``, ``artifact_metadata``, ``restore_artifacts`` and ``load_snippet``. Their
    init arguments include ``learning_rate``, ``weight_decay``, ``warmup_steps``, ``min_lr_ratio``
    and ``betas``, which the shared optimiser reads.
    """

    #: The model kind (a key of ``zoo.registry.KINDS``); the harness picks how to score from it.
    kind: ClassVar[str] = ""
    #: The paper's method, recorded in the card of a method's module (None for baselines).
    method: ClassVar[str | None] = None
    #: The Hub's ``library_name`` and ``pipeline_tag`` for the model card's metadata.
    library_name: ClassVar[str] = "transformers"
    pipeline_tag: ClassVar[str | None] = None
    #: Init arguments that name other weights used only while training; a loaded export does not load them again.
    training_only_hparams: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        #: The resolved recipe, set by the CLI so checkpoints and cards carry what produced them.
        self.zoo_recipe: str | None = None
        #: The name or reference the harness loaded it by (names the figures an evaluator draws).
        self.zoo_name: str | None = None

    # ------------------------------------------------------------------ steps
    def training_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The objective of one batch (the method's loss)."""
        raise NotImplementedError

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.training_loss(batch)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.log("val/loss", self.training_loss(batch), prog_bar=True, sync_dist=True)

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self):
        optimizer, scheduler = self.optimizer_and_schedule(int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def optimizer_and_schedule(self, total_steps: int):
        """AdamW (decay on matrices only, as nanoGPT) and the warm-up + cosine schedule over ``total_steps``."""
        decay = [p for p in self.parameters() if p.requires_grad and p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.requires_grad and p.dim() < 2]
        # fused: one kernel over all parameters per step, where the default on CPU loops over them in Python
        # (a MiniLM's step was 30 % optimizer that way).
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.hparams.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hparams.learning_rate, betas=tuple(self.hparams.betas), fused=True,
        )
        total = max(1, total_steps)
        schedule = partial(warmup_cosine, warmup=min(self.hparams.warmup_steps, total - 1), total=total,
                           floor=self.hparams.min_lr_ratio)
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    # ------------------------------------------------------------------ artifact: what a subclass writes
    def save_artifacts(self, folder: Path) -> None:
        """Write every output-shaping file (weights as safetensors, configs, tokenizer) into ``folder``."""
        raise NotImplementedError

    def artifact_metadata(self) -> dict[str, Any]:
        """What rebuilding the nets needs besides the weights (configs, tokenizer), kept in checkpoints."""
        raise NotImplementedError

    def restore_artifacts(self, metadata: dict[str, Any]) -> None:
        """Build randomly initialised nets from ``artifact_metadata`` (weights are loaded after)."""
        raise NotImplementedError

    @classmethod
    def from_folder(cls, folder: Path, card: dict[str, Any] | None) -> "ZooModule":
        """Rebuild the module of an exported folder (``card`` is None for a plain folder of the kind)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ card: what a subclass adds
    def card_fields(self) -> dict[str, Any]:
        """Fields this module adds to ``zoo_card.json`` (the method, its settings)."""
        return {"method": self.method} if self.method else {}

    @classmethod
    def card_lines(cls, card: dict[str, Any]) -> list[str]:
        """Model-card bullet lines of this module's own card fields (under "Training")."""
        return [f"- Method: {card['method']}"] if card.get("method") else []

    @classmethod
    def load_snippet(cls, folder: str) -> list[str]:
        """Python lines that open the folder in the kind's own library."""
        raise NotImplementedError

    # ------------------------------------------------------------------ checkpoints
    @classmethod
    def init_hparams(cls, hparams: dict[str, Any]) -> dict[str, Any]:
        """A saved module's init arguments with those that load training-only weights set to None
        (explicitly: a default such as ``init_from="base-lm-tiny"`` would load them again)."""
        own = set(inspect.signature(cls.__init__).parameters)
        # Lightning records the init arguments of every class in the chain; those a subclass sets itself
        # (a base's ``net_overrides``) are not its own, and are dropped. Keys no class takes are an error.
        inherited = {name for base in cls.__mro__ if issubclass(base, ZooModule)
                     for name in inspect.signature(base.__init__).parameters}
        kept = {key: value for key, value in hparams.items() if key in own}
        if unknown := sorted(key for key in hparams if key not in own | inherited and not key.startswith("_")):
            raise ZooError(f"saved hyper-parameters {', '.join(unknown)} are not {cls.__name__}'s init arguments; "
                           "re-export the model with the lmzoo version that trained it")
        return {**kept, **{key: None for key in cls.training_only_hparams}}

    def zoo_metadata(self) -> dict[str, Any]:
        """What an export needs besides the weights: class, artifact metadata, card fields, recipe, data."""
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer else None
        return {
            "class_path": f"{type(self).__module__}.{type(self).__qualname__}",
            "artifact": self.artifact_metadata(),
            "card": self.card_fields(),
            "recipe": self.zoo_recipe,
            "data_fingerprint": getattr(datamodule, "fingerprint", None),
            "data_report": getattr(datamodule, "report", None),
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["zoo"] = self.zoo_metadata()

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> "ZooModule":
        """Rebuild the module of a Lightning checkpoint (already read with ``weights_only=True``)."""
        module = cls(**cls.init_hparams(dict(checkpoint.get("hyper_parameters", {}))))
        module.restore_artifacts(checkpoint["zoo"]["artifact"])
        # Only the exported weights: metric states and training-only parts are not in the artifact.
        state = {key: value for key, value in checkpoint["state_dict"].items() if key in module.state_dict()}
        missing = sorted(set(module.state_dict()) - set(state))
        if missing:
            raise ZooError(f"checkpoint does not match its {cls.__name__} (missing {missing[:3]}); "
                           "export only .ckpt files written by `zoo fit`")
        module.load_state_dict(state, strict=False)
        return module.eval()
