"""``TokenEditedLM``: ToEdit, pre-training on human text edited token by token by a frozen prior.

Zhu et al., "How to Synthesize Text Data without Model Collapse?" (ICML 2025). Training on text
sampled from a model makes the next model worse (the collapse study in ``configs/toedit/``);
ToEdit instead keeps human text and resamples only the tokens a prior LM finds too easy
(p > 0.99), from its top-k candidates (``datamodules.transforms.token_editing``). The result is
semi-synthetic data that keeps the human distribution's long tail.

Two ways to train on edited text, with the same edits under the same seed (edits are keyed by
each row's tokens): give the DataModule a pre-edited corpus (``zoo synth toedit`` output or the
``TokenEditing`` transform) and leave ``prior`` unset, or set ``prior`` and the module edits every
training batch online with one no-grad forward of the frozen prior before the step. Validation
and test run on the unedited (human) text. The baseline is ``CausalLM`` on the human text.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F

from datamodules.transforms.token_editing import EditSettings, TokenEditor
from zoo.errors import ZooError
from zoo.modules.causal_lm import IGNORE_INDEX, CausalLM


class TokenEditedLM(CausalLM):
    """A causal LM pre-trained on token-edited human text.

    Args:
        prior: Frozen prior that edits each training batch online (zoo name, ``local-dir:`` or
            ``hf-hub:``; it must share the data's tokenizer); unset: the data is already edited.
        editing: What to edit and how (``threshold``, ``top_k``, ``beta``, ``variant``, ``delete_below``,
            ``seed``); a mapping of those fields is taken too (a module rebuilt from its card).
        net: Backbone preset (``llama-tiny``...); ignored with ``init_from``.
        net_overrides: ``LlamaConfig`` fields that change the preset.
        init_from: Start from these weights (continued pre-training) instead of from scratch.
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
        max_new_tokens: Tokens generated per prompt by ``predict``.
    """

    def __init__(self, prior: str | None = None, editing: EditSettings = EditSettings(), net: str = "llama-tiny",
                 net_overrides: dict[str, Any] | None = None, init_from: str | None = None,
                 learning_rate: float = 2e-3, weight_decay: float = 0.1, warmup_steps: int = 50,
                 min_lr_ratio: float = 0.1, betas: tuple[float, float] = (0.9, 0.95), max_new_tokens: int = 16):
        super().__init__(net=net, net_overrides=net_overrides, init_from=init_from, learning_rate=learning_rate,
                         weight_decay=weight_decay, warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio, betas=betas,
                         max_new_tokens=max_new_tokens)
        # A module rebuilt from its card or checkpoint gets the settings back as the plain mapping below.
        self.settings = editing if isinstance(editing, EditSettings) else EditSettings(**editing)
        # Plain values in hparams: checkpoints are read with weights_only=True and cards are JSON.
        self.hparams["editing"] = dataclasses.asdict(self.settings)
        self.editor = None
        if prior:
            # A plain attribute, not a submodule: the prior is no part of this model's weights or checkpoints.
            self.editor = TokenEditor(prior, self.settings)

    def configure_model(self) -> None:
        super().configure_model()
        if self.editor is not None and self.editor.tokenizer.get_vocab() != self.tokenizer.get_vocab():
            raise ZooError(f"the prior {self.hparams.prior} has another tokenizer than the data; online editing needs "
                           "token ids both share: pick a prior trained with --data.tokenizer, or edit offline with "
                           "`zoo synth toedit`")

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if self.editor is not None:
            self.editor.net.to(self.device)

    def edit_batch(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The prior's edits of packed blocks: edited ids and next-token targets (deleted tail ignored)."""
        result = self.editor.edit_ids(input_ids, torch.ones_like(input_ids))
        next_kept = F.pad(result.attention_mask[:, 1:], (0, 1), value=0).bool()
        targets = F.pad(result.input_ids[:, 1:], (0, 1), value=IGNORE_INDEX).masked_fill(~next_kept, IGNORE_INDEX)
        self.log("train/edit_rate", result.edit_rate().mean(), prog_bar=True)
        return result.input_ids, targets

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.editor is None:
            return super().training_step(batch, batch_idx)
        input_ids, targets = self.edit_batch(batch["input_ids"])
        if (targets == IGNORE_INDEX).all():
            # Everything deleted (a prior that finds every token rare): a zero step, not a NaN loss.
            loss = self(input_ids[:, :1]).sum() * 0.0
        else:
            # Deleted tokens leave padding at the end of a row; causal attention never looks ahead to it.
            loss, _, _ = self.lm_loss(input_ids, targets)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    method = "ToEdit token editing (Zhu et al., ICML 2025)"

    def card_fields(self) -> dict[str, Any]:
        return {**super().card_fields(),
                "editing": {"online_prior": self.hparams.prior, **dataclasses.asdict(self.settings)}}

    @classmethod
    def card_lines(cls, card: dict[str, Any]) -> list[str]:
        editing = ", ".join(f"{k} {v}" for k, v in sorted(card.get("editing", {}).items()))
        return [*super().card_lines(card), *([f"- Token editing: {editing}"] if editing else [])]

    # The prior only edits training batches: a loaded export does not need it.
    training_only_hparams = ("init_from", "prior")
