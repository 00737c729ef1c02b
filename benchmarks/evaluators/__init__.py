"""Evaluators of the tasks lm-eval does not score (n-gram drift, synthesis quality, OOD, retrieval, VQA).

An evaluator scores a loaded zoo module on one suite task and returns ``Score`` objects; the
harness turns them into result rows exactly as it does lm-eval's metrics. The registry works like
lm-eval's: a name maps to an evaluator or to a lazy ``"module:object"`` entry that is imported on
first use (``EVALUATOR_ENTRIES`` holds the zoo's own), a name is registered once (a second
evaluator under it is refused), and every evaluator is checked when it enters the registry: a
callable with a ``version`` string and the ``kinds`` of model it scores.

    @register("vocab_size")
    @evaluator(version="1", kinds=("causal-lm",))
    def vocab_size(module, args, limit):
        return [Score("vocab", len(module.tokenizer))]

    register("retrieval")("mypackage.retrieval:retrieval")   # lazy: imported when a suite uses it
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, TypeVar

from zoo.errors import ZooError
from zoo.registry import KINDS


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
    #: The model kinds (``zoo.registry.KINDS``) it scores; the harness gives it no other.
    kinds: tuple[str, ...]

    def __call__(self, module: Any, args: dict[str, Any], limit: int | None) -> list[Score]:
        """Score ``module`` on the task described by ``args`` (at most ``limit`` examples)."""


#: The zoo's evaluators, imported only when a suite names them (their modules import datamodules and models).
EVALUATOR_ENTRIES: dict[str, str] = {
    "ngram_shift": "benchmarks.evaluators.ngram_shift:ngram_shift",
    "synthesis_quality": "benchmarks.evaluators.synthesis_quality:synthesis_quality",
    "ood": "benchmarks.evaluators.ood:ood",
    "uprise": "benchmarks.evaluators.uprise:uprise",
    "vqa": "benchmarks.evaluators.vqa:vqa",
}

#: Every registered evaluator: name -> evaluator, or its ``"module:object"`` entry until first use.
EVALUATORS: dict[str, Evaluator | str] = dict(EVALUATOR_ENTRIES)

F = TypeVar("F", bound=Callable)


def evaluator(version: str, kinds: Iterable[str]) -> Callable[[F], F]:
    """Give an evaluator function its interface: the scoring version and the model kinds it scores.

    Registration is separate (``EVALUATOR_ENTRIES`` or ``register``).

    Args:
        version: Recorded as the task version of its rows; bump it when the scoring changes.
        kinds: Model kinds the function scores (``causal-lm``, ``encoder``, ``bi-encoder``, ``vision-lm``).
    """

    def mark(function: F) -> F:
        function.version, function.kinds = version, tuple(kinds)
        return function

    return mark


def register(name: str) -> Callable[[Any], Any]:
    """Register an evaluator, or a lazy ``"module:object"`` entry, as ``name`` (a suite task's ``evaluator:``).

    Used as a decorator, or called on an entry string: ``register("x")("package.module:object")``.
    A lazy entry's object is checked when it is first used.

    Args:
        name: The registry name.

    Raises:
        ZooError: ``name`` is taken by another evaluator, or the evaluator lacks the interface.
    """

    def add(target: Any) -> Any:
        current = EVALUATORS.get(name)
        if current is not None and current != target:
            raise ZooError(f"evaluator '{name}' is already registered as {_describe(current)}; refusing "
                           f"{_describe(target)}: register it under another name")
        if isinstance(target, str):
            _split_entry(name, target)
        else:
            check_interface(name, target)
        EVALUATORS[name] = target
        return target

    return add


def get_evaluator(name: str) -> Evaluator:
    """The evaluator registered as ``name``, its lazy entry imported and checked on first use.

    Args:
        name: The registry name.
    """
    entry = registered(name)
    if not isinstance(entry, str):
        return entry
    module_name, attribute = _split_entry(name, entry)
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ZooError(f"evaluator '{name}': cannot import its entry {entry} ({error})") from None
    check_interface(name, found)
    EVALUATORS[name] = found
    return found


def registered(name: str) -> Evaluator | str:
    """The registry entry of ``name``: the evaluator, or its lazy ``"module:object"`` entry (not imported).

    Args:
        name: The registry name.

    Raises:
        ZooError: Nothing is registered as ``name`` (the message lists what is).
    """
    try:
        return EVALUATORS[name]
    except KeyError:
        raise ZooError(f"unknown evaluator '{name}'; registered: {', '.join(sorted(EVALUATORS)) or 'none'}") from None


def check_interface(name: str, candidate: Any) -> None:
    """Refuse an object that is not an evaluator: callable, ``version: str``, ``kinds`` a tuple of model kinds.

    Args:
        name: Its registry name (for the message).
        candidate: The object.
    """
    version, kinds = getattr(candidate, "version", None), getattr(candidate, "kinds", None)
    if not callable(candidate):
        problem = "is not callable"
    elif not isinstance(version, str) or not version:
        problem = f"has no `version` string (found {version!r})"
    elif not isinstance(kinds, tuple) or not kinds or not set(kinds) <= set(KINDS):
        problem = f"has no `kinds` tuple of model kinds (found {kinds!r})"
    else:
        return
    raise ZooError(f"evaluator '{name}' ({_describe(candidate)}) {problem}; an evaluator is a callable "
                   f"(module, args, limit) -> [Score] with `version: str` and `kinds`, a tuple of "
                   f"{', '.join(KINDS)} (see benchmarks.evaluators.evaluator)")


def evaluator_source(name: str) -> Path | None:
    """The source file of an evaluator (part of a suite's hash), without importing a lazy entry.

    Args:
        name: The registry name.

    Raises:
        ZooError: Nothing is registered as ``name`` (a suite naming it is refused when it is hashed).
    """
    entry = registered(name)
    if isinstance(entry, str):
        try:
            spec = importlib.util.find_spec(_split_entry(name, entry)[0])
        except ImportError:  # a parent package that is not installed: get_evaluator names it when the task runs
            return None
        return Path(spec.origin) if spec is not None and spec.origin else None
    source = inspect.getsourcefile(entry if inspect.isfunction(entry) or inspect.isclass(entry) else type(entry))
    return Path(source) if source else None


def _split_entry(name: str, entry: str) -> tuple[str, str]:
    """The module and attribute of a ``"module:object"`` entry."""
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        raise ZooError(f"evaluator '{name}': entry {entry!r} is not 'module:object'")
    return module_name, attribute


def _describe(target: Any) -> str:
    """An entry string as it is, an object as ``module:qualname``."""
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', type(target).__name__)}"
