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


def test_mix_share_replaces_documents_and_keeps_the_corpus_size():
    pure = small()
    half = small(mix_source="instructions:general", mix_share=0.5)
    whole = small(mix_source="instructions:general", mix_share=1.0)
    for dm in (pure, half, whole):
        dm.setup()
    counts = {name: dm.report["documents"]["train"] for name, dm in (("pure", pure), ("half", half), ("whole", whole))}
    assert counts["pure"] == counts["half"] == counts["whole"]
    assert half.report["mix"] == {"source": "instructions:general", "share": 0.5}
    from zoo.checkpoint import data_section

    assert "- Mixed in: `instructions:general`, replacing 50% of the training documents" in data_section(half.report)
    assert torch.equal(half.blocks["test"], pure.blocks["test"]), "held-out splits stay human"
    instructions = __import__("datamodules.tinyworld", fromlist=["general_instructions"]).general_instructions(2000, 0)
    heads = {i["text"].split("\n")[0] for i in instructions}
    world_docs = pure.tinyworld.documents
    text_of = {name: decoded(dm, "train") for name, dm in (("half", half), ("whole", whole))}
    assert not any(d["text"][:80] in text_of["whole"] for d in world_docs), "share 1: no human document left"
    kept = sum(d["text"][:80] in text_of["half"] for d in world_docs)
    assert 0 < kept < len(world_docs) and any(h in text_of["half"] for h in heads)


@pytest.mark.parametrize("kwargs, message", [
    ({"mix_source": "instructions:general", "mix_share": 1.5}, "mix_share"),
    ({"mix_share": 0.5}, "needs --data.mix_source"),
])
def test_bad_mix_share_is_refused(kwargs, message):
    with pytest.raises(ZooError, match=message):
        small(**kwargs)


@pytest.mark.parametrize("source", ["sampled:base-lm-tiny", "sampled:0:base-lm-tiny", "sampled:12:"])
def test_malformed_sampled_source_is_refused(source):
    from datamodules.base import load_documents

    with pytest.raises(ZooError, match="sampled:<documents>:<model>"):
        load_documents(source)
