"""Named real text corpora read from ``ZOO_DATA_DIR`` where they lie (``zoo-data:<name>`` sources).

``biomed-text``: biomedical prose for continued pre-training: the abstracts (contexts and long
answers) of the 500 PubMedQA expert-labelled questions that are *not* in its test set (the 500 test
PMIDs are evaluated by the ``real-biomed`` suite and must never be trained on), and the ROCO figure
captions. PubMedQA questions are rephrased paper titles, so they serve as document titles.
"""

from __future__ import annotations

import ast
import csv
import json
import os
from pathlib import Path
from typing import Callable

from zoo.errors import ZooError


def data_dir() -> Path:
    """``ZOO_DATA_DIR``, or a clear error."""
    value = os.environ.get("ZOO_DATA_DIR")
    if not value or not Path(value).is_dir():
        raise ZooError("zoo-data: sources read the real data sets from ZOO_DATA_DIR; set it to their folder "
                       "(in this workplace: ../shared/data)")
    return Path(value)


def _read(path: Path) -> str:
    if not path.exists():
        raise ZooError(f"{path} not found; ZOO_DATA_DIR must hold the layout described in its SOURCES.md")
    return path.read_text(encoding="utf-8")


def pubmedqa_training_items(root: Path) -> list[tuple[str, dict, list[str]]]:
    """``(pmid, item, contexts)`` of the PubMedQA expert-labelled items outside its 500 test PMIDs
    (the ``real-biomed`` suite evaluates those: they must never be trained on)."""
    items = json.loads(_read(root / "pubmedqa" / "ori_pqal.json"))
    test = set(json.loads(_read(root / "pubmedqa" / "test_ground_truth.json")))
    training = []
    for pmid in sorted(set(items) - test):
        contexts = items[pmid]["CONTEXTS"]
        # The local copy stores lists as their Python repr; the hub copy as lists.
        training.append((pmid, items[pmid], ast.literal_eval(contexts) if isinstance(contexts, str) else contexts))
    return training


def biomed_text(root: Path) -> list[dict[str, str]]:
    """PubMedQA non-test abstracts (titled by their question) and ROCO captions."""
    documents = [{"id": f"pubmedqa-{pmid}", "title": item["QUESTION"], "text": " ".join([*contexts, item["LONG_ANSWER"]])}
                 for pmid, item, contexts in pubmedqa_training_items(root)]
    with open(root / "roco" / "captions_cc_by.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            documents.append({"id": row["roco_id"], "title": "", "text": row["caption"]})
    return documents


REAL_CORPORA: dict[str, Callable[[Path], list[dict[str, str]]]] = {"biomed-text": biomed_text}


def load_real_corpus(name: str) -> list[dict[str, str]]:
    """The documents of a named real corpus."""
    if name not in REAL_CORPORA:
        raise ZooError(f"unknown zoo-data corpus '{name}'; choose one of {', '.join(sorted(REAL_CORPORA))}")
    return REAL_CORPORA[name](data_dir())
