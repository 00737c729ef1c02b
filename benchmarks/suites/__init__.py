"""Fixed benchmark suites: YAML data with a version, pinned data and a hash.

A suite lists tasks. An lm-eval task entry names the task (``benchmarks/tasks``), its metrics,
its few-shot setting and ``data_sha256``, the pinned sha256 of its test documents (canonical
JSON), so local files and hub copies are checked against the same pin. An evaluator entry
(``evaluator: NAME``) names an evaluator of the ``benchmarks.evaluators`` registry instead.

A suite is referred to in one of two ways. A bare name (``tinyworld-general``: lowercase letters,
digits, ``-`` and ``_``) is a suite shipped in ``benchmarks/suites`` and nothing else, so a name
never reaches another folder. A suite file of one's own is given as its path (``./my-suite.yaml``,
``/abs/x.yaml``: anything with a path separator, or ending in ``.yaml`` or ``.yml``); ``pin``
rewrites exactly the file that was named. Either way the file is checked field by field, so a
malformed suite is one line naming the file and the field.

The suite hash covers the suite file's bytes and the files that define its tasks (YAMLs, included YAMLs,
loaders, evaluator sources), so it changes whenever the tasks, the pinned data, a metric or a few-shot
setting does; the data of a task left unpinned is keyed by the harness itself. Hashing a suite refuses
a task or an evaluator that nothing defines.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

from benchmarks.evaluators import evaluator_source
from zoo.errors import ZooError
from zoo.paths import atomic_write_text

SUITES_DIR = Path(__file__).resolve().parent
#: What a shipped suite's name may be: no separator and no dot, so it cannot leave ``SUITES_DIR``.
NAME = re.compile(r"[a-z0-9_-]+")
#: How a suite file's name ends (a reference ending so is a path, never a name).
SUFFIXES = (".yaml", ".yml")
_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep)


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
    """A suite, as read from its file.

    Args:
        name: The suite's name (recorded in result rows).
        version: Bumped on a deliberate change of its tasks or data.
        description: One line for ``zoo suites``.
        tasks: Its tasks, in the order rows are reported.
        real_data: Whether it needs ``ZOO_DATA_DIR`` or the hub.
        path: The file it was read from.
        content: The file's bytes as read (what the hash covers, even if the file changes later).
    """

    name: str
    version: int
    description: str
    tasks: tuple[TaskSpec, ...]
    real_data: bool = False
    path: Path | None = None
    content: bytes = field(default=b"", repr=False)

    @cached_property
    def hash(self) -> str:
        """sha256 over the suite file and the files that define its tasks."""
        return suite_hash(self)


#: The fields of a suite file and of its task entries, with the types their values must have.
SUITE_FIELDS = {"name": str, "version": int, "description": str, "tasks": list, "real_data": bool}
TASK_FIELDS = {"task": str, "metrics": list, "num_fewshot": int, "data_sha256": (str, type(None)),
               "evaluator": (str, type(None)), "args": dict}


def suite_names() -> list[str]:
    """Names of the shipped suites."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def is_suite_path(reference: str | os.PathLike) -> bool:
    """Whether a suite reference is the path of a suite file rather than a shipped suite's name.

    Args:
        reference: What the user passed: a ``Path``, or a string with a path separator or a ``.yaml``
            ending, is a path; any other string is a name.
    """
    if isinstance(reference, os.PathLike):
        return True
    return any(sep in reference for sep in _SEPARATORS) or reference.endswith(SUFFIXES)


