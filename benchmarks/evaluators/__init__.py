"""Non-LM evaluators (OOD detection, retrieval, VQA...): one interface, the same result rows.

An evaluator scores a loaded zoo module on one suite task and returns ``Score`` objects; the
harness turns them into result rows exactly as it does lm-eval's metrics. Systems register
theirs with ``@register`` (their issues add OOD AUROC/FPR95, retrieval and VQA evaluators).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from zoo.errors import ZooError


@dataclass(frozen=True)
class Score:
    """One metric value of a task."""

    metric: str
    value: float
    stderr: float | None = None
    higher_is_better: bool = True


class Evaluator(Protocol):
    """What the harness needs of an evaluator."""

    #: Bump when the evaluator's scoring changes (it is recorded as the task version).
    version: str

    def __call__(self, module: Any, args: dict[str, Any], limit: int | None) -> list[Score]:
        """Score ``module`` on the task described by ``args`` (at most ``limit`` examples)."""


EVALUATORS: dict[str, Evaluator] = {}


def register(name: str) -> Callable[[Evaluator], Evaluator]:
    """Register an evaluator under ``name`` (the ``evaluator:`` key of a suite task)."""

    def add(evaluator: Evaluator) -> Evaluator:
        EVALUATORS[name] = evaluator
        return evaluator

    return add


def get_evaluator(name: str) -> Evaluator:
    """The evaluator registered as ``name`` (importing ``benchmarks.evaluators.<name>`` registers it)."""
    import importlib

    if name not in EVALUATORS and (Path(__file__).parent / f"{name}.py").is_file():
        importlib.import_module(f"benchmarks.evaluators.{name}")
    try:
        return EVALUATORS[name]
    except KeyError:
        raise ZooError(f"unknown evaluator '{name}'; registered: {', '.join(sorted(EVALUATORS)) or 'none'}") from None
