"""Datasets (and ChemProt's labels) of the zoo's biomedical tasks, from ``ZOO_DATA_DIR`` or the hub.

Called by lm-eval as ``custom_dataset(**metadata)``; each returns ``{"test": Dataset}``. As for
the general tasks (``real_general/loaders.py``, whose source plumbing this reuses), the local
files and the hub rows become the same records, and the task YAMLs render those.

PubMedQA (PQA-L, the 1000 expert-labelled questions), test = the authors' 500 test PMIDs:

* local: ``pubmedqa/ori_pqal.json`` (PMID -> item) and ``pubmedqa/test_ground_truth.json``
  (test PMID -> label) from github pubmedqa/pubmedqa;
* hub: ``qiaojin/PubMedQA`` ``pqa_labeled`` (the authors' copy; its one split, ``train``, holds
  all 1000), the test PMIDs drawn as the authors' ``preprocess/split_dataset.py`` draws them
  (``official_test_pmids``). That draw depends on the row order, taken to be ``ori_pqal.json``'s,
  which the copy's former loading script kept. lm-eval's own pubmedqa reads ``bigbio/pubmed_qa``,
  a loading script that ``datasets>=4`` no longer runs.

Records: ``{"pmid", "QUESTION", "CONTEXTS", "LABELS", "MESHES", "LONG_ANSWER", "final_decision"}``
(the ``ori_pqal.json`` fields that both sources have).

ChemProt (sentence-level relation classification as SciBERT / "Don't Stop Pretraining" ship it):

* local: ``chemprot/test.txt``, JSON lines ``{text, label, metadata}`` (3469 rows);
* hub: ``AdaptLLM/ChemProt`` config ``ChemProt`` split ``test``, the same files re-uploaded by
  AdaptLLM for their biomedical evaluation (the BigBio ``bigbio/chemprot`` is a loading script
  over whole abstracts, not these sentences).

Records: ``{"text", "label"}``. The two entities of a pair are marked ``<< ... >>`` and
``[[ ... ]]`` in order of appearance, so the markers do not tell the chemical from the gene.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import datasets

from benchmarks.tasks.real_general.loaders import HubSource, as_test_split, data_dir, hub_rows, local_data, read_jsonl

PUBMEDQA_HUB = HubSource("qiaojin/PubMedQA", "pqa_labeled", "train")
CHEMPROT_HUB = HubSource("AdaptLLM/ChemProt", "ChemProt", "test")

#: The ``ori_pqal.json`` item fields a PubMedQA record keeps.
PQAL_FIELDS = ("QUESTION", "CONTEXTS", "LABELS", "MESHES", "LONG_ANSWER", "final_decision")

#: ChemProt relation label -> the words scored as its answer (fixed: changing one changes scores).
#: The 13 labels of the SciBERT release (train, dev and test together); there is no "false" or
#: no-relation label in it, and SUBSTRATE_PRODUCT-OF does not occur in the test split.
CHEMPROT_VERBALIZERS = {
    "ACTIVATOR": "activator",
    "AGONIST": "agonist",
    "AGONIST-ACTIVATOR": "agonist and activator",
    "AGONIST-INHIBITOR": "agonist and inhibitor",
    "ANTAGONIST": "antagonist",
    "DOWNREGULATOR": "downregulator",
    "INDIRECT-DOWNREGULATOR": "indirect downregulator",
    "INDIRECT-UPREGULATOR": "indirect upregulator",
    "INHIBITOR": "inhibitor",
    "PRODUCT-OF": "product of",
    "SUBSTRATE": "substrate",
    "SUBSTRATE_PRODUCT-OF": "substrate or product of",
    "UPREGULATOR": "upregulator",
}
#: Every question offers all 13 answers, in alphabetical order.
CHEMPROT_CHOICES = sorted(CHEMPROT_VERBALIZERS.values())


def official_test_pmids(pqal: dict[str, dict]) -> list[str]:
    """PQA-L's 500 test PMIDs, drawn as pubmedqa/pubmedqa ``preprocess/split_dataset.py`` does.

    The authors seed ``random`` with 0, group the PMIDs by label (yes, no, maybe) in file order,
    shuffle each group and keep its second half (the first ``ceil(n / 2)`` go to cross-validation).
    This reproduces ``test_ground_truth.json``, order included, when ``pqal`` is in the order of
    ``ori_pqal.json``. (Their rebalancing step only runs for halves of unequal size, which the
    1000 questions never give: every label count is even.)

    Args:
        pqal: PMID -> item, in ``ori_pqal.json`` order.
    """
    rng = random.Random(0)
    by_label: dict[str, list[str]] = {"yes": [], "no": [], "maybe": []}
    for pmid, item in pqal.items():
        by_label[item["final_decision"]].append(pmid)
    test = []
    for pmids in by_label.values():
        rng.shuffle(pmids)
        test += pmids[math.ceil(len(pmids) / 2) :]
    return test


def pqal_item(row: dict) -> tuple[str, dict]:
    """A ``qiaojin/PubMedQA`` pqa_labeled row as its ``ori_pqal.json`` entry (PMID, item).

    Args:
        row: The hub row: pubid, question, context {contexts, labels, meshes, ...}, long_answer,
            final_decision.
    """
    context = row["context"]
    item = {
        "QUESTION": row["question"],
        "CONTEXTS": list(context["contexts"]),
        "LABELS": list(context["labels"]),
        "MESHES": list(context["meshes"]),
        "LONG_ANSWER": row["long_answer"],
        "final_decision": row["final_decision"],
    }
    return str(row["pubid"]), item


def _pubmedqa_local(folder: Path) -> tuple[dict[str, dict], set[str]]:
    """PQA-L's items and test PMIDs from the upstream files."""
    with (folder / "ori_pqal.json").open(encoding="utf-8") as f:
        pqal = json.load(f)
    with (folder / "test_ground_truth.json").open(encoding="utf-8") as f:
        return pqal, set(json.load(f))


