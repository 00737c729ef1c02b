"""Suite files for tests: a writer and the shipped cloze task's entry."""

from __future__ import annotations

from pathlib import Path

import yaml

#: The general tinyworld's cloze task, pinned as in the shipped suites.
CLOZE = {"task": "zoo_tinyworld_general_cloze", "metrics": ["acc", "acc_norm"],
         "data_sha256": "04817ba3d21e8a271e9a39975727e76d98a6be80a084fb649960ba5e3bc814a1"}


def write_suite(folder: Path, name: str, tasks: list[dict]) -> str:
    """Write ``folder/<name>.yaml``, a suite of ``tasks``; returns its name.

    Args:
        folder: Where (a copied suites folder, or anywhere for a user's own suite file).
        name: The suite's name (and the file's).
        tasks: Its task entries.
    """
    (folder / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, "version": 1, "description": name,
                                                         "tasks": tasks}))
    return name
