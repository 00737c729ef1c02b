"""Top-k search of query embeddings in a pool of prompt embeddings by dot product.

Exact search is one matrix product per batch of queries and ``torch.topk``: on a 100k-prompt pool it
is memory-bound, not FLOP-bound, so queries go in batches that share each pass over the pool. FAISS
(``faiss-cpu``) is the option for pools that outgrow memory-bound exact search: its flat
inner-product index gives the same results; its compressed indexes trade exactness for memory.
``python -m benchmarks.perf.retrieval_throughput`` compares them with a per-query loop.
"""

from __future__ import annotations

import torch

from zoo.errors import ZooError

#: Search backends: ``exact`` (torch matrix product + topk) or ``faiss`` (a flat inner-product index).
BACKENDS = ("exact", "faiss")


def exact_top_k(queries: torch.Tensor, pool: torch.Tensor, k: int, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` pool rows with the largest dot product with each query, best first.

    Args:
        queries: ``(Q, D)`` embeddings.
        pool: ``(N, D)`` embeddings.
        k: Results per query (at most ``N``).
        batch_size: Queries per matrix product (measured best of 32-1024 on a 100k pool: the largest).

    Returns:
        ``(scores, indices)``, each ``(Q, k)``.
    """
    if not 1 <= k <= pool.size(0):
        raise ZooError(f"top-k needs 1 <= k <= pool size (k={k}, pool of {pool.size(0)})")
    scores, indices = [], []
    for start in range(0, queries.size(0), batch_size):
        best = torch.topk(queries[start:start + batch_size] @ pool.T, k, dim=1)
        scores.append(best.values)
        indices.append(best.indices)
    return torch.cat(scores), torch.cat(indices)


def faiss_top_k(queries: torch.Tensor, pool: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`exact_top_k` through a FAISS flat inner-product index (``IndexFlatIP``, upstream's index)."""
    try:
        import faiss
    except ImportError:
        raise ZooError("the faiss backend needs faiss-cpu: pip install faiss-cpu (or use the exact backend)") from None
    if not 1 <= k <= pool.size(0):
        raise ZooError(f"top-k needs 1 <= k <= pool size (k={k}, pool of {pool.size(0)})")
    index = faiss.IndexFlatIP(pool.size(1))
    index.add(pool.float().contiguous().numpy())
    scores, indices = index.search(queries.float().contiguous().numpy(), k)
    return torch.from_numpy(scores), torch.from_numpy(indices).long()


def top_k(queries: torch.Tensor, pool: torch.Tensor, k: int, backend: str = "exact") -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k search with the ``backend`` of ``BACKENDS``."""
    if backend == "exact":
        return exact_top_k(queries, pool, k)
    if backend == "faiss":
        return faiss_top_k(queries, pool, k)
    raise ZooError(f"unknown search backend '{backend}'; choose one of {', '.join(BACKENDS)}")
