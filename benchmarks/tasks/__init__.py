"""lm-eval task YAMLs of the zoo (local data, ``include_path`` wired automatically)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def task_manager():
    """An lm-eval ``TaskManager`` that knows the zoo's tasks (built once per process: it takes seconds)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
