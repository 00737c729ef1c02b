"""Run a sweep's builds and evaluations one at a time in this process, or several at once in worker processes.

On a small CPU most of a tiny model's build is Python that one core runs (parsing its config, making its data,
the test phase, the export), so two single-threaded builds side by side finish sooner than two two-threaded
builds in a row; a long training run gains little, as its matrix products already use every core.

The workers are forked from the sweep's process, so they start with its imports and caches, and each gets its
share of the CPU threads (``torch.set_num_threads``). A thread count is part of what fixes a float result's
last bits on CPU, so a build made with ``jobs`` > 1 can differ in those bits from the same build made alone (its
card records the threads it ran with); the default is 1.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from tqdm import tqdm

from zoo.errors import ZooError
from zoo.profiling import Span, absorb, is_on, profiling


def available_cores() -> int:
    """The CPU cores this process may run on (a container's share, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _start_worker(threads: int, initializer: Callable[[], None] | None) -> None:
    import torch

    torch.set_num_threads(threads)
    if initializer is not None:
        initializer()


def _in_worker(function: Callable[..., Any], arguments: tuple, profile: bool) -> tuple[Any, list[Span]]:
    """``function(*arguments)`` or the exception it raised, and the spans it recorded when the sweep profiles."""
    with profiling() as recorded:
        try:
            outcome = function(*arguments)
        except Exception as error:  # handed back as the outcome: one failure never stops the others
            outcome = error
    if isinstance(outcome, BaseException):
        try:
            pickle.dumps(outcome)
        except Exception:  # an exception that cannot travel back is sent as its text
            outcome = RuntimeError(f"{type(outcome).__name__}: {outcome}")
    return outcome, recorded.spans if profile else []


class Workers:
    """Where a sweep's jobs run: in this process (``jobs=1``) or in ``jobs`` forked worker processes.

    Args:
        jobs: How many jobs run at once.
        initializer: Called in each worker once it starts (after its thread count is set).

    Raises:
        ZooError: ``jobs`` below 1, or more than one where processes cannot be forked.
    """

    def __init__(self, jobs: int = 1, initializer: Callable[[], None] | None = None):
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ZooError(f"jobs must be a whole number of 1 or more (builds and evaluations at once), not {jobs!r}")
        if jobs > 1 and "fork" not in multiprocessing.get_all_start_methods():
            raise ZooError(f"jobs={jobs} needs processes that can be forked, which this platform has not; use --jobs 1")
        self.jobs, self.initializer = jobs, initializer
        self.threads = max(1, available_cores() // jobs)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_start_worker, initargs=(self.threads, self.initializer))
        return self._pool

    def each(self, function: Callable[..., Any], arguments: Iterable[tuple]) -> Iterator[tuple[Any, Any]]:
        """``function(*args)`` for each ``args``, yielded as ``(args[0], outcome)`` as each finishes; an outcome is
        the exception the call raised if it failed (the others go on)."""
        arguments = list(arguments)
        if self.jobs == 1:
            for args in arguments:
                try:
                    yield args[0], function(*args)
                except Exception as error:  # handed back as the outcome, as a worker does
                    yield args[0], error
            return
        pool, profile = self._executor(), is_on()
        futures = {pool.submit(_in_worker, function, args, profile): args[0] for args in arguments}
        for future in as_completed(futures):
            try:
                outcome, spans = future.result()
            except Exception as error:  # the worker died (killed for memory, say): its job failed
                outcome, spans = error, []
            absorb(spans, self.jobs)
            yield futures[future], outcome

    def map(self, description: str, function: Callable[..., Any], arguments: Iterable[tuple]) -> dict[Any, Any]:
        """``each`` with a progress bar, collected as ``{args[0]: outcome}``."""
        arguments = list(arguments)
        with tqdm(total=len(arguments), desc=description, unit="model") as bar:
            outcomes = {}
            for key, outcome in self.each(function, arguments):
                outcomes[key] = outcome
                bar.update()
        return outcomes
