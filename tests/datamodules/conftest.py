"""Fixtures shared by the data-layer tests."""

from __future__ import annotations

import pytest
import torch

#: What the tiny prior's tokenizer learns from (its vocabulary, so edits on such text are real).
PRIOR_CORPUS = ["The river flows past the old mill and the quiet town.",
                "Farmers sell apples, pears and honey at the market on Sunday.",
                "A small boat crossed the lake before the storm arrived."]


@pytest.fixture(scope="session")
def prior():
    """A random one-layer Llama (hidden 16, window 64) over a 300-token BPE, as ``(net, tokenizer)``;
    embeddings scaled so its predictions are peaked (clear top-K order) like a trained model's."""
    from datamodules.tokenizer import train_bpe, wrap_fast_tokenizer
    from zoo.nets.llama import build_causal_lm, causal_lm_config

    tokenizer = wrap_fast_tokenizer(train_bpe(PRIOR_CORPUS * 20, vocab_size=300))
    torch.manual_seed(0)
    net = build_causal_lm(causal_lm_config("llama-test", vocab_size=len(tokenizer), hidden_size=16,
                                           intermediate_size=32, num_hidden_layers=1, max_position_embeddings=64))
    with torch.no_grad():
        net.model.embed_tokens.weight.mul_(10)
    return net, tokenizer
