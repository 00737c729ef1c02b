"""Corpus synthesis as Lightning ``predict``: sampling a synthetic corpus, token-editing a human one.

The ToEdit study (Zhu et al., "How to Synthesize Text Data without Model Collapse?", ICML 2025)
needs two corpora besides the human one: text sampled from a model trained on the human data
(``LMSampler``) and the human text edited token by token by a frozen prior (``TokenEditSynthesizer``).
Both run under ``zoo synth sample|toedit`` (or ``zoo predict``) on ``SynthesisDataModule``, whose
shards ``JsonlPredictionWriter`` writes; each returns one row per item with its ``index`` and
``shard``. Randomness is keyed by item, never by batch position or rank, so the corpus is the same
whatever the batch size, device count or resume point. The sampling and the editing themselves are
data-layer code (``datamodules.sampling``, ``datamodules.transforms.token_editing``), which the
``sampled:`` source and the ``TokenEditing`` transform run too; these modules run them under Lightning.
"""

from __future__ import annotations

import dataclasses

import lightning as L

from datamodules.sampling import sample_documents, sampled_rows
from datamodules.transforms.token_editing import EditSettings, TokenEditor
from zoo.errors import ZooError
from zoo.resolve import load_pretrained

#: The token editor's default settings: one shared instance, safe as a default since it is frozen.
DEFAULT_EDITING = EditSettings()


class LMSampler(L.LightningModule):
    """Samples a synthetic corpus from a trained causal LM (``zoo synth sample``).

    Args:
        model: The LM to sample from: a zoo name, ``local-dir:/path`` or ``hf-hub:org/name``.
        max_new_tokens: Longest document, in tokens.
        temperature: Softmax temperature.
        top_k: Sample among the k most likely tokens only (0: the whole vocabulary).
        seed: Seed of the synthesis (documents are keyed by their index).
    """

    def __init__(self, model: str = "base-lm-tiny", max_new_tokens: int = 320, temperature: float = 1.0,
                 top_k: int = 0, seed: int = 0):
        super().__init__()
        if temperature <= 0 or max_new_tokens < 1 or top_k < 0:
            raise ZooError(f"sampling needs temperature > 0, max_new_tokens >= 1 and top_k >= 0 (got {temperature}, "
                           f"{max_new_tokens}, {top_k})")
        self.save_hyperparameters()
        self.net, self.tokenizer = load_pretrained(model)

    def predict_step(self, batch: list[dict], batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        hp = self.hparams
        texts = sample_documents(self.net, self.tokenizer, [item["index"] for item in batch], hp.seed,
                                 hp.max_new_tokens, hp.temperature, hp.top_k)
        return sampled_rows(batch, texts, hp.model)


class TokenEditSynthesizer(L.LightningModule):
    """Token-edits human documents with a frozen prior LM (``zoo synth toedit``): ToEdit's data.

    Args:
        prior: The prior LM: a zoo name, ``local-dir:/path`` or ``hf-hub:org/name``.
        editing: What to edit and how (edits are keyed by each document's tokens and ``editing.seed``).
        max_length: Tokens the prior reads at once (a longer document is read in further windows of its own).
    """

    def __init__(self, prior: str = "toedit-prior-tiny", editing: EditSettings = DEFAULT_EDITING, max_length: int = 2048):
        super().__init__()
        self.save_hyperparameters()
        # Plain values in hparams: the synthesis manifest writes them as JSON.
        self.hparams["editing"] = dataclasses.asdict(editing)
        # Registered as a submodule so Lightning puts the prior on the run's device.
        self.prior, tokenizer = load_pretrained(prior)
        self.editor = TokenEditor((self.prior, tokenizer), editing, max_length=max_length)

    def predict_step(self, batch: list[dict], batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        texts, rates = self.editor.edit_texts([item["text"] for item in batch])
        return [{"id": item["id"], "index": item["index"], "shard": item["shard"], "title": item["title"],
                 "text": text, "edit_rate": rate} for item, text, rate in zip(batch, texts, rates)]
