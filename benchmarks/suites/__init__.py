"""Fixed benchmark suites: YAML data with a version, pinned data and a hash.

A suite lists tasks. An lm-eval task entry names the task (``benchmarks/tasks``), its metrics,
its few-shot setting and ``data_sha256``, the pinned sha256 of its test documents (canonical
JSON), so local files and hub copies are checked against the same pin. An evaluator entry
(``evaluator: NAME``) names an evaluator of the ``benchmarks.evaluators`` registry instead.

The suite hash covers the suite file and the files that define its tasks (YAMLs, included YAMLs, loaders,
evaluator sources), so it changes whenever the tasks, the pinned data, a metric or a few-shot setting does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

from benchmarks.evaluators import evaluator_source
from zoo.errors import ZooError

SUITES_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class TaskSpec:
    """One task of a suite.

    Args:
        task: lm-eval task name, or the evaluator's task label.
        metrics: Metrics reported, the first being the leaderboard's column.
        num_fewshot: Few-shot examples.
        data_sha256: Pinned sha256 of the task's test documents.
        evaluator: Registry name of a ``benchmarks.evaluators`` evaluator, for tasks lm-eval does not score.
        args: Evaluator arguments.
    """

    task: str
    metrics: tuple[str, ...]
    num_fewshot: int = 0
    data_sha256: str | None = None
    evaluator: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    """A suite: name, version, description, tasks, whether it needs ``ZOO_DATA_DIR`` / the hub."""

    name: str
    version: int
    description: str
    tasks: tuple[TaskSpec, ...]
    real_data: bool = False
    path: Path | None = None

    @cached_property
    def hash(self) -> str:
        """sha256 over the suite file and the files that define its tasks."""
        return suite_hash(self)


def suite_names() -> list[str]:
    """Names of the shipped suites."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def load_suite(name: str) -> Suite:
    """Read ``benchmarks/suites/<name>.yaml``; an unknown name lists the suites."""
    path = SUITES_DIR / f"{name}.yaml"
    if not path.exists():
        import difflib

        close = difflib.get_close_matches(name, suite_names(), n=3)
        raise ZooError(f"unknown suite '{name}': " + (f"did you mean {', '.join(close)}?" if close else
                                                      f"choose one of {', '.join(suite_names())}"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    tasks = tuple(TaskSpec(**{**t, "metrics": tuple(t["metrics"])}) for t in data.pop("tasks"))
    return Suite(tasks=tasks, path=path, **data)


def task_files(task: str) -> list[Path]:
    """Files that define an lm-eval task: its YAML, the YAMLs it includes, the Python beside them."""
    from benchmarks.tasks import task_manager

    info = task_manager().task_index.get(task)
    if info is None:
        raise ZooError(f"suite names task '{task}', which no YAML under benchmarks/tasks defines")
    path = Path(info.yaml_path)
    files = [path]
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("include:"):
            files.append(path.parent / line.split(":", 1)[1].strip())
    return files + sorted(path.parent.glob("*.py"))


def suite_hash(suite: Suite) -> str:
    """sha256 over the suite file and the files that define its tasks (lm-eval YAMLs and loaders, evaluator sources)."""
    digest = hashlib.sha256(suite.path.read_bytes())
    files = sorted({f for t in suite.tasks if t.evaluator is None for f in task_files(t.task)}
                   | {source for t in suite.tasks if t.evaluator is not None
                      if (source := evaluator_source(t.evaluator)) is not None})
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def docs_sha256(docs) -> str:
    """sha256 of documents as canonical JSON (the same for local files and hub copies)."""
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode() + b"\n")
    return digest.hexdigest()


def task_docs_sha256(task) -> str:
    """sha256 of an lm-eval task object's evaluation documents."""
    return docs_sha256(task.test_docs() if task.has_test_docs() else task.validation_docs())


def pin(name: str) -> Path:
    """Recompute the ``data_sha256`` pins of a suite and rewrite its YAML (atomically)."""
    from lm_eval.tasks import get_task_dict

    from benchmarks.tasks import task_manager
    from zoo.paths import atomic_write_text

    suite = load_suite(name)
    data = yaml.safe_load(suite.path.read_text(encoding="utf-8"))
    lm_tasks = [t["task"] for t in data["tasks"] if not t.get("evaluator")]
    tasks = get_task_dict(lm_tasks, task_manager())
    for entry in data["tasks"]:
        if not entry.get("evaluator"):
            entry["data_sha256"] = task_docs_sha256(tasks[entry["task"]])
    header = "".join(line + "\n" for line in suite.path.read_text(encoding="utf-8").splitlines()
                     if line.startswith("#"))
    atomic_write_text(suite.path, header + yaml.safe_dump(data, sort_keys=False, width=120, default_flow_style=None))
    load_suite.cache_clear()
    return suite.path
