"""Datasets of the tinyworld lm-eval tasks, generated from the seeded world (nothing is downloaded).

Called by lm-eval as ``custom_dataset(**metadata, **dataset_kwargs)``; the task YAMLs pass the
world's settings, so a task's data is fixed by its YAML (the suites pin their sha256 too).
"""

from __future__ import annotations

from functools import lru_cache

import datasets

from datamodules.base import split_of
from datamodules.text import document_text
from datamodules.tinyworld import generate_world


def tinyworld(part: str, domain: str, seed: int = 0, n_entities: int = 200, val_fraction: float = 0.05,
              test_fraction: float = 0.05, split_seed: int = 0, **metadata) -> datasets.DatasetDict:
    """One evaluation part of a tinyworld as a ``{"test": Dataset}``.

    Args:
        part: ``cloze`` (facts in document wording), ``question`` (facts in new wording) or
            ``heldout`` (the documents a ``TextCorpusDataModule`` holds out for test perplexity).
        domain: tinyworld domain.
        seed: World seed.
        n_entities: World size.
        val_fraction: The DataModule's validation share (to reproduce its document split).
        test_fraction: The DataModule's test share.
        split_seed: The DataModule's split seed.
        **metadata: lm-eval passes task metadata (version...) here; unused.
    """
    return _part(part, domain, seed, n_entities, val_fraction, test_fraction, split_seed)


@lru_cache(maxsize=64)
def _part(part: str, domain: str, seed: int, n_entities: int, val_fraction: float, test_fraction: float,
          split_seed: int) -> datasets.DatasetDict:
    """``tinyworld``'s data, made once per process: a sweep loads each task once per model it evaluates, and
    lm-eval only reads a loaded ``Dataset`` (its processing returns new ones)."""
    world = generate_world(domain=domain, seed=seed, n_entities=n_entities)
    if part == "cloze":
        rows = world.cloze
    elif part == "question":
        rows = world.questions
    elif part == "heldout":
        rows = [{"id": d["id"], "text": document_text(d["title"], d["text"])} for d in world.documents
                if split_of(d["id"], val_fraction, test_fraction, split_seed) == "test"]
    else:
        raise ValueError(f"unknown tinyworld task part '{part}'; use cloze, question or heldout")
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