def suite_file(reference: str | os.PathLike) -> Path:
    """The file a suite reference names: a shipped suite's file in ``benchmarks/suites``, or the user's file.

    Args:
        reference: A shipped suite's name, or the path of a suite file (see ``is_suite_path``).

    Raises:
        ZooError: The reference is neither a string nor a path; a name that is not a shipped suite's
            (the close names are listed; a name never resolves outside ``benchmarks/suites``); a path
            that does not end in ``.yaml``.
    """
    if not isinstance(reference, (str, os.PathLike)):
        raise ZooError(f"suite must be a suite name or the path of a suite .yaml file, not {reference!r} "
                       f"({type(reference).__name__}); `zoo suites` lists the names")
    if is_suite_path(reference):
        path = Path(reference).expanduser()
        if path.suffix not in SUFFIXES:
            raise ZooError(f"suite '{reference}' is a file path (suite names have no '/'), but not a .yaml file; pass "
                           "a shipped suite's name (`zoo suites` lists them) or the path of a suite .yaml file")
        return path.resolve()
    path = SUITES_DIR / f"{reference}.yaml"
    # The shape check comes first: only a name of this shape is looked up, so '..' and the like never
    # reach the file system.
    if not NAME.fullmatch(reference) or not path.is_file():
        close = difflib.get_close_matches(reference.lower(), suite_names(), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"choose one of {', '.join(suite_names())}"
        raise ZooError(f"unknown suite '{reference}': {hint} (a suite file of your own goes by its path, "
                       "e.g. ./my-suite.yaml)")
    return path


def load_suite(reference: str | os.PathLike) -> Suite:
    """Read and check a suite: a shipped suite by name, or a suite file by its path.

    Args:
        reference: A shipped suite's name, or the path of a suite file (see ``is_suite_path``).

    Raises:
        ZooError: An unknown name, a file that cannot be read, or a file that is not a suite
            (the message names the file and the field).
    """
    path = suite_file(reference)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ZooError(f"suite file {path}: cannot read it ({error.strerror or error}); "
                       "pass the path of a readable suite .yaml file") from None
    return _parse_suite(path, content)


@lru_cache(maxsize=None)
def _parse_suite(path: Path, content: bytes) -> Suite:
    """The suite in ``content`` (keyed by the bytes, so an edited file is read afresh and hashed anew)."""
    try:
        data = yaml.safe_load(content.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise _not_a_suite(path, f"not UTF-8 YAML ({getattr(error, 'problem', None) or error}{where})") from None
    _check_fields(path, "the file", data, SUITE_FIELDS, Suite)
    name = data["name"]
    if not NAME.fullmatch(name):
        raise _not_a_suite(path, f"name '{name}' is not lowercase letters, digits, '-' and '_'")
    if path.parent == SUITES_DIR and name != path.stem:
        raise _not_a_suite(path, f"name '{name}' is not its file's name '{path.stem}'")
    if path.parent != SUITES_DIR and name in suite_names():
        # Rows record the suite by name: a private variant must not pass for the shipped suite.
        raise _not_a_suite(path, f"name '{name}' is a shipped suite's; give your suite a name of its own")
    if not data["tasks"]:
        raise _not_a_suite(path, "it lists no tasks")
    for index, entry in enumerate(data["tasks"]):
        _check_fields(path, f"task {index + 1}", entry, TASK_FIELDS, TaskSpec)
        if not entry["metrics"] or not all(isinstance(metric, str) for metric in entry["metrics"]):
            raise _not_a_suite(path, f"task {entry['task']}: metrics must be a non-empty list of metric names")
        if entry.get("num_fewshot", 0) < 0:
            raise _not_a_suite(path, f"task {entry['task']}: num_fewshot must be 0 or more")
    names = [entry["task"] for entry in data["tasks"]]
    if repeated := sorted({task for task in names if names.count(task) > 1}):
        raise _not_a_suite(path, f"task {', '.join(repeated)} is listed twice (rows are keyed by task)")
    tasks = tuple(TaskSpec(**{**entry, "metrics": tuple(entry["metrics"])}) for entry in data["tasks"])
    return Suite(**{**data, "tasks": tasks}, path=path, content=content)


def _check_fields(path: Path, where: str, entry: Any, types: dict[str, Any], schema: type) -> None:
    """Refuse an entry that is not a mapping of the dataclass ``schema``'s fields with values of ``types``."""
    if not isinstance(entry, dict):
        raise _not_a_suite(path, f"{where} is not a mapping of {', '.join(types)}")
    required = [f.name for f in dataclasses.fields(schema)
                if f.name in types and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing := [key for key in required if key not in entry]:
        raise _not_a_suite(path, f"{where} has no {', '.join(missing)}")
    if unknown := sorted(set(map(str, entry)) - set(types)):
        raise _not_a_suite(path, f"{where} has unknown field {', '.join(unknown)} (known: {', '.join(types)})")
    for key, value in entry.items():
        expected = types[key] if isinstance(types[key], tuple) else (types[key],)
        # bool is an int to isinstance, but `version: true` is a mistake, not version 1.
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            wanted = " or ".join("null" if kind is type(None) else kind.__name__ for kind in expected)
            raise _not_a_suite(path, f"{where}: {key} must be {wanted}, not {value!r}")


def _not_a_suite(path: Path, problem: str) -> ZooError:
    """The one-line error of a malformed suite file."""
    return ZooError(f"suite file {path}: {problem}; see benchmarks/suites/tinyworld-general.yaml for the format")


def task_files(task: str) -> list[Path]:
    """Files that define an lm-eval task: its YAML, the YAMLs it includes, the Python beside them.

    Args:
        task: The lm-eval task name.

    Raises:
        ZooError: No YAML under ``benchmarks/tasks`` defines the task (the close names are listed).
    """
    from benchmarks.tasks import task_manager

    index = task_manager().task_index
    info = index.get(task)
    if info is None:
        close = difflib.get_close_matches(task, list(index), n=3)
        raise ZooError(f"unknown lm-eval task '{task}': no YAML under benchmarks/tasks defines it"
                       + (f" (did you mean {', '.join(close)}?)" if close else ""))
    path = Path(info.yaml_path)
    files = [path]
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("include:"):
            files.append(path.parent / line.split(":", 1)[1].strip())
    return files + sorted(path.parent.glob("*.py"))


def task_sources(suite: Suite) -> list[Path]:
    """The files that define a suite's tasks: lm-eval YAMLs and loaders, evaluator sources.

    Args:
        suite: The suite.

    Raises:
        ZooError: A task no YAML under ``benchmarks/tasks`` defines, or an evaluator that is not
            registered (the message names the suite file).
    """
    files: set[Path] = set()
    try:
        for spec in suite.tasks:
            if spec.evaluator is None:
                files.update(task_files(spec.task))
            elif (source := evaluator_source(spec.evaluator)) is not None:
                files.add(source)
    except ZooError as error:
        raise ZooError(f"suite {suite.name} ({suite.path}): {error}; correct the task in the suite file") from None
    return sorted(files)


def suite_hash(suite: Suite) -> str:
    """sha256 over the suite file and the files that define its tasks (lm-eval YAMLs and loaders, evaluator sources).

    Args:
        suite: The suite (its file's bytes as read; an unknown task or evaluator is a ``ZooError``).
    """
    digest = hashlib.sha256(suite.content)
    for file in task_sources(suite):
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


def pin(reference: str | os.PathLike) -> Path:
    """Recompute the ``data_sha256`` pins of a suite and rewrite its file (atomically); no other file is written.

    Args:
        reference: A shipped suite's name (its file in ``benchmarks/suites`` is rewritten) or the
            path of a suite file (that file is rewritten).

    Raises:
        ZooError: An unknown suite, task or evaluator (refused before any data is read), task data
            that cannot be read, or a file that cannot be written.
    """
    from lm_eval.tasks import get_task_dict

    from benchmarks.tasks import task_manager

    suite = load_suite(reference)
    task_sources(suite)  # refuses unknown tasks and evaluators before any data is read
    text = suite.content.decode("utf-8")
    data = yaml.safe_load(text)
    lm_tasks = [spec.task for spec in suite.tasks if spec.evaluator is None]
    try:
        tasks = get_task_dict(lm_tasks, task_manager()) if lm_tasks else {}
    except OSError as error:  # the loaders' FileNotFoundError (ZOO_DATA_DIR) or ConnectionError (hub)
        raise ZooError(f"cannot pin suite {suite.name} ({suite.path}): {error}") from None
    for entry, spec in zip(data["tasks"], suite.tasks):
        if spec.evaluator is None:
            entry["data_sha256"] = task_docs_sha256(tasks[spec.task])
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    atomic_write_text(suite.path, header + yaml.safe_dump(data, sort_keys=False, width=120, default_flow_style=None))
    return suite.path