def pubmedqa(**metadata) -> datasets.DatasetDict:
    """PubMedQA's 500 test questions as ``{"test": Dataset}`` of records, in PQA-L's order.

    Args:
        **metadata: lm-eval passes the task metadata (version...) here; unused.

    Raises:
        FileNotFoundError: ``ZOO_DATA_DIR`` is set but lacks the set's files.
        ConnectionError: ``ZOO_DATA_DIR`` is not set and the hub cannot be reached.
    """
    if data_dir() is not None:
        pqal, test = local_data("pubmedqa", "pubmedqa", _pubmedqa_local, PUBMEDQA_HUB)
    else:
        pqal = dict(pqal_item(row) for row in hub_rows("pubmedqa", PUBMEDQA_HUB))
        test = set(official_test_pmids(pqal))
    # In ori_pqal.json order: test_ground_truth.json groups its PMIDs by label, so the first docs
    # (all a --limit run sees) would all be "yes".
    return as_test_split(
        {"pmid": pmid, **{k: item[k] for k in PQAL_FIELDS}} for pmid, item in pqal.items() if pmid in test
    )


def chemprot_record(row: dict) -> dict:
    """A ChemProt row ``{text, label, metadata}`` (local file and hub alike) as a record.

    Args:
        row: The upstream row.

    Raises:
        ValueError: A label outside ``CHEMPROT_VERBALIZERS``.
    """
    if row["label"] not in CHEMPROT_VERBALIZERS:
        raise ValueError(f"unknown ChemProt label {row['label']!r}; known: {sorted(CHEMPROT_VERBALIZERS)}")
    # metadata is empty in every release.
    return {"text": row["text"], "label": row["label"]}


def chemprot(**metadata) -> datasets.DatasetDict:
    """ChemProt's test sentences as ``{"test": Dataset}`` of records.

    Args:
        **metadata: lm-eval passes the task metadata (version...) here; unused.

    Raises:
        FileNotFoundError: ``ZOO_DATA_DIR`` is set but lacks the set's file.
        ConnectionError: ``ZOO_DATA_DIR`` is not set and the hub cannot be reached.
    """
    if data_dir() is not None:
        rows = local_data("chemprot", "chemprot", lambda folder: read_jsonl(folder / "test.txt"), CHEMPROT_HUB)
    else:
        rows = hub_rows("chemprot", CHEMPROT_HUB)
    return as_test_split(chemprot_record(row) for row in rows)


# ChemProt rendering (the entity names and the label table need code, not a template).


def _between(text: str, opening: str, closing: str) -> str:
    start = text.index(opening) + len(opening)
    return text[start : text.index(closing, start)]


def chemprot_text(doc: dict) -> str:
    """The question about the marked pair: the sentence, then which relation holds.

    ``"<sentence>\\nQuestion: << e1 >> and [[ e2 ]] are a chemical and a gene or protein, in some
    order. What is the chemical to the gene or protein?\\nAnswer:"``: the markers stay in the
    sentence and the names are repeated, but their order does not tell which is the chemical.

    Args:
        doc: A ChemProt record.
    """
    # The markers carry inner spaces; "[[" without one also occurs inside chemical names.
    first, second = _between(doc["text"], "<< ", " >>"), _between(doc["text"], "[[ ", " ]]")
    return (
        f"{doc['text']}\nQuestion: << {first} >> and [[ {second} ]] are a chemical and a gene or "
        "protein, in some order. What is the chemical to the gene or protein?\nAnswer:"
    )


def chemprot_choices(doc: dict) -> list[str]:
    """All 13 relation names, the same for every question.

    Args:
        doc: A ChemProt record.
    """
    return list(CHEMPROT_CHOICES)


def chemprot_target(doc: dict) -> int:
    """Index of the record's relation in ``CHEMPROT_CHOICES``.

    Args:
        doc: A ChemProt record.
    """
    return CHEMPROT_CHOICES.index(CHEMPROT_VERBALIZERS[doc["label"]])
