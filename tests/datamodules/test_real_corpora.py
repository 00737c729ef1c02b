"""Named real corpora from ZOO_DATA_DIR: what they hold, what they must never hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from datamodules.base import load_documents
from datamodules.real_corpora import load_real_corpus
from zoo.errors import ZooError


def test_biomed_text_excludes_the_pubmedqa_test_questions():
    docs = load_real_corpus("biomed-text")
    test = set(json.loads((Path(os.environ["ZOO_DATA_DIR"]) / "pubmedqa" / "test_ground_truth.json").read_text()))
    pubmed = [d for d in docs if d["id"].startswith("pubmedqa-")]
    assert len(pubmed) == 500 and not {d["id"].removeprefix("pubmedqa-") for d in pubmed} & test
    assert all(d["title"].endswith("?") and len(d["text"]) > 200 for d in pubmed)
    assert sum(d["id"].startswith("ROCO_") for d in docs) == 4001


def test_zoo_data_source_loads_as_documents():
    documents, fingerprint = load_documents("zoo-data:biomed-text")
    assert len(documents) == 4501 and documents.column_names == ["id", "title", "text"]
    assert fingerprint == load_documents("zoo-data:biomed-text")[1]


def test_missing_data_dir_and_unknown_corpus(monkeypatch):
    with pytest.raises(ZooError, match="unknown zoo-data corpus 'nope'"):
        load_real_corpus("nope")
    monkeypatch.delenv("ZOO_DATA_DIR")
    with pytest.raises(ZooError, match="set it to their folder"):
        load_real_corpus("biomed-text")
