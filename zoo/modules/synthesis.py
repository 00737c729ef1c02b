"""Corpus synthesis as Lightning ``predict``: sampling a synthetic corpus, token-editing a human one.

The ToEdit study (Zhu et al., "How to Synthesize Text Data without Model Collapse?", ICML 2025)
needs two corpora besides the human one: text sampled from a model trained on the human data
(``LMSampler``) and the human text edited token by token by a frozen prior (``TokenEditSynthesizer``).
Both run under ``zoo synth sample|toedit`` (or ``zoo predict``) on ``SynthesisDataModule``, whose
shards ``JsonlPredictionWriter`` writes; each returns one row per item with its ``index`` and
``shard``. Randomness is keyed by item, never by batch position or rank, so the corpus is the same
whatever the batch size, device count or resume point.
"""

from __future__ import annotations

import inspect

import lightning as L
import torch

from zoo.errors import ZooError


@torch.no_grad()
def sample_documents(net, tokenizer, indices: list[int], seed: int, max_new_tokens: int = 320,
                     temperature: float = 1.0, top_k: int = 0) -> list[str]:
    """Documents sampled from ``net`` after a bare bos token, one per index, with a KV cache.

    Each step draws every row's next token by inverse CDF from a uniform keyed by ``(seed,
    document index, step)`` (``keyed_uniform``), so a document does not depend on the batch it
    is sampled in, the batch size, the rank or the resume point.

    Args:
        net: A HF causal LM.
        tokenizer: Its tokenizer (bos, eos and pad set).
        indices: Index of each document in the synthesis (its random stream).
        seed: Seed of the synthesis.
        max_new_tokens: Longest document, in tokens (a row stops at its eos).
        temperature: Softmax temperature (1: the model's own distribution).
        top_k: Sample among the k most likely tokens only (0: the whole vocabulary).
    """
    from datamodules.transforms.token_editing import keyed_uniform

    device = net.device
    # One row per step, so each step's (B, 1) column is contiguous for searchsorted.
    uniforms = keyed_uniform(torch.tensor(indices, device=device), max_new_tokens, seed).float().T.contiguous()
    step_ids = torch.full((len(indices), 1), tokenizer.bos_token_id, dtype=torch.long, device=device)
    finished = torch.zeros(len(indices), dtype=torch.bool, device=device)
    # transformers 5 renames the KV-cache argument and output from past_key_values to cache, by release.
    cache_name = "cache" if "cache" in inspect.signature(net.forward).parameters else "past_key_values"
    cache, generated = None, []
    for step in range(max_new_tokens):
        output = net(input_ids=step_ids, use_cache=True, **{cache_name: cache})
        cache, logits = output[cache_name], output.logits[:, -1].float() / temperature
        if top_k:
            logits = logits.masked_fill(logits < logits.topk(top_k, -1).values[:, -1:], float("-inf"))
        cdf = logits.softmax(-1).cumsum(-1)
        drawn = torch.searchsorted(cdf, uniforms[step, :, None]).clamp(max=logits.size(-1) - 1)
        step_ids = drawn.masked_fill(finished[:, None], tokenizer.pad_token_id)
        generated.append(step_ids)
        finished |= step_ids[:, 0] == tokenizer.eos_token_id
        if finished.all():
            break
    texts = tokenizer.batch_decode(torch.cat(generated, 1), skip_special_tokens=True)
    return [text.strip() for text in texts]


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
        from zoo.checkpoint import load_pretrained

        self.net, self.tokenizer = load_pretrained(model)

    def predict_step(self, batch: list[dict], batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        hp = self.hparams
        texts = sample_documents(self.net, self.tokenizer, [item["index"] for item in batch], hp.seed,
                                 hp.max_new_tokens, hp.temperature, hp.top_k)
        return [{"id": item["id"], "index": item["index"], "shard": item["shard"], "title": "", "text": text,
                 "generator": hp.model} for item, text in zip(batch, texts)]


class TokenEditSynthesizer(L.LightningModule):
    """Token-edits human documents with a frozen prior LM (``zoo synth toedit``): ToEdit's data.

    Args:
        prior: The prior LM: a zoo name, ``local-dir:/path`` or ``hf-hub:org/name``.
        threshold: Resample tokens whose probability under the prior exceeds this.
        top_k: Candidates a resampled token is drawn from.
        beta: Temperature of the draw over the candidates' log-probabilities (unset: the variant's default).
        variant: ``replace`` (the paper's rule), ``replace_delete`` (also drop tokens with p < ``delete_below``)
            or ``delete`` (drop only).
        delete_below: Deletion threshold of the deleting variants.
        seed: Seed of the edits (keyed by each document's tokens).
        max_length: Tokens of each document the prior reads (longer documents are truncated).
    """

    def __init__(self, prior: str = "base-lm-tiny", threshold: float = 0.99, top_k: int = 8, beta: float | None = None,
                 variant: str = "replace", delete_below: float = 0.001, seed: int = 0, max_length: int = 2048):
        super().__init__()
        from datamodules.transforms.token_editing import EditSettings, TokenEditor
        from zoo.checkpoint import load_pretrained

        self.save_hyperparameters()
        settings = EditSettings(threshold=threshold, top_k=top_k, beta=beta, variant=variant,
                                delete_below=delete_below, seed=seed)
        # Registered as a submodule so Lightning puts the prior on the run's device.
        self.prior, tokenizer = load_pretrained(prior)
        self.editor = TokenEditor((self.prior, tokenizer), settings, max_length=max_length)

    def predict_step(self, batch: list[dict], batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        texts, rates = self.editor.edit_texts([item["text"] for item in batch])
        return [{"id": item["id"], "index": item["index"], "shard": item["shard"], "title": item["title"],
                 "text": text, "edit_rate": rate} for item, text, rate in zip(batch, texts, rates)]
