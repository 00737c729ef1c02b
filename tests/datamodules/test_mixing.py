"""Mixing a second source into the training split (AdaptLLM's general instructions)."""

from __future__ import annotations

import pytest
import torch

from datamodules import TextCorpusDataModule
from zoo.errors import ZooError


def small(**kwargs) -> TextCorpusDataModule:
    return TextCorpusDataModule(**{"world": {"n_entities": 12}, "block_size": 32, "batch_size": 4,
                                   "val_fraction": 0.1, "test_fraction": 0.1, **kwargs})


def decoded(dm: TextCorpusDataModule, split: str) -> str:
    return dm.tokenizer.decode(dm.blocks[split].flatten().tolist())


def test_mixing_adds_to_train_only_at_the_ratio():
    pure, mixed, double = small(), small(mix_source="instructions:general"), small(mix_source="instructions:general",
                                                                                      mix_ratio=2.0)
    for dm in (pure, mixed, double):
        dm.setup()
    assert pure.fingerprint != mixed.fingerprint != double.fingerprint
    assert torch.equal(mixed.blocks["test"], pure.blocks["test"]) and torch.equal(mixed.blocks["val"], pure.blocks["val"])
    assert len(pure.blocks["train"]) < len(mixed.blocks["train"]) < len(double.blocks["train"])
    instructions = __import__("datamodules.tinyworld", fromlist=["general_instructions"]).general_instructions(2000, 0)
    assert instructions[0]["text"].split("\n")[0] not in decoded(pure, "train")
    assert any(i["text"].split("\n")[0] in decoded(mixed, "train") for i in instructions)


def test_mixing_is_seeded():
    a, b = small(mix_source="instructions:general"), small(mix_source="instructions:general")
    a.setup(), b.setup()
    assert torch.equal(a.blocks["train"], b.blocks["train"])


def test_negative_ratio_is_refused():
    with pytest.raises(ZooError, match="mix_ratio"):
        small(mix_source="instructions:general", mix_ratio=-1)
