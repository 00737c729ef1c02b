"""Tiny Llama-architecture causal LMs, built from ``transformers.LlamaConfig``.

The presets are named like litgpt's ``Config.from_name``: a name gives a full HF config, and
keyword overrides change single fields. The result is a stock ``LlamaForCausalLM``, so an
exported folder loads with ``AutoModelForCausalLM`` and with ``lm_eval --model hf``.
"""

from __future__ import annotations

import difflib
from typing import Any

from zoo.errors import ZooError

#: name -> LlamaConfig fields (vocab_size comes from the tokenizer).
NET_PRESETS: dict[str, dict[str, Any]] = {
    # ~1M parameters without embeddings: learns a tinyworld in minutes on 2 CPU cores.
    "llama-tiny": dict(
        hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=512,
    ),
    # A few minutes per 100 steps on CPU; for GPU runs and larger worlds.
    "llama-small": dict(
        hidden_size=256, intermediate_size=768, num_hidden_layers=6, num_attention_heads=8,
        num_key_value_heads=4, max_position_embeddings=1024,
    ),
    # For unit tests: one forward in milliseconds.
    "llama-test": dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=256,
    ),
}

_COMMON = dict(
    hidden_act="silu", rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
    attention_dropout=0.0, initializer_range=0.02, use_cache=True,
)


def causal_lm_config(name: str, vocab_size: int, special_token_ids: dict[str, int] | None = None,
                     **overrides: Any):
    """Return the ``LlamaConfig`` of a preset.

    Args:
        name: A key of ``NET_PRESETS`` (``llama-tiny``, ``llama-small``, ``llama-test``).
        vocab_size: Size of the tokenizer's vocabulary (embedding rows).
        special_token_ids: ``bos_token_id`` / ``eos_token_id`` / ``pad_token_id`` to record in the config.
        **overrides: Any ``LlamaConfig`` field, e.g. ``num_hidden_layers=2``.
    """
    from transformers import LlamaConfig

    if name not in NET_PRESETS:
        close = difflib.get_close_matches(name, NET_PRESETS, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"choose one of {', '.join(NET_PRESETS)}"
        raise ZooError(f"unknown net preset '{name}': {hint}")
    fields = {**_COMMON, **NET_PRESETS[name], **(special_token_ids or {}), **overrides}
    # sdpa: PyTorch's fused attention; the eager path materialises the full score matrix.
    config = LlamaConfig(vocab_size=vocab_size, **fields)
    config._attn_implementation = "sdpa"
    return config


def build_causal_lm(config):
    """Instantiate a randomly initialised ``AutoModelForCausalLM`` from an HF config (seeded by the caller)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
