"""Mixing a second source into the training split (AdaptLLM's general instructions)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from datamodules import TextCorpusDataModule
from datamodules.text import Document
from datamodules.tinyworld import general_instructions
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
    mix = half.report["mix"]
    assert {key: mix[key] for key in ("source", "share")} == {"source": "instructions:general", "share": 0.5}
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
    ({"mix_source": "instructions:general", "mix_share": 0.5, "mix_unit": "tokens"}, "replaces a share of the"),
    ({"mix_source": "instructions:general", "mix_unit": "words"}, "mix_unit='words' is not a unit.*documents, tokens"),
])
def test_bad_mix_share_is_refused(kwargs, message):
    with pytest.raises(ZooError, match=message):
        small(**kwargs)


def token_counts(dm: TextCorpusDataModule) -> Counter:
    """Tokens of the training sequences that are mixed-in instructions and that are the world's documents,
    measured on the sequences (documents packing: every piece starts with bos, padding aside)."""
    instructions = {row["text"] for row in general_instructions(2000, 0)}
    tok, counts = dm.tokenizer, Counter()
    for row in dm.blocks["train"]:
        starts = (row == tok.bos_token_id).nonzero().flatten().tolist()
        for a, b in zip(starts, [*starts[1:], len(row)]):
            piece = row[a:b][row[a:b] != tok.pad_token_id]
            text = tok.decode(piece.tolist(), skip_special_tokens=True)
            counts["mixed" if text in instructions else "documents"] += len(piece)
    return counts


@pytest.mark.parametrize("ratio", [0.5, 2.0])
def test_token_mix_holds_the_ratio_in_tokens(ratio):
    dm = small(mix_source="instructions:general", mix_ratio=ratio, mix_unit="tokens", packing="documents",
               block_size=512)
    dm.setup()
    counts = token_counts(dm)
    assert counts["mixed"] / counts["documents"] == pytest.approx(ratio, rel=0.02)
    report = dm.report["mix"]
    assert report["unit"] == "tokens" and report["tokens"]["documents"] == counts["documents"]
    assert report["tokens"]["mixed"] == counts["mixed"]
    by_documents = small(mix_source="instructions:general", mix_ratio=ratio, packing="documents", block_size=512)
    by_documents.setup()
    counts = token_counts(by_documents)
    assert counts["mixed"] / counts["documents"] < ratio / 4, "a document-count ratio mixes in few short texts"


def test_token_sample_uses_every_document_once_before_any_twice():
    import random

    pool = [Document([0] * n, f"doc {n}") for n in (3, 5, 2)]
    chosen = TextCorpusDataModule._token_sample(pool, 12, random.Random(0))
    lengths = [len(d.ids) for d in chosen]
    assert sum(lengths) >= 12 > sum(lengths[:-1]), "stops at the first document that reaches the target"
    assert sorted(lengths[:3]) == [2, 3, 5] and len(chosen) == 4


@pytest.mark.parametrize("source", ["sampled:base-lm-tiny", "sampled:0:base-lm-tiny", "sampled:12:"])
def test_malformed_sampled_source_is_refused(source):
    from datamodules.base import load_documents

    with pytest.raises(ZooError, match="sampled:<documents>:<model>"):
        load_documents(source)
