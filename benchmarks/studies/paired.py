"""Paired statistics over seeds: two arms of a study trained at the same seeds, compared seed by seed.

Both arms of a pair see the same split, and at each seed the same initialisation seed and data order,
so the per-seed difference ``first - second`` holds what the recipes change and the spread of those
differences holds what the seed does to it. Over ``n`` seeds:

- the mean difference and its 95 % t-interval, ``mean ± t_{0.975, n-1} · s / √n`` (Student's t with
  ``n - 1`` degrees of freedom, from scipy);
- the paired t-test's two-sided p (the one-sample t-test of the differences against 0);
- the sign test: seeds where the first arm is better, worse, tied, and the exact two-sided binomial p
  over the untied seeds (``benchmarks.stats.mcnemar_exact`` is that test on 0/1 outcomes).

Everything is exact arithmetic on the given values: the same runs give the same numbers, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from benchmarks.stats import Interval, mcnemar_exact

#: The coverage of every interval of a study.
CONFIDENCE = 0.95
#: Metrics where lower is better, by how their name ends (``test/ppl``, ``train/loss``, ``word_perplexity``).
LOWER_IS_BETTER = ("ppl", "loss", "perplexity", "bits_per_byte", "fpr", "reconstruction")
#: How a claimed direction fares: its interval lies on the claimed side of 0, contains 0, or lies on the other side.
SHOWN, NOT_SHOWN, OPPOSITE = "shown", "not shown", "opposite"


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (accuracies) rather than worse (perplexities, losses).

    Args:
        metric: The metric's name, e.g. ``test/question_acc``; a part of its path may name it
            (``test/fpr95/wmt16``: an error rate on the wmt16 set).
    """
    return not any(part.startswith(LOWER_IS_BETTER) or part.endswith(LOWER_IS_BETTER) for part in metric.split("/"))


def _checked(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or len(array) < 2:
        raise ValueError(f"a t-interval or t-test needs at least 2 values, one per seed; got {len(array)}")
    return array


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean of ``values`` and its two-sided t-interval: ``mean ± t_{(1+c)/2, n-1} · s / √n``.

    Args:
        values: One value per seed (at least 2).
        confidence: The interval's coverage.
    """
    from scipy.stats import t

    array = _checked(values)
    mean = float(array.mean())
    half = float(t.ppf((1 + confidence) / 2, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array)))
    return Interval(mean, mean - half, mean + half)


def paired_t_p(differences: Sequence[float]) -> float:
    """Two-sided p of the paired t-test: ``t = mean / (s / √n)`` against Student's t with ``n - 1`` degrees of freedom.

    Differences that are all equal have no spread: p is 1 when they are 0 and 0 otherwise (the limit of
    the test as the spread shrinks), where the formula would divide by zero.

    Args:
        differences: Per seed, the first arm's value minus the second's (at least 2).
    """
    from scipy.stats import t

    array = _checked(differences)
    spread = float(array.std(ddof=1))
    if spread == 0.0:
        return 1.0 if float(array.mean()) == 0.0 else 0.0
    statistic = float(array.mean()) / (spread / math.sqrt(len(array)))
    return float(2 * t.sf(abs(statistic), len(array) - 1))


class Sign(NamedTuple):
    """The sign test of paired differences: seeds where the first arm is better, worse, tied; exact two-sided p."""

    wins: int
    losses: int
    ties: int
    p: float


def sign_test(differences: Sequence[float], higher: bool = True) -> Sign:
    """Count the seeds where the first arm is better and worse, and the exact sign test over the untied ones.

    Args:
        differences: Per seed, the first arm's value minus the second's.
        higher: Whether larger values are better (a positive difference is a win).
    """
    array = np.asarray(differences, dtype=np.float64)
    better, worse = (array > 0, array < 0) if higher else (array < 0, array > 0)
    # McNemar's exact test on (better, worse) counts exactly the seeds where one of them holds: the sign test.
    return Sign(int(better.sum()), int(worse.sum()), int((array == 0).sum()), mcnemar_exact(better, worse))


class Paired(NamedTuple):
    """The paired comparison of two arms on one metric over the seeds both ran."""

    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    interval: Interval
    p: float
    sign: Sign
    verdict: str


def verdict(interval: Interval, higher: bool = True) -> str:
    """Whether the claim that the first arm is better shows: ``shown``, ``not shown`` (the interval contains 0)
    or ``opposite`` (the whole interval says the second arm is better).

    Args:
        interval: The mean difference (first - second) and its interval.
        higher: Whether larger values are better.
    """
    if interval.contains(0.0):
        return NOT_SHOWN
    return SHOWN if (interval.low > 0) == higher else OPPOSITE


def compare(first: dict[int, float], second: dict[int, float], higher: bool = True) -> Paired:
    """Pair two arms seed by seed: the differences, their t-interval, the paired t-test and the sign test.

    Args:
        first: The first arm's value per seed (the arm the claim says is better).
        second: The second arm's value per seed; only the seeds both have are paired.
        higher: Whether larger values are better.
    """
    seeds = tuple(sorted(first.keys() & second.keys()))
    differences = tuple(first[seed] - second[seed] for seed in seeds)
    interval = t_interval(differences)
    return Paired(seeds, differences, interval, paired_t_p(differences), sign_test(differences, higher),
                  verdict(interval, higher))
