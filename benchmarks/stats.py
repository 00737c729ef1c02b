"""Item-level statistics of the board: a metric's value from its items, bootstrap intervals, paired tests.

A task's per-item outcomes (``benchmarks.harness`` caches them with the rows) are either numbers, one
per item (accuracy, exact match: the metric is their mean), or ``(log-likelihood, count)`` pairs
(perplexities and bits per byte, which lm-eval aggregates over the whole corpus, not per item).
``metric_value`` turns either into the metric exactly as lm-eval does, so an interval drawn by
resampling items is an interval of the very number on the board.

Everything is seeded: the same items give the same interval, byte for byte, on every run.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

#: Bootstrap resamples of every interval (the percentile interval's 2.5 % tail then holds 25 draws).
BOOTSTRAP_ITERS = 1000
#: Seed of every bootstrap: intervals are part of the committed board, so they must not move between runs.
BOOTSTRAP_SEED = 0
#: Metrics lm-eval aggregates over the corpus from (log-likelihood, words or bytes) pairs: exp(-sum ll / sum n).
PERPLEXITIES = ("word_perplexity", "byte_perplexity")
#: Bits per byte: -sum ll / sum bytes / ln 2.
BITS_PER_BYTE = ("bits_per_byte",)


class Interval(NamedTuple):
    """A point estimate and its 95 % percentile-bootstrap interval."""

    value: float
    low: float
    high: float

    def contains(self, point: float) -> bool:
        """Whether ``point`` lies inside the closed interval."""
        return self.low <= point <= self.high


def _as_array(metric: str, outcomes: Sequence) -> np.ndarray:
    """Per-item outcomes as an array: shape (n,) for per-item metrics, (n, 2) for corpus-level ones."""
    array = np.asarray(outcomes, dtype=np.float64)
    pairs = metric in PERPLEXITIES or metric in BITS_PER_BYTE
    if array.ndim != (2 if pairs else 1) or (pairs and array.shape[1] != 2) or len(array) == 0:
        raise ValueError(f"{metric}: expected {'(log-likelihood, count) pairs' if pairs else 'one number per item'}, "
                         f"got an array of shape {array.shape}")
    return array


def _aggregate(metric: str, array: np.ndarray, axis: int = 0) -> np.ndarray:
    """The metric of items (along ``axis`` of a resampled batch too)."""
    if metric in PERPLEXITIES:
        return np.exp(-array[..., 0].sum(axis) / array[..., 1].sum(axis))
    if metric in BITS_PER_BYTE:
        return -array[..., 0].sum(axis) / array[..., 1].sum(axis) / math.log(2)
    return array.mean(axis)


def metric_value(metric: str, outcomes: Sequence) -> float:
    """The metric of a task from its per-item outcomes, as lm-eval aggregates it.

    Args:
        metric: The metric's name (perplexities and bits per byte are corpus-level; the rest are means).
        outcomes: One number per item, or (log-likelihood, count) pairs for the corpus-level metrics.
    """
    return float(_aggregate(metric, _as_array(metric, outcomes)))


def _resamples(n: int, seed: int = BOOTSTRAP_SEED, iters: int = BOOTSTRAP_ITERS) -> np.ndarray:
    """``iters`` bootstrap draws of ``n`` item indices (with replacement); rows are resamples."""
    return np.random.default_rng(seed).integers(0, n, size=(iters, n))


def _percentile_interval(value: float, draws: np.ndarray) -> Interval:
    low, high = np.percentile(draws, [2.5, 97.5])
    return Interval(float(value), float(low), float(high))


def bootstrap_interval(metric: str, outcomes: Sequence, seed: int = BOOTSTRAP_SEED,
                       iters: int = BOOTSTRAP_ITERS) -> Interval:
    """The metric and its 95 % percentile-bootstrap interval over items.

    Args:
        metric: The metric's name.
        outcomes: Per-item outcomes (see ``metric_value``).
        seed: Seed of the resampling.
        iters: Number of resamples.
    """
    array = _as_array(metric, outcomes)
    draws = _aggregate(metric, array[_resamples(len(array), seed, iters)], axis=1)
    return _percentile_interval(_aggregate(metric, array), draws)


def paired_bootstrap(metric: str, first: Sequence, second: Sequence, seed: int = BOOTSTRAP_SEED,
                     iters: int = BOOTSTRAP_ITERS) -> Interval:
    """The difference ``metric(first) - metric(second)`` and its 95 % paired-bootstrap interval.

    Both models' outcomes are resampled with the same item indices, so what the items share (an
    easy question is easy for both) cancels and the interval holds only the models' difference.

    Args:
        metric: The metric's name.
        first: Per-item outcomes of the first model.
        second: The second model's, on the same items in the same order.
        seed: Seed of the resampling.
        iters: Number of resamples.
    """
    a, b = _as_array(metric, first), _as_array(metric, second)
    if a.shape != b.shape:
        raise ValueError(f"{metric}: paired outcomes need the same items ({len(a)} against {len(b)})")
    picks = _resamples(len(a), seed, iters)
    draws = _aggregate(metric, a[picks], axis=1) - _aggregate(metric, b[picks], axis=1)
    return _percentile_interval(_aggregate(metric, a) - _aggregate(metric, b), draws)


def is_binary(outcomes: Sequence) -> bool:
    """Whether per-item outcomes are all 0 or 1 (accuracy, exact match): McNemar's test applies."""
    array = np.asarray(outcomes, dtype=np.float64)
    return array.ndim == 1 and bool(np.isin(array, (0.0, 1.0)).all())


def mcnemar_exact(first: Sequence, second: Sequence) -> float:
    """Two-sided p-value of McNemar's exact test that two models on the same items are equally accurate.

    Only the discordant items count: ``b`` where only the first is right, ``c`` where only the second
    is. Under the null each is a fair coin, so p = min(1, 2 * P(Binomial(b + c, 1/2) <= min(b, c))),
    computed with exact integers.

    Args:
        first: 0/1 outcome per item of the first model.
        second: The second model's, on the same items in the same order.
    """
    a, b = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes need the same items ({len(a)} against {len(b)})")
    only_first, only_second = int((a & ~b).sum()), int((~a & b).sum())
    n = only_first + only_second
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_first, only_second) + 1))
    return min(1.0, 2 * tail / 2**n)
