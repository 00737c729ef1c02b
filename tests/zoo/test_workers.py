"""``zoo.workers``: a sweep's jobs in this process or in forked workers, with the same outcomes either way."""

from __future__ import annotations

import os
import threading

import pytest

from zoo.errors import ZooError
from zoo.profiling import profiling, span
from zoo.workers import Workers


def square_in_a_span(number):
    with span("build", f"square {number}"):
        if number < 0:
            raise ValueError(f"{number} is negative")
        return number * number, os.getpid()


class Unpicklable(Exception):
    def __init__(self):
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def raise_unpicklable(_):
    raise Unpicklable()


@pytest.mark.parametrize("jobs", [1, 2])
def test_outcomes_and_failures_come_back_keyed_by_the_first_argument(jobs):
    with Workers(jobs) as workers:
        outcomes = workers.map("square", square_in_a_span, [(3,), (-1,), (4,)])
    assert {key: value[0] for key, value in outcomes.items() if key >= 0} == {3: 9, 4: 16}
    assert isinstance(outcomes[-1], ValueError) and str(outcomes[-1]) == "-1 is negative"
    assert ({outcomes[3][1], outcomes[4][1]} == {os.getpid()}) == (jobs == 1)


def test_a_failure_that_cannot_travel_back_comes_as_its_text():
    with Workers(2) as workers:
        [(key, outcome)] = list(workers.each(raise_unpicklable, [("x",)]))
    assert key == "x" and type(outcome) is RuntimeError and str(outcome) == "Unpicklable: holds a lock"


@pytest.mark.parametrize("jobs", [1, 2])
def test_spans_recorded_in_workers_join_the_profile(jobs):
    with profiling() as recorded, Workers(jobs) as workers:
        workers.map("square", square_in_a_span, [(2,), (5,)])
    assert sorted(s.name for s in recorded.spans) == ["square 2", "square 5"] and recorded.processes == jobs
    assert all(s.phase == "build" and s.seconds >= 0 and s.peak_rss_bytes > 0 for s in recorded.spans)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_jobs_below_one_or_not_whole_is_one_clear_error(jobs):
    with pytest.raises(ZooError, match=r"jobs must be a whole number of 1 or more .*not "):
        Workers(jobs)
