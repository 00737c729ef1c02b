"""Sampling documents from a causal LM, keyed by document: the synthetic corpora of the collapse study.

The ``sampled:<n>:<model>`` source (:func:`datamodules.synthesis.sampled_corpus`) and ``zoo synth
sample`` (``zoo.modules.synthesis.LMSampler``) both sample here, so they write the same rows.
"""

from __future__ import annotations

import inspect

import torch

from datamodules.transforms.token_editing import keyed_uniform


@torch.no_grad()
def sample_documents(net, tokenizer, indices: list[int], seed: int, max_new_tokens: int = 320,
                     temperature: float = 1.0, top_k: int = 0) -> list[str]:
    """Documents sampled from ``net`` after a bare bos token, one per index, with a KV cache.

    Each step draws every row's next token by inverse CDF from a uniform keyed by ``(seed,
    document index, step)`` (``keyed_uniform``), so a document's random stream does not depend on
    the batch it is sampled in, the batch size, the rank or the resume point. Its probabilities are
    those of a padded batch, which may differ in the last float32 bit with the batch's layout: a draw
    that falls exactly on such a boundary (measured: 1 token in 32 x 128) can pick the neighbouring
    token, so corpora are reproducible byte for byte at the same batch size and hardware.

    Args:
        net: A HF causal LM.
        tokenizer: Its tokenizer (bos, eos and pad set).
        indices: Index of each document in the synthesis (its random stream).
        seed: Seed of the synthesis.
        max_new_tokens: Longest document, in tokens (a row stops at its eos).
        temperature: Softmax temperature (1: the model's own distribution).
        top_k: Sample among the k most likely tokens only (0: the whole vocabulary).
    """
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


def sampled_rows(items: list[dict], texts: list[str], generator: str) -> list[dict]:
    """The synthesis rows of sampled documents: each item's place in the shards, its text and its generator.

    Args:
        items: ``SynthesisDataModule`` items (``id``, ``index``, ``shard``).
        texts: The document sampled for each item.
        generator: The reference of the model that sampled them.
    """
    return [{"id": item["id"], "index": item["index"], "shard": item["shard"], "title": "", "text": text,
             "generator": generator} for item, text in zip(items, texts)]
