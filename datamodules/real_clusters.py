"""UPRISE's real task clusters, read from ``ZOO_DATA_DIR`` (its ``zeroshot/`` slices and SST-2).

The clusters are the paper's, as far as the local data reaches (SOURCES.md): close QA (ARC-e, ARC-c,
OpenBookQA), commonsense (COPA, PIQA, SIQA, CommonsenseQA), coreference (WinoGrande, WSC), reading
(BoolQ) and sentiment (SST-2). Each data set is one task; each example becomes a multiple-choice
``ClusterItem`` (input, options with their leading space, gold), so the same pool, candidates,
scoring and evaluation run on them as on the tinyworld clusters, with any causal LM. A coreference
example (two contexts, one continuation) becomes the shared prefix with the options as the rest of
each context plus the continuation.
"""

from __future__ import annotations

import json
import os

from datamodules.real_corpora import data_dir
from datamodules.tinyworld.clusters import ClusterItem
from zoo.errors import ZooError

#: cluster -> {task: its file under ``ZOO_DATA_DIR``}.
REAL_CLUSTERS: dict[str, dict[str, str]] = {
    "close_qa": {"arc_easy": "zeroshot/arc_easy.jsonl", "arc_challenge": "zeroshot/arc_challenge.jsonl",
                 "openbook_qa": "zeroshot/openbook_qa.jsonl"},
    "commonsense": {"copa": "zeroshot/copa.jsonl", "piqa": "zeroshot/piqa.jsonl", "siqa": "zeroshot/siqa.jsonl",
                    "commonsense_qa": "zeroshot/commonsense_qa.jsonl"},
    "coreference": {"winogrande": "zeroshot/winogrande.jsonl", "winograd_wsc": "zeroshot/winograd_wsc.jsonl"},
    "reading": {"boolq": "zeroshot/boolq.jsonl"},
    "sentiment": {"sst2": "sst2/dev.tsv"},
}


def _multiple_choice(row: dict) -> tuple[str, tuple[str, ...], int]:
    if "context_options" in row:  # coreference: the options differ inside the context, the continuation is shared
        contexts = row["context_options"]
        prefix = os.path.commonprefix(contexts)
        prefix = prefix[: prefix.rfind(" ") + 1] if " " in prefix else ""
        return prefix.rstrip(), tuple(" " + c[len(prefix):] + " " + row["continuation"] for c in contexts), row["gold"]
    return row["query"], tuple(" " + str(choice) for choice in row["choices"]), row["gold"]


def _examples(file, path: str) -> list[tuple[str, tuple[str, ...], int]]:
    lines = [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    examples = []
    for number, line in enumerate(lines, start=1):
        try:
            if path.endswith(".tsv"):
                sentence, label = line.rsplit("\t", 1)
                if label.strip() == "label":  # the header
                    continue
                examples.append((f"Review: {sentence.strip()}\nSentiment:", (" negative", " positive"), int(label)))
            else:
                examples.append(_multiple_choice(json.loads(line)))
        except (ValueError, KeyError, TypeError) as error:
            raise ZooError(f"{file}:{number}: not a multiple-choice example ({error}); check the file against "
                           "SOURCES.md") from None
    return examples


def real_cluster_items() -> list[ClusterItem]:
    """Every real cluster's examples, in cluster and file order.

    Raises:
        ZooError: when ``ZOO_DATA_DIR`` is unset or lacks a file (naming it), or a line is not an example.
    """
    root = data_dir()
    items: list[ClusterItem] = []
    for cluster, tasks in REAL_CLUSTERS.items():
        for task, path in tasks.items():
            file = root / path
            if not file.is_file():
                raise ZooError(f"{file} not found; ZOO_DATA_DIR must hold the layout described in its SOURCES.md")
            for text, options, gold in _examples(file, path):
                items.append(ClusterItem(f"{cluster}-{task}-{len(items):06d}", cluster, task, "", "", text, options,
                                         gold))
    return items
