"""Transformer encoders (BERT architecture) from HF configs, and the poolings that turn them into embeddings.

A preset name gives a full ``BertConfig`` (keyword overrides change single fields); the result is
a stock transformers model, so an exported folder opens in ``AutoModelForMaskedLM`` (encoder kind)
or ``AutoModel`` / ``sentence-transformers`` (each side of a bi-encoder).
"""

from __future__ import annotations

import difflib
from typing import Any

import torch

from zoo.errors import ZooError

#: name -> BertConfig fields (vocab_size comes from the tokenizer).
ENCODER_PRESETS: dict[str, dict[str, Any]] = {
    # MiniLM-L6's shape (all-MiniLM-L6-v2): what the pretrained encoder of the retriever and the diffusion PLM has.
    "minilm-l6": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
                      max_position_embeddings=512),
    # For unit tests: one forward in milliseconds.
    "bert-test": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                      max_position_embeddings=128),
}

#: How a sequence of hidden states becomes one vector (sentence-transformers' pooling modes).
POOLINGS = ("cls", "mean")


def encoder_config(name: str, vocab_size: int, pad_token_id: int = 0, **overrides: Any):
    """A ``BertConfig`` of preset ``name`` for a tokenizer with ``vocab_size`` tokens.

    Args:
        name: A key of ``ENCODER_PRESETS``.
        vocab_size: Rows of the token embedding.
        pad_token_id: The tokenizer's padding id.
        overrides: ``BertConfig`` fields that change the preset.
    """
    from transformers import BertConfig

    if name not in ENCODER_PRESETS:
        close = difflib.get_close_matches(name, ENCODER_PRESETS, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"choose one of {', '.join(ENCODER_PRESETS)}"
        raise ZooError(f"unknown encoder preset '{name}': {hint}")
    return BertConfig(vocab_size=vocab_size, pad_token_id=pad_token_id, **{**ENCODER_PRESETS[name], **overrides})


def build_headed_encoder(auto_model: str, config):
    """A randomly initialised encoder with a head: ``auto_model`` is the transformers auto class
    (``AutoModelForMaskedLM``: an LM head tied to the embedding; ``AutoModelForSequenceClassification``)."""
    import transformers

    return getattr(transformers, auto_model).from_config(config, attn_implementation="sdpa")


def masked_lm_head(net) -> torch.nn.Module:
    """The LM head of a transformers masked-LM net: its one child besides the base model (BERT's ``cls``,
    RoBERTa's ``lm_head``), which maps the base model's last hidden states to vocabulary logits.

    Raises:
        ZooError: A net whose head is not one such module.
    """
    heads = [child for child in net.children() if child is not net.base_model]
    if len(heads) != 1:
        raise ZooError(f"{type(net).__name__} has {len(heads)} modules beside its base model, not one LM head; the "
                       "zoo's encoder modules read BERT- and RoBERTa-style masked LMs")
    return heads[0]


def build_encoder(config):
    """A randomly initialised ``AutoModel`` encoder without a head (a side of a bi-encoder)."""
    from transformers import AutoModel

    return AutoModel.from_config(config, add_pooling_layer=False, attn_implementation="sdpa")


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per sequence: the first token's state (``cls``, as DPR) or the mean over real tokens."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    raise ZooError(f"unknown pooling '{pooling}'; choose one of {', '.join(POOLINGS)}")
