"""Numeric arguments out of range: a one-line ZooError at construction, naming the argument and its range."""

from __future__ import annotations

import math

import pytest

from datamodules.base import ZooDataModule
from datamodules.instruction import SynthesizerDataModule
from datamodules.synthesis import SynthesisDataModule
from datamodules.text import TextCorpusDataModule
from datamodules.transforms.reading_comprehension import ReadingComprehension, convert_file
from datamodules.transforms.token_editing import TokenEditing, TokenEditor
from zoo.errors import ZooError

ONE_OR_MORE = "must be an integer >= 1"
HELD_OUT = "must be a number in [0, 0.5)"


def synthesis(**kwargs) -> SynthesisDataModule:
    return SynthesisDataModule("unused-out", **{"n_documents": 4, **kwargs})


CASES = [
    (ZooDataModule, {"batch_size": 0}, "--data.batch_size=0", ONE_OR_MORE),
    (ZooDataModule, {"batch_size": -8}, "--data.batch_size=-8", ONE_OR_MORE),
    (ZooDataModule, {"batch_size": 2.5}, "--data.batch_size=2.5", ONE_OR_MORE),
    (ZooDataModule, {"batch_size": True}, "--data.batch_size=True", ONE_OR_MORE),
    (ZooDataModule, {"num_workers": -1}, "--data.num_workers=-1", "must be an integer >= 0"),
    (TextCorpusDataModule, {"batch_size": 0}, "--data.batch_size=0", ONE_OR_MORE),
    (TextCorpusDataModule, {"block_size": 0}, "--data.block_size=0", "must be an integer >= 8"),
    (TextCorpusDataModule, {"block_size": -128}, "--data.block_size=-128", "must be an integer >= 8"),
    (TextCorpusDataModule, {"val_fraction": 0.5}, "--data.val_fraction=0.5", HELD_OUT),
    (TextCorpusDataModule, {"test_fraction": -0.1}, "--data.test_fraction=-0.1", HELD_OUT),
    (TextCorpusDataModule, {"val_fraction": math.nan}, "--data.val_fraction=nan", HELD_OUT),
    (TextCorpusDataModule, {"mix_ratio": -1.0}, "--data.mix_ratio=-1.0", "must be a number >= 0"),
    (TextCorpusDataModule, {"mix_source": "instructions:general", "mix_share": 1.5}, "--data.mix_share=1.5",
     "must be a number in [0, 1]"),
    (TextCorpusDataModule, {"num_proc": 0}, "--data.num_proc=0", ONE_OR_MORE),
    (TextCorpusDataModule, {"world": {"n_entities": -3}}, "n_entities must be an integer >= 4", "(got -3)"),
    (SynthesizerDataModule, {"batch_size": 0}, "--data.batch_size=0", ONE_OR_MORE),
    (SynthesizerDataModule, {"max_length": 0}, "--data.max_length=0", "must be an integer >= 32"),
    (SynthesizerDataModule, {"val_fraction": 0.9}, "--data.val_fraction=0.9", HELD_OUT),
    (SynthesizerDataModule, {"test_fraction": 1.0}, "--data.test_fraction=1.0", HELD_OUT),
    (SynthesizerDataModule, {"world": {"docs_per_entity": 0}}, "docs_per_entity must be an integer >= 1", "(got 0)"),
    (synthesis, {"n_documents": 0}, "--data.n_documents=0", ONE_OR_MORE),
    (synthesis, {"n_documents": -5}, "--data.n_documents=-5", ONE_OR_MORE),
    (synthesis, {"shard_size": 0}, "--data.shard_size=0", ONE_OR_MORE),
    (synthesis, {"shard_size": -1}, "--data.shard_size=-1", ONE_OR_MORE),
    (synthesis, {"batch_size": 0}, "--data.batch_size=0", ONE_OR_MORE),
    (synthesis, {"first": -1}, "--data.first=-1", "must be an integer >= 0"),
    (synthesis, {"count": 0}, "--data.count=0", ONE_OR_MORE),
    (synthesis, {"n_documents": None, "source": "tinyworld:general", "world": {"n_entities": 0}},
     "n_entities must be an integer >= 4", "(got 0)"),
    (ReadingComprehension, {"max_tokens": 0}, "max_tokens=0", ONE_OR_MORE),
    (TokenEditing, {"max_length": 0}, "max_length=0", "must be an integer >= 2"),
    (TokenEditing, {"batch_size": -2}, "batch_size=-2", ONE_OR_MORE),
    (lambda **kwargs: TokenEditor(("net", "tokenizer"), **kwargs), {"batch_size": 0}, "batch_size=0", ONE_OR_MORE),
    (lambda **kwargs: convert_file("in.jsonl", "out.jsonl", **kwargs), {"batch_size": 0}, "batch_size=0", ONE_OR_MORE),
]


@pytest.mark.parametrize("build, kwargs, named, valid", CASES, ids=[named for _, _, named, _ in CASES])
def test_out_of_range_numbers_are_one_line_errors_at_construction(build, kwargs, named, valid):
    with pytest.raises(ZooError) as error:
        build(**kwargs)
    message = str(error.value)
    assert named in message and valid in message and "\n" not in message


@pytest.mark.parametrize("build", [ZooDataModule, TextCorpusDataModule, SynthesizerDataModule, synthesis])
def test_the_defaults_and_the_range_ends_are_valid(build):
    build()
    build(batch_size=1)
    if build in (TextCorpusDataModule, SynthesizerDataModule):
        build(val_fraction=0.0, test_fraction=0.49)
