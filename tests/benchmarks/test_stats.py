"""The board's statistics against values worked out by hand: metrics from items, McNemar, bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.compare import Comparison, compare, tied_with_best
from benchmarks.harness import Evaluation
from benchmarks.stats import (BOOTSTRAP_ITERS, Interval, bootstrap_interval, is_binary, mcnemar_exact, metric_value,
                              paired_bootstrap)
from zoo.errors import ZooError


def test_metric_values_aggregate_items_as_lm_eval_does():
    assert metric_value("acc", [1, 0, 1, 1]) == 0.75
    pairs = [(-2.0, 1), (-4.0, 3)]  # (log-likelihood, words): the corpus, not the items, is averaged
    assert metric_value("word_perplexity", pairs) == pytest.approx(math.exp(6 / 4))
    assert metric_value("byte_perplexity", pairs) == pytest.approx(math.exp(1.5))
    assert metric_value("bits_per_byte", pairs) == pytest.approx(1.5 / math.log(2))


@pytest.mark.parametrize(("metric", "outcomes"), [("acc", []), ("acc", [(1, 2)]), ("word_perplexity", [1.0, 2.0])])
def test_outcomes_of_the_wrong_shape_are_refused(metric, outcomes):
    with pytest.raises(ValueError, match=metric):
        metric_value(metric, outcomes)


def test_mcnemar_exact_counts_only_discordant_items():
    # 10 items only the first gets right, 2 only the second, 8 both or neither: b=10, c=2, n=12.
    first = [1] * 10 + [0] * 2 + [1] * 5 + [0] * 3
    second = [0] * 10 + [1] * 2 + [1] * 5 + [0] * 3
    by_hand = 2 * (math.comb(12, 0) + math.comb(12, 1) + math.comb(12, 2)) / 2**12  # = 158/4096
    assert mcnemar_exact(first, second) == pytest.approx(by_hand) == pytest.approx(0.03857421875)
    assert mcnemar_exact(second, first) == mcnemar_exact(first, second)
    assert mcnemar_exact([1, 0], [0, 1]) == 1.0, "a balanced split is capped at 1"
    assert mcnemar_exact([1, 1, 0], [1, 1, 0]) == 1.0, "no discordant item: no evidence of a difference"
    with pytest.raises(ValueError, match="same items"):
        mcnemar_exact([1, 0], [1])


def test_bootstrap_interval_is_seeded_and_as_wide_as_the_normal_approximation():
    outcomes = [1.0, 0.0] * 200  # p = 0.5 over 400 items: the normal interval is 0.5 +- 1.96 * 0.025
    interval = bootstrap_interval("acc", outcomes)
    assert interval.value == 0.5
    assert interval.high - interval.low == pytest.approx(2 * 1.96 * 0.025, abs=0.01)
    assert interval == bootstrap_interval("acc", outcomes), "same items, same seed: the same interval"
    # The percentile interval of exactly these resamples, spelled out.
    picks = np.random.default_rng(0).integers(0, 400, size=(BOOTSTRAP_ITERS, 400))
    draws = np.asarray(outcomes)[picks].mean(axis=1)
    assert (interval.low, interval.high) == tuple(np.percentile(draws, [2.5, 97.5]))
    assert bootstrap_interval("acc", [1.0] * 50) == Interval(1.0, 1.0, 1.0)


def test_paired_bootstrap_removes_what_the_items_share():
    rng = np.random.default_rng(1)
    difficulty = rng.random(300)
    first = (difficulty < 0.6).astype(float)   # the second model gets right exactly what the first does, and
    second = (difficulty < 0.5).astype(float)  # nothing more: the paired difference is never below 0
    paired = paired_bootstrap("acc", first, second)
    assert paired.value == pytest.approx(first.mean() - second.mean())
    assert paired.low > 0, "paired, the 0.1 gap is significant"
    unpaired_width = (bootstrap_interval("acc", first).high - bootstrap_interval("acc", first).low) * math.sqrt(2)
    assert paired.high - paired.low < unpaired_width / 2
    assert paired_bootstrap("acc", first, first) == Interval(0.0, 0.0, 0.0)
    ppl = paired_bootstrap("word_perplexity", [(-1.0, 1)] * 20, [(-2.0, 1)] * 20)
    assert ppl == Interval(pytest.approx(math.e - math.e**2), pytest.approx(math.e - math.e**2),
                           pytest.approx(math.e - math.e**2))


def test_binary_outcomes_are_recognised():
    assert is_binary([0, 1.0, 1]) and not is_binary([0.5, 1]) and not is_binary([(1, 2)])


def _evaluation(model: str, correct: list[int], hashes: list[str] | None = None) -> Evaluation:
    rows = [{"model": model, "task": "t", "metric": "acc", "value": float(np.mean(correct)), "higher_is_better": True,
             "suite_hash": "h", "error": None}]
    items = {"t": {"doc_hash": hashes or [f"d{i}" for i in range(len(correct))], "outcomes": {"acc": correct}}}
    return Evaluation(rows, items)


def test_compare_pairs_items_and_names_the_better_model():
    first = [1] * 30 + [0] * 70
    second = [0] * 100
    (result,) = compare(_evaluation("a", first), _evaluation("b", second))
    assert isinstance(result, Comparison) and (result.first, result.second, result.n_items) == (0.3, 0.0, 100)
    assert result.difference.value == pytest.approx(0.3) and result.difference.low > 0
    assert result.mcnemar_p == pytest.approx(2 / 2**30) and result.verdict == "first"
    (same,) = compare(_evaluation("a", first), _evaluation("b", first))
    assert same.verdict == "tie" and same.mcnemar_p == 1.0


def test_compare_refuses_items_that_are_not_the_same_documents():
    with pytest.raises(ZooError, match="scored different documents"):
        compare(_evaluation("a", [1, 0]), _evaluation("b", [1, 0], hashes=["x", "y"]))


def test_ties_hold_the_best_and_what_cannot_be_told_apart_from_it():
    best = [1] * 60 + [0] * 40
    close = [1] * 59 + [0] * 41       # one item fewer: tied
    far = [1] * 20 + [0] * 80         # forty fewer: not tied
    assert tied_with_best({"best": best, "close": close, "far": far}, "acc", True) == {"best", "close"}
    ppl = {"low": [(-1.0, 1)] * 10, "high": [(-3.0, 1)] * 10}
    assert tied_with_best(ppl, "word_perplexity", higher_is_better=False) == {"low"}
