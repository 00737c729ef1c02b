"""``uprise``: zero-shot accuracy on a held-out task cluster with prompts from five sources (UPRISE's evaluation).

For each test input of the held-out cluster, a frozen causal LM answers its multiple-choice
question (the option with the lowest mean token loss, as upstream) after ``k`` prompts from the
training clusters' pool, the best-matching prompt last (next to the input, as upstream orders them):

- ``none``: no prompt (zero-shot);
- ``random``: ``k`` pool prompts drawn per input (seeded by the input);
- ``bm25``: the ``k`` best by BM25 over the input's words (``bm25s``);
- ``minilm``: the ``k`` best by the off-the-shelf MiniLM (all-MiniLM-L6-v2, mean pooling, cosine);
- ``uprise``: the ``k`` best by the retriever under test.

A task names one source and one LM, so the board shows each in its own column; the LM need not be
the one that scored the retriever's training candidates (cross-model transfer). Every source of one
(LM, clusters) is computed together the first time one is asked for, and kept for the process.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

from benchmarks.evaluators import Score, evaluator
from zoo.errors import ZooError


@lru_cache(maxsize=8)
def _all_sources(module: Any, lm: str, clusters_json: str, k: int, seed: int, limit: int | None) -> dict[str, Score]:
    from datamodules.retrieval import Clusters
    from zoo.modules.uprise import PROMPT_SOURCES, answered_right

    clusters = Clusters(**json.loads(clusters_json))
    items = clusters.test()[:limit] if limit else clusters.test()
    pool = [item.demonstration for item in clusters.pool()]
    scores = {}
    for source in PROMPT_SOURCES:
        chosen = module.prompt_indices(source, pool, items, seed, k)
        right = answered_right(lm, [[pool[i] for i in row] for row in chosen], items)
        value = sum(right) / len(right)
        scores[source] = Score("acc", value, math.sqrt(value * (1 - value) / len(items)))
    return scores


@evaluator(version="1", kinds=("bi-encoder",))
def uprise(module: Any, args: dict[str, Any], limit: int | None) -> list[Score]:
    """Accuracy of ``args.lm`` on the held-out cluster with ``args.source``'s prompts.

    Task args:
        source: One of ``none``, ``random``, ``bm25``, ``minilm``, ``uprise``.
        lm: The causal LM that answers (a zoo name, ``local-dir:`` or ``hf-hub:``).
        clusters: ``datamodules.retrieval.Clusters`` fields (the world and the held-out cluster).
        k: Prompts per input (upstream 3).
        seed: Seed of the random prompts.
    """
    from zoo.modules.uprise import PROMPT_SOURCES

    source = args.get("source", "uprise")
    if source not in PROMPT_SOURCES:
        raise ZooError(f"uprise task: source={source!r}; use one of {', '.join(PROMPT_SOURCES)}")
    if "lm" not in args:
        raise ZooError("uprise task: name the LM that answers under args.lm (e.g. uprise-lm-tiny)")
    clusters = json.dumps(args.get("clusters", {}), sort_keys=True)
    return [_all_sources(module, args["lm"], clusters, int(args.get("k", 3)), int(args.get("seed", 0)), limit)[source]]
