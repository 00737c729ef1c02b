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
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Job:
    """One piece of a sweep's work: ``function(*arguments)``, once every job named in ``after`` has succeeded.

    Attributes:
        key: Names the job (unique among a run's jobs) and its outcome.
        function: What runs; a module-level function, so that a worker process can be sent it.
        arguments: Its arguments.
        after: The keys of the jobs it needs first.
    """

    key: Hashable
    function: Callable[..., Any]
    arguments: tuple = ()
    after: tuple = ()


def _call(job: Job) -> Any:
    """The job's result, or the exception it raised (handed back as the outcome: one failure never stops the
    others)."""
    try:
        return job.function(*job.arguments)
    except Exception as error:
        return error


def _in_worker(job: Job, profile: bool) -> tuple[Any, list[Span]]:
    """``_call(job)`` in a worker, and the spans it recorded when the sweep profiles."""
    with profiling() as recorded:
        outcome = _call(job)
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

    def each(self, jobs: Iterable[Job]) -> Iterator[tuple[Hashable, Any]]:
        """Run ``jobs``, each once every job it comes ``after`` has succeeded, and yield ``(key, outcome)`` as each
        ends. An outcome is what the call returned, or the exception it raised; a job after a failed one is not
        run, and its outcome is that failure (found through any number of jobs before anything else starts).

        Of the jobs that are ready, the one with the longest chain of jobs waiting on it starts first, so that a
        long chain (a base, the synthesizer trained on it, the model trained on its output) never waits behind
        work that nothing waits for. Jobs that wait on each other in a circle: the first of them runs (and says
        so, as a build does).

        Raises:
            ZooError: Two jobs with one key, or a job after a key that no job has.
        """
        jobs = _checked(jobs)
        chain = _chain_lengths(jobs)
        waiting, outcomes = list(jobs), {}
        running: dict[Future, Hashable] = {}
        profile = is_on()
        while waiting or running:
            while broken := [(key, outcomes[before]) for key in waiting for before in jobs[key].after
                             if isinstance(outcomes.get(before), BaseException)]:
                for key, failure in broken:
                    if key in waiting:
                        waiting.remove(key)
                        outcomes[key] = failure
                        yield key, failure
            ready = sorted((key for key in waiting if all(before in outcomes for before in jobs[key].after)),
                           key=lambda key: -chain[key])
            if waiting and not ready and not running:
                ready = waiting[:1]
            if self.jobs == 1:
                if ready:
                    waiting.remove(key := ready[0])
                    outcomes[key] = _call(jobs[key])
                    yield key, outcomes[key]
                continue
            pool = self._executor()
            for key in ready[:self.jobs - len(running)]:
                waiting.remove(key)
                running[pool.submit(_in_worker, jobs[key], profile)] = key
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                key = running.pop(future)
                try:
                    outcome, spans = future.result()
                except Exception as error:  # the worker died (killed for memory, say): its job failed
                    outcome, spans = error, []
                absorb(spans, self.jobs)
                outcomes[key] = outcome
                yield key, outcome

    def run(self, description: str, jobs: Iterable[Job]) -> dict[Hashable, Any]:
        """``each`` with a progress bar, collected as ``{key: outcome}``."""
        jobs = list(jobs)
        with tqdm(total=len(jobs), desc=description, unit="job") as bar:
            outcomes = {}
            for key, outcome in self.each(jobs):
                outcomes[key] = outcome
                bar.update()
        return outcomes


def _checked(jobs: Iterable[Job]) -> dict[Hashable, Job]:
    """The jobs by key, refusing a key twice and a job after a key that no job has."""
    by_key: dict[Hashable, Job] = {}
    for job in jobs:
        if job.key in by_key:
            raise ZooError(f"two jobs are named {job.key!r}; a job's key must be unique")
        by_key[job.key] = job
    for job in by_key.values():
        if missing := [before for before in job.after if before not in by_key]:
            raise ZooError(f"job {job.key!r} comes after {missing[0]!r}, which is not among the jobs")
    return by_key


def _chain_lengths(jobs: dict[Hashable, Job]) -> dict[Hashable, int]:
    """For each job, how many jobs the longest chain of jobs waiting on it holds (a circle counts once)."""
    waiting_on: dict[Hashable, list[Hashable]] = {key: [] for key in jobs}
    for job in jobs.values():
        for before in job.after:
            waiting_on[before].append(job.key)
    lengths: dict[Hashable, int] = {}

    def length(key: Hashable, seen: frozenset) -> int:
        if key not in lengths:
            lengths[key] = max((1 + length(after, seen | {key}) for after in waiting_on[key] if after not in seen),
                               default=0)
        return lengths[key]

    for key in jobs:
        length(key, frozenset())
    return lengths
