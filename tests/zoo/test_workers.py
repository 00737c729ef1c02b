"""``zoo.workers``: a sweep's jobs in this process or in forked workers, with the same outcomes either way."""

from __future__ import annotations

import os
import threading

import pytest

from zoo.errors import ZooError
from zoo.profiling import profiling, span
from zoo.workers import Job, Workers


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
        outcomes = workers.run("square", [Job(n, square_in_a_span, (n,)) for n in (3, -1, 4)])
    assert {key: value[0] for key, value in outcomes.items() if key >= 0} == {3: 9, 4: 16}
    assert isinstance(outcomes[-1], ValueError) and str(outcomes[-1]) == "-1 is negative"
    assert ({outcomes[3][1], outcomes[4][1]} == {os.getpid()}) == (jobs == 1)


def test_a_failure_that_cannot_travel_back_comes_as_its_text():
    with Workers(2) as workers:
        [(key, outcome)] = list(workers.each([Job("x", raise_unpicklable, ("x",))]))
    assert key == "x" and type(outcome) is RuntimeError and str(outcome) == "Unpicklable: holds a lock"


@pytest.mark.parametrize("jobs", [1, 2])
def test_spans_recorded_in_workers_join_the_profile(jobs):
    with profiling() as recorded, Workers(jobs) as workers:
        workers.run("square", [Job(n, square_in_a_span, (n,)) for n in (2, 5)])
    assert sorted(s.name for s in recorded.spans) == ["square 2", "square 5"] and recorded.processes == jobs
    assert all(s.phase == "build" and s.seconds >= 0 and s.peak_rss_bytes > 0 for s in recorded.spans)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_jobs_below_one_or_not_whole_is_one_clear_error(jobs):
    with pytest.raises(ZooError, match=r"jobs must be a whole number of 1 or more .*not "):
        Workers(jobs)


def log_call(log, name, fail=False):
    with open(log, "a") as handle:
        handle.write(f"{name}\n")
    if fail:
        raise ValueError(f"{name} failed")
    return name


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_job_runs_after_what_it_needs_and_not_at_all_after_a_failure(tmp_path, jobs):
    # base -> middle -> top, and beside them a job that fails and two jobs chained after it.
    log = tmp_path / "log.txt"
    jobs_ = [Job("top", log_call, (log, "top"), after=("middle",)),
             Job("middle", log_call, (log, "middle"), after=("base",)),
             Job("base", log_call, (log, "base")),
             Job("after-after", log_call, (log, "after-after"), after=("after",)),
             Job("after", log_call, (log, "after"), after=("broken",)),
             Job("broken", log_call, (log, "broken", True))]
    with Workers(jobs) as workers:
        outcomes = workers.run("chain", jobs_)
    ran = log.read_text().split()
    assert sorted(ran) == ["base", "broken", "middle", "top"]
    assert ran.index("base") < ran.index("middle") < ran.index("top")
    assert {key: outcomes[key] for key in ("base", "middle", "top")} == {"base": "base", "middle": "middle",
                                                                          "top": "top"}
    assert {key: str(outcomes[key]) for key in ("broken", "after", "after-after")} == dict.fromkeys(
        ("broken", "after", "after-after"), "broken failed")


def test_the_job_with_the_longest_chain_waiting_on_it_starts_first(tmp_path):
    log = tmp_path / "log.txt"
    jobs = [Job("alone", log_call, (log, "alone")), Job("short", log_call, (log, "short")),
            Job("long", log_call, (log, "long")), Job("on-short", log_call, (log, "on-short"), after=("short",)),
            Job("on-long", log_call, (log, "on-long"), after=("long",)),
            Job("on-on-long", log_call, (log, "on-on-long"), after=("on-long",))]
    with Workers(1) as workers:
        workers.run("order", jobs)
    # Ties keep the given order.
    assert log.read_text().split() == ["long", "short", "on-long", "alone", "on-short", "on-on-long"]


def test_jobs_in_a_circle_run_the_first_so_that_it_can_say_so(tmp_path):
    log = tmp_path / "log.txt"
    with Workers(1) as workers:
        outcomes = workers.run("circle", [Job("a", log_call, (log, "a", True), after=("b",)),
                                          Job("b", log_call, (log, "b"), after=("a",))])
    assert log.read_text().split() == ["a"] and {k: str(v) for k, v in outcomes.items()} == {"a": "a failed",
                                                                                            "b": "a failed"}


@pytest.mark.parametrize("jobs, message", [
    ([Job("a", log_call), Job("a", log_call)], r"two jobs are named 'a'"),
    ([Job("a", log_call, after=("b",))], r"job 'a' comes after 'b', which is not among the jobs")])
def test_a_key_twice_or_an_unknown_dependency_is_refused_before_anything_runs(jobs, message):
    with Workers(1) as workers, pytest.raises(ZooError, match=message):
        workers.run("bad", jobs)
