"""Fixtures of the benchmark tests: a private suites folder, a private evaluator registry, a counting suite."""

from __future__ import annotations

import shutil

import pytest

import benchmarks.evaluators as evaluators
from benchmarks.evaluators import Score, evaluator, register
from benchmarks.suites import SUITES_DIR
from tests.benchmarks.suite_kit import write_suite


@pytest.fixture
def suite_copy(tmp_path, monkeypatch):
    """A private copy of the suites folder, to edit."""
    folder = shutil.copytree(SUITES_DIR, tmp_path / "suites")
    monkeypatch.setattr("benchmarks.suites.SUITES_DIR", folder)
    return folder


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the evaluator registry, so registrations do not leak into other tests."""
    monkeypatch.setattr(evaluators, "EVALUATORS", dict(evaluators.EVALUATORS))
    return evaluators.EVALUATORS


@pytest.fixture
def calls(suite_copy, registry, tmp_path, monkeypatch):
    """A suite ``counted`` whose one task counts the evaluations that reach a model (value: the count),
    with a results cache of its own."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "zoo_home"))
    seen = []

    @register("count_calls")
    @evaluator(version="1", kinds=("causal-lm",))
    def count_calls(module, args, limit):
        seen.append(module)
        return [Score("calls", float(len(seen)))]

    write_suite(suite_copy, "counted", [{"task": "counted", "metrics": ["calls"], "evaluator": "count_calls"}])
    return seen
