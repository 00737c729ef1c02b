"""Paired comparison of models on the same items: ``zoo compare A B --suite S`` and the board's ties.

Two models scored on one suite saw the same documents, so their per-item outcomes pair up: the
difference of a metric gets a paired-bootstrap interval (``benchmarks.stats``), and accuracy-like
0/1 outcomes also McNemar's exact test. Pairing is checked, not assumed: the items must carry the
same lm-eval document hashes in the same order.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from benchmarks.harness import Evaluation
from benchmarks.stats import Interval, is_binary, mcnemar_exact, metric_value, paired_bootstrap
from zoo.errors import ZooError


class Comparison(NamedTuple):
    """One metric of one task, first model against second, on the same items."""

    task: str
    metric: str
    higher_is_better: bool
    first: float | None
    second: float | None
    #: first - second with its 95 % paired-bootstrap interval; None when the task has no items (an evaluator's).
    difference: Interval | None
    #: McNemar's exact p-value for 0/1 outcomes; None for other metrics.
    mcnemar_p: float | None
    n_items: int | None

    @property
    def verdict(self) -> str:
        """``first``, ``second`` (the better, when the interval excludes 0) or ``tie``; ``—`` without items."""
        if self.difference is None:
            return "—"
        if self.difference.contains(0.0):
            return "tie"
        first_higher = self.difference.value > 0
        return "first" if first_higher == self.higher_is_better else "second"


def paired(first: dict[str, Any], second: dict[str, Any], task: str) -> None:
    """Refuse two tasks' items that are not the same documents in the same order.

    Args:
        first: One model's items of the task (``Evaluation.items[task]``).
        second: The other's.
        task: The task, for the message.
    """
    if first["doc_hash"] != second["doc_hash"]:
        raise ZooError(f"{task}: the two evaluations scored different documents ({len(first['doc_hash'])} and "
                       f"{len(second['doc_hash'])} items); evaluate both with the same suite and --limit")


def compare(first: Evaluation, second: Evaluation) -> list[Comparison]:
    """Each (task, metric) of the first evaluation's rows, paired with the second's.

    Args:
        first: One model's evaluation of a suite (``evaluate_with_items``).
        second: Another model's evaluation of the same suite.

    Raises:
        ZooError: The evaluations are of different suites or different items.
    """
    suites = {row["suite_hash"] for row in first.rows + second.rows if row["error"] is None}
    if len(suites) > 1:
        raise ZooError("the two evaluations are of different suites (or suite versions); compare on one suite")
    values = {(row["task"], row["metric"]): row["value"] for row in second.rows if row["error"] is None}
    comparisons = []
    for row in first.rows:
        key = (row["task"], row["metric"])
        if row["error"] is not None or key not in values:
            continue
        difference = mcnemar = n_items = None
        if row["task"] in first.items and row["task"] in second.items:
            a, b = first.items[row["task"]], second.items[row["task"]]
            paired(a, b, row["task"])
            outcomes_a, outcomes_b = a["outcomes"][row["metric"]], b["outcomes"][row["metric"]]
            difference = paired_bootstrap(row["metric"], outcomes_a, outcomes_b)
            if is_binary(outcomes_a) and is_binary(outcomes_b):
                mcnemar = mcnemar_exact(outcomes_a, outcomes_b)
            n_items = len(a["doc_hash"])
        comparisons.append(Comparison(row["task"], row["metric"], bool(row["higher_is_better"]), row["value"],
                                      values[key], difference, mcnemar, n_items))
    return comparisons


def tied_with_best(outcomes: dict[str, list], metric: str, higher_is_better: bool) -> set[str]:
    """The models whose metric is not significantly worse than the best one's: the best, and each model
    whose paired-bootstrap interval of (model - best) contains 0.

    Args:
        outcomes: Per model, its outcomes of the task's metric on the same items.
        metric: The metric.
        higher_is_better: Its direction.
    """
    if not outcomes:
        return set()
    values = {model: metric_value(metric, items) for model, items in outcomes.items()}
    pick = max if higher_is_better else min
    best = pick(sorted(values), key=values.__getitem__)
    return {best} | {model for model in outcomes if model != best
                     and paired_bootstrap(metric, outcomes[model], outcomes[best]).contains(0.0)}
