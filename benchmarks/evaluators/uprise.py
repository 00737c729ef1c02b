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
import random
from functools import lru_cache
from typing import Any

import torch

from benchmarks.evaluators import Score, evaluator
from zoo.errors import ZooError

SOURCES = ("none", "random", "bm25", "minilm", "uprise")
#: The off-the-shelf dense retriever: the offline all-MiniLM-L6-v2.
MINILM = "minilm-l6-v2"


def random_prompts(pool: list[str], ids: list[str], k: int, seed: int) -> list[list[int]]:
    """``k`` pool indices per input, drawn with a stream seeded by the input's id."""
    return [random.Random(f"uprise:random-prompts:{seed}:{item_id}").sample(range(len(pool)), k) for item_id in ids]


def bm25_prompts(pool: list[str], queries: list[str], k: int) -> list[list[int]]:
    """The ``k`` pool indices BM25 ranks best for each query (``bm25s``, English stop words removed)."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(pool, stopwords="en", show_progress=False), show_progress=False)
    indices, _ = retriever.retrieve(bm25s.tokenize(queries, stopwords="en", show_progress=False), k=k,
                                    show_progress=False, n_threads=1)
    return [list(map(int, row)) for row in indices]


def minilm_prompts(pool: list[str], queries: list[str], k: int) -> list[list[int]]:
    """The ``k`` pool indices nearest each query by the pretrained MiniLM (mean pooling, cosine similarity,
    as sentence-transformers uses it)."""
    from transformers import AutoModel, AutoTokenizer

    from zoo.nets import pool as pool_states
    from zoo.nets.search import exact_top_k
    from zoo.resolve import resolve

    folder = resolve(MINILM)
    model = AutoModel.from_pretrained(folder, trust_remote_code=False).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)

    @torch.inference_mode()
    def embed(texts: list[str]) -> torch.Tensor:
        out = []
        for start in range(0, len(texts), 64):
            batch = tokenizer(texts[start:start + 64], truncation=True, max_length=256, padding=True,
                              return_tensors="pt")
            states = model(**batch).last_hidden_state
            out.append(torch.nn.functional.normalize(pool_states(states, batch["attention_mask"], "mean"), dim=-1))
        return torch.cat(out)

    return exact_top_k(embed(queries), embed(pool), k)[1].tolist()


def accuracy(lm: str, prompts: list[list[str]], items: list, batch_size: int = 64) -> tuple[float, list[bool]]:
    """Share of ``items`` the LM answers right after their prompts (given best first, read best last)."""
    from datamodules.retrieval import one_shot_contexts, option_losses

    net, tokenizer = _lm(lm)
    contexts = [one_shot_contexts(list(reversed(chosen)), item) for chosen, item in zip(prompts, items)]
    losses = option_losses(net, tokenizer, contexts, [item.options for item in items], batch_size)
    right = [min(range(len(loss)), key=loss.__getitem__) == item.answer_index for loss, item in zip(losses, items)]
    return sum(right) / len(right), right


@lru_cache(maxsize=4)
def _lm(reference: str):
    from zoo.resolve import load_pretrained

    net, tokenizer = load_pretrained(reference)
    return net.eval(), tokenizer


@lru_cache(maxsize=8)
def _all_sources(module: Any, lm: str, clusters_json: str, k: int, seed: int, limit: int | None) -> dict[str, Score]:
    from datamodules.retrieval import Clusters

    clusters = Clusters(**json.loads(clusters_json))
    pool_items, items = clusters.pool(), clusters.test()[:limit] if limit else clusters.test()
    pool = [item.demonstration for item in pool_items]
    queries = [item.input for item in items]
    chosen = {
        "none": [[] for _ in items],
        "random": random_prompts(pool, [item.id for item in items], k, seed),
        "bm25": bm25_prompts(pool, queries, k),
        "minilm": minilm_prompts(pool, queries, k),
        "uprise": module.retrieve(queries, pool, k)[1].tolist(),
    }
    scores = {}
    for source, indices in chosen.items():
        value, _ = accuracy(lm, [[pool[i] for i in row] for row in indices], items)
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
    source = args.get("source", "uprise")
    if source not in SOURCES:
        raise ZooError(f"uprise task: source={source!r}; use one of {', '.join(SOURCES)}")
    if "lm" not in args:
        raise ZooError("uprise task: name the LM that answers under args.lm (e.g. uprise-lm-tiny)")
    k = int(args.get("k", 3))
    clusters = json.dumps(args.get("clusters", {}), sort_keys=True)
    return [_all_sources(module, args["lm"], clusters, k, int(args.get("seed", 0)), limit)[source]]
