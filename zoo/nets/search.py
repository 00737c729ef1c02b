"""Top-k search of query embeddings in a pool of prompt embeddings by dot product.

Exact search is one matrix product per batch of queries and ``torch.topk``. On a 100k-prompt pool the
float32 product dominates, so a large pool is scanned first in bfloat16 (CPUs with bf16 dot products run
it 2-3x faster), and only each query's best few are rescored in float32; a bound on the bfloat16 error
decides, per query, whether that shortlist certainly holds the float32 top-k, and a query it does not
settle is searched again in float32. The result is the float32 search's either way. FAISS (``faiss-cpu``)
is the option for pools that outgrow memory: its flat inner-product index gives the same results; its
compressed indexes trade exactness for memory. ``python -m benchmarks.perf.retrieval_throughput``
compares them with a per-query loop.
"""

from __future__ import annotations

import torch

from zoo.errors import ZooError

#: Search backends: ``exact`` (torch matrix product + topk) or ``faiss`` (a flat inner-product index).
BACKENDS = ("exact", "faiss")
#: Prompts per query rescored in float32 after the bfloat16 scan.
SHORTLIST = 32
#: Unit roundoffs of bfloat16 (8 significand bits) and float32 (24).
BF16_UNIT, FLOAT32_UNIT = 2.0 ** -8, 2.0 ** -24


def bf16_error_bound(rough: torch.Tensor, query_norms: torch.Tensor, prompt_norms: torch.Tensor,
                     dim: int) -> torch.Tensor:
    """How far a float32 dot product can lie above or below the bfloat16 product's ``rough`` score.

    Rounding each input to bfloat16 errs by u |x_i|, so the products by at most (2u + u^2) sum |q_i p_i| <=
    (2u + u^2) |q| |p| (Cauchy-Schwarz); accumulating in float32 (oneDNN's and torch's CPU kernels do) adds
    ``dim`` float32 roundoffs of the same sum, and float32's own product as many again; rounding the result to
    bfloat16 errs by u times it, at most u (1 + 2u) |rough|. Broadcasts ``rough`` against the norms.
    """
    per_norm = 2 * BF16_UNIT + BF16_UNIT ** 2 + 3 * dim * FLOAT32_UNIT
    return per_norm * query_norms * prompt_norms + BF16_UNIT * (1 + 2 * BF16_UNIT) * rough.abs()


def _check_k(k: int, pool: torch.Tensor) -> None:
    if not 1 <= k <= pool.size(0):
        raise ZooError(f"top-k needs 1 <= k <= pool size (k={k}, pool of {pool.size(0)})")


def _float32_top_k(queries: torch.Tensor, pool: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    best = torch.topk(queries @ pool.T, k, dim=1)
    return best.values, best.indices


def _shortlisted_top_k(queries: torch.Tensor, pool: torch.Tensor, pool_bf16: torch.Tensor, max_norm: float, k: int,
                       shortlist: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 top-k of one batch through a bfloat16 scan: see the module's docstring."""
    rough = torch.topk(queries.bfloat16() @ pool_bf16.T, shortlist, dim=1)
    candidates = rough.indices
    exact = torch.bmm(pool[candidates], queries.unsqueeze(2)).squeeze(2)
    best = torch.topk(exact, k, dim=1)
    indices = candidates.gather(1, best.indices)
    # A prompt outside the shortlist scored at most the shortlist's last bf16 score t, so its float32 score is at
    # most t plus the bound at t (score + u |score| grows with the score; the norm term is the largest prompt's).
    threshold = rough.values[:, -1].float()
    outside_at_most = threshold + bf16_error_bound(threshold, queries.norm(dim=1), max_norm, queries.size(1))
    unsettled = (best.values[:, -1] <= outside_at_most).nonzero().squeeze(1)
    values = best.values
    if unsettled.numel():
        values, indices = values.clone(), indices.clone()
        values[unsettled], indices[unsettled] = _float32_top_k(queries[unsettled], pool, k)
    return values, indices


def exact_top_k(queries: torch.Tensor, pool: torch.Tensor, k: int, batch_size: int = 1024,
                shortlist: int = SHORTLIST) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` pool rows with the largest dot product with each query, best first (float32 scores).

    Args:
        queries: ``(Q, D)`` embeddings.
        pool: ``(N, D)`` embeddings.
        k: Results per query (at most ``N``).
        batch_size: Queries per matrix product (measured best of 32-1024 on a 100k pool: the largest).
        shortlist: Prompts per query rescored in float32 after a bfloat16 scan of the pool; 0, or a pool no
            larger than ``max(shortlist, 4 * k)``, searches in float32 alone. Either way the result is the
            float32 search's: a query whose shortlist might miss one of its top ``k`` is searched again.

    Returns:
        ``(scores, indices)``, each ``(Q, k)``.
    """
    _check_k(k, pool)
    queries, pool = queries.float(), pool.float()
    use_shortlist = shortlist > 0 and pool.size(0) > max(shortlist, 4 * k)
    if use_shortlist:
        shortlist = max(shortlist, 4 * k)
        pool_bf16, max_norm = pool.bfloat16(), float(pool.norm(dim=1).max())
    scores, indices = [torch.empty(0, k)], [torch.empty(0, k, dtype=torch.long)]  # no queries: no rows
    for start in range(0, queries.size(0), batch_size):
        batch = queries[start:start + batch_size]
        values, rows = (_shortlisted_top_k(batch, pool, pool_bf16, max_norm, k, shortlist) if use_shortlist
                        else _float32_top_k(batch, pool, k))
        scores.append(values)
        indices.append(rows)
    return torch.cat(scores), torch.cat(indices)


def faiss_top_k(queries: torch.Tensor, pool: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`exact_top_k` through a FAISS flat inner-product index (``IndexFlatIP``, upstream's index)."""
    try:
        import faiss
    except ImportError:
        raise ZooError("the faiss backend needs faiss-cpu: pip install faiss-cpu (or use the exact backend)") from None
    _check_k(k, pool)
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
