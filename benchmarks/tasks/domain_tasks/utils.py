"""Scoring of the domain tasks that lm-eval's registry lacks: multi-class F1, Headline, ConvFinQA.

lm-eval's ``f1`` aggregation is sklearn's binary F1 and fails on more than two classes; the
multiple-choice tasks still emit ``f1`` items (``(gold, pred)`` pairs), and these aggregations
average them the way AdaptLLM reports each task (``adaptllm/src/utils/metric.py``):

* ``macro_f1``: SCOTUS, CaseHOLD (AdaptLLM's micro-F1 of a single-label task is the accuracy);
* ``weighted_f1``: FPB and FiQA-SA (BloombergGPT's and AdaptLLM's weighted F1);
* ``headline_f1``: Headline, the weighted F1 of each of the nine questions, averaged; its items
  carry the question, so the task emits them with ``headline_results``.

ConvFinQA is generated, and ``numeric_match`` compares the answer with the gold number.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np
from sklearn.metrics import f1_score


def _f1(items: list[tuple[int, int]], average: str) -> float:
    golds, preds = zip(*items)
    return float(f1_score(golds, preds, average=average))


def macro_f1(items: list[tuple[int, int]]) -> float:
    """Macro-averaged F1 of (gold, prediction) pairs, over the classes either one uses.

    Args:
        items: lm-eval's ``f1`` items of a multiple-choice task.
    """
    return _f1(items, "macro")


def weighted_f1(items: list[tuple[int, int]]) -> float:
    """F1 per class averaged with the gold counts as weights.

    Args:
        items: lm-eval's ``f1`` items of a multiple-choice task.
    """
    return _f1(items, "weighted")


def headline_results(doc: dict, results: list[tuple[float, bool]]) -> dict:
    """acc, acc_norm and the ``f1`` item (question type, gold, prediction) of a Headline question.

    lm-eval's own ``process_results`` would give the same acc and acc_norm, but its ``f1`` item
    lacks the question type that ``headline_f1`` groups by.

    Args:
        doc: A Headline record.
        results: lm-eval's (log-likelihood, is-greedy) of each option.
    """
    lls = np.array([ll for ll, _ in results])
    # acc_norm as lm-eval: the log-likelihood per character of the option.
    lengths = np.array([float(len(choice)) for choice in doc["choices"]])
    pred, pred_norm, gold = int(np.argmax(lls)), int(np.argmax(lls / lengths)), doc["gold"]
    return {"acc": float(pred == gold), "acc_norm": float(pred_norm == gold),
            "f1": (doc["question_type"], gold, pred)}


def headline_f1(items: list[tuple[int, int, int]]) -> float:
    """The weighted F1 of each Headline question type, averaged over the types.

    Args:
        items: (question type, gold, prediction) from ``headline_results``.
    """
    by_type = defaultdict(list)
    for question_type, gold, pred in items:
        by_type[question_type].append((gold, pred))
    return float(np.mean([weighted_f1(pairs) for pairs in by_type.values()]))


#: A number as models write it: sign, thousands commas, decimals, maybe a percent sign.
_NUMBER = re.compile(r"-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?")


def first_number(text: str) -> float | None:
    """The first number in a text (a percentage as a fraction), or None.

    Args:
        text: A generated answer.
    """
    match = _NUMBER.search(text)
    if match is None:
        return None
    number = match.group()
    value = float(number.rstrip("%").replace(",", ""))
    # ConvFinQA's gold answers give percentages as fractions ("0.14136" for 14.1%).
    return value / 100 if number.endswith("%") else value


def numeric_match(references: list[str], predictions: list[str]) -> float:
    """1.0 when the generated answer matches ConvFinQA's gold answer, else 0.0.

    A number matches within 0.01 (AdaptLLM's tolerance; here the first number of the answer, not
    any of them, so listing numbers earns nothing); a yes/no answer matches its first word.

    Args:
        references: The gold answer (one).
        predictions: The generated answer (one).
    """
    gold, pred = references[0], predictions[0]
    if gold in ("yes", "no"):
        words = pred.strip().lower().split()
        return float(bool(words) and words[0].strip(".,") == gold)
    value = first_number(pred)
    return float(value is not None and math.isclose(value, float(gold), rel_tol=0.0, abs_tol=1e-2))
