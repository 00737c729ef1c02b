"""``evaluate(model, suite)``: result rows for one model on one suite, cached.

How a task is scored follows from what the model is. lm-eval tasks score causal LMs: zoo folders
through the zoo adapter (``ZooLM``), plain HF folders and ``hf-hub:`` ids through lm-eval's
``HFLM``. Evaluator tasks (``benchmarks.evaluators``) score the model kinds their evaluator names.
A task that cannot score the model's kind, or whose data is absent, becomes an error row of its own
and the suite's other tasks still run.

Rows are cached under ``ZOO_HOME/cache/results`` by the model's identity (every output-shaping file:
weights, config, tokenizer...), the suite hash, the sha256 of the documents of each task the suite
does not pin (pinned ones are in the suite hash) and the harness version (+ limit), so a retrained or
re-tokenized model, an edited suite file or changed data is never served an old score. Tasks that
failed are tried again on the next call. A cache file that cannot be read as rows (truncated, edited)
is a miss; the cache is written atomically, and a ``ZOO_HOME`` that cannot hold it is refused before
any model runs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
from contextlib import ExitStack
from functools import cached_property, lru_cache
from os import PathLike
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from benchmarks.evaluators import get_evaluator
from benchmarks.stats import bootstrap_interval
from benchmarks.suites import Suite, TaskSpec, load_suite, task_docs_sha256
from zoo.checkpoint import library_versions as zoo_library_versions
from zoo.checkpoint import load_folder, module_class, plain_folder_class
from zoo.errors import ZooError
from zoo.hashing import fingerprint, identity_of
from zoo.paths import PROJECT_ROOT, atomic_file, cache_dir, using_preset, zoo_home
from zoo.registry import KINDS
from zoo.resolve import CARD_FILE, identity_string, output_hashes, verified_folder

#: Bump when the harness's scoring or row schema changes: every cached result is recomputed.
HARNESS_VERSION = 3
#: The model kinds lm-eval tasks score (through ``ZooLM`` or ``HFLM``).
LM_EVAL_KINDS = ("causal-lm",)
ROW_FIELDS = ("model", "model_identity", "weights_sha256", "kind", "suite", "suite_hash", "task", "task_version",
              "metric", "value", "stderr", "ci_low", "ci_high", "n_items", "higher_is_better", "n_shot", "batch_size",
              "dtype", "device", "cpu", "isa", "math_kernels", "threads", "versions", "git_commit", "date", "error")


def git_commit() -> str:
    """The source commit (``+dirty`` when the tree has changes), or ``unknown`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a result (the zoo's, and lm-eval's)."""
    import lm_eval

    return {**zoo_library_versions(), "lm_eval": getattr(lm_eval, "__version__", "unknown")}


class LoadedModel:
    """A model resolved for evaluation: its verified folder, identity and kind; its module on demand.

    Args:
        reference: Registry name, ``local-dir:/path`` or ``hf-hub:org/name``.
        preset: Which build of a registry name.
    """

    def __init__(self, reference: str, preset: str = "full"):
        self.reference = reference
        self.folder, self.card = verified_folder(reference, preset)
        # Every file is hashed once (or read from the verified card): the identity and the weights' digest share it.
        hashes = output_hashes(self.folder, self.card)
        self.weights = {name: digest for name, digest in hashes.items() if name.endswith(".safetensors")}
        if not self.weights:
            raise ZooError(f"{self.folder}: no safetensors weights; the harness loads safetensors only")
        self.identity = identity_string(hashes)
        self._module = None

    @property
    def weights_sha256(self) -> str:
        """sha256 of the weights: the file's own digest (as ``sha256sum`` prints it) for one file, the
        identity of the files for several (shards, or the parts of a composite folder)."""
        return next(iter(self.weights.values())) if len(self.weights) == 1 else identity_of(self.weights)

    @property
    def module(self):
        """The zoo LightningModule: the card's class, or for a plain HF folder the module of its architecture."""
        if self._module is None:
            self._module = load_folder(self.folder, self.card, self.reference)  # verified when it was resolved
            self._module.zoo_name = self.reference
        return self._module

    @cached_property
    def kind(self) -> str:
        """The model kind: that of the module class the folder loads as (the card's class, or for a
        plain HF folder the class of its architecture), read without loading any weights.

        A zoo card records its class's kind at export; that is read first, so a board served from its cache
        never imports the modules (and Lightning, ~6 s). Loading the module checks its class all the same."""
        if self.card is None:
            return plain_folder_class(self.folder, self.reference)[0].kind
        if self.card.get("kind") in KINDS:
            return self.card["kind"]
        return module_class(self.card.get("class_path"), self.folder / CARD_FILE).kind

    def lm(self, batch_size: int):
        """The lm-eval model: ``ZooLM`` for zoo folders, ``HFLM`` for plain HF folders."""
        if self.card is not None:
            from benchmarks.adapter import ZooLM

            return ZooLM(self.module, batch_size=batch_size)
        from lm_eval.models.huggingface import HFLM

        from zoo.resolve import check_folder_vocabulary, load_errors

        check_folder_vocabulary(self.folder)
        try:
            return HFLM(pretrained=str(self.folder), batch_size=batch_size, device="cpu", trust_remote_code=False)
        except load_errors() as error:
            raise ZooError(f"{self.folder}: lm-eval cannot load it as a causal LM ({str(error).splitlines()[0][:160]}); "
                           "check config.json and the weights") from None


def placement(parameters: Iterable) -> dict[str, str]:
    """The ``device`` and ``dtype`` a model ran in, read from its first parameter.

    Args:
        parameters: The model's parameters.
    """
    first = next(iter(parameters))
    return {"device": str(first.device), "dtype": str(first.dtype).removeprefix("torch.")}


def model_parameters(lm):
    """Parameters of the model behind an lm-eval LM.

    Args:
        lm: A ``ZooLM`` (its ``net``) or an ``HFLM`` (its ``model``).
    """
    return (getattr(lm, "net", None) or lm.model).parameters()


def cache_path(identity: str, suite: Suite, limit: int | None, data: dict[str, str]) -> Path:
    """Where the rows of a model (by identity) on a suite are cached.

    Args:
        identity: ``zoo.resolve.model_identity`` of the model.
        suite: The suite (its hash is part of the key).
        limit: The documents-per-task cap of a quick run (cached apart).
        data: sha256 of the documents of each lm-eval task the suite does not pin (``unpinned_data``).
    """
    return cache_dir("results") / f"{fingerprint(identity, suite.hash, data, HARNESS_VERSION, limit)}.json"


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _require_count(name: str, value: Any, meaning: str) -> None:
    """Refuse a count that is not a whole number of 1 or more, naming the argument and its range.

    Args:
        name: The argument.
        value: Its value.
        meaning: What it counts, and what to pass instead.
    """
    # bool is an int to isinstance, but `limit=True` is a mistake, not a limit of 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ZooError(f"{name} must be a whole number of 1 or more ({meaning}), not {value!r}")


def _load_task(spec: TaskSpec) -> tuple[Any, str] | OSError:
    """The lm-eval task object of a suite task and its documents' sha256, or the ``OSError`` that says its
    data is absent (the loaders' ``FileNotFoundError`` for ``ZOO_DATA_DIR``, ``ConnectionError`` for the hub).

    Args:
        spec: The task (an lm-eval task).
    """
    from lm_eval.utils import setup_logging

    # Before the task loads: lm-eval warns on each custom_dataset task about its --metadata flag, which
    # a zoo user cannot act on (LMEVAL_LOG_LEVEL still overrides the level).
    setup_logging(verbosity="ERROR")
    try:
        task = _task_object(spec.task, os.environ.get("ZOO_DATA_DIR"))
    except OSError as error:
        return error
    return task, task_docs_sha256(task)


@lru_cache(maxsize=None)
def _task_object(task: str, data_dir: str | None):
    """lm-eval's task object, made once per process and data folder (a sweep scores dozens of models on the same
    tasks; making one takes a fifth of a second). Its documents' sha256 is still taken at every use, so rows are
    always keyed by the documents they score; each ``simple_evaluate`` sets the task's few-shot setting and
    builds its requests afresh."""
    from benchmarks.tasks import task_manager

    return task_manager().load([task])["tasks"][task]


def unpinned_data(loaded: dict[str, tuple[Any, str] | OSError]) -> dict[str, str]:
    """The part of the cache key that the suite hash cannot hold: each unpinned task's documents' sha256.

    Args:
        loaded: ``_load_task`` of each lm-eval task the suite does not pin.
    """
    # An absent task is keyed as absent, whatever the reason: the reason (a folder, the hub) may change
    # between calls, and rows already scored must still be served.
    return {task: "absent" if isinstance(outcome, OSError) else outcome[1] for task, outcome in loaded.items()}


class Evaluation(NamedTuple):
    """A model's result rows on a suite and the per-item outcomes behind them.

    ``items`` maps each lm-eval task scored to its items in document order: ``doc_hash`` (lm-eval's
    hash of each document, so two models' items can be paired and checked to be the same), ``outcomes``
    (per metric, one value per item, or a (log-likelihood, count) pair for corpus-level metrics; see
    ``benchmarks.stats``) and, for multiple-choice tasks, ``gold``, ``pred`` (the option of highest
    log-likelihood) and ``n_choices``. Evaluator tasks score corpora, not items, and have none.
    """

    rows: list[dict[str, Any]]
    items: dict[str, dict[str, Any]]


def _cached(path: Path) -> Evaluation:
    """The rows and items cached at ``path``; none when the file is absent, unreadable or not a cache file
    (truncated by a crash of an older version, edited by hand): a miss, recomputed and rewritten."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        rows, items = content["rows"], content["items"]
    except (OSError, ValueError, KeyError, TypeError):
        return Evaluation([], {})
    if (isinstance(rows, list) and isinstance(items, dict)
            and all(isinstance(row, dict) and set(ROW_FIELDS) <= row.keys() for row in rows)):
        return Evaluation(rows, items)
    return Evaluation([], {})


def evaluate(reference: str, suite: str | PathLike, limit: int | None = None, batch_size: int = 64,
             preset: str = "full", use_cache: bool = True) -> list[dict[str, Any]]:
    """Evaluate a model on a suite; returns result rows (from the cache when possible).

    ``evaluate_with_items`` takes the same arguments and also returns the per-item outcomes.

    Args:
        reference: Registry name, ``local-dir:/path`` or ``hf-hub:org/name``.
        suite: A shipped suite's name (``benchmarks/suites``) or the path of a suite file.
        limit: Score at most this many documents per task (a quick look; cached apart); None scores all.
        batch_size: Requests per forward pass.
        preset: Which build of a registry name (``full`` or ``smoke``).
        use_cache: Read cached rows (they are always written).

    Raises:
        ZooError: A bad argument, suite or model reference, changed pinned data, or a ``ZOO_HOME``
            that cannot hold the results cache (refused before the model runs).
    """
    return evaluate_with_items(reference, suite, limit, batch_size, preset, use_cache).rows


def evaluate_with_items(reference: str, suite: str | PathLike, limit: int | None = None, batch_size: int = 64,
                        preset: str = "full", use_cache: bool = True) -> Evaluation:
    """``evaluate``, with the per-item outcomes of each lm-eval task (``Evaluation``)."""
    if limit is not None:
        _require_count("limit", limit, "documents scored per task; None scores them all")
    _require_count("batch_size", batch_size, "requests per forward pass")
    suite = load_suite(suite)
    model = LoadedModel(reference, preset)
    lm_specs = [spec for spec in suite.tasks if spec.evaluator is None and model.kind in LM_EVAL_KINDS]
    # Unpinned tasks are loaded before the cache is read: their data is part of the key, as the pins of
    # the others are part of the suite hash, so changed data is never served old rows.
    loaded = {spec.task: _load_task(spec) for spec in lm_specs if spec.data_sha256 is None}
    path = cache_path(model.identity, suite, limit, unpinned_data(loaded))
    order = {spec.task: index for index, spec in enumerate(suite.tasks)}
    cached = _cached(path) if use_cache else Evaluation([], {})
    # Failed tasks are not kept: their cause (absent data, an unreachable hub) may be gone by now.
    # Rows are served under this caller's name: another name for the same files must not show on the board.
    kept = [{**row, "model": model.reference} for row in cached.rows if row["error"] is None and row["task"] in order]
    done = {row["task"] for row in kept}
    items = {task: outcomes for task, outcomes in cached.items.items() if task in done}
    todo = [spec for spec in suite.tasks if spec.task not in done]
    if not todo:
        return Evaluation(kept, items)
    with ExitStack() as stack:
        # Opened before the model runs, so a ZOO_HOME that cannot hold the cache fails at once, not after
        # the evaluation; the temporary file replaces the cache file only once the rows are written.
        try:
            handle = stack.enter_context(atomic_file(path))
        except ZooError as error:
            raise ZooError(f"{error} (the results cache lives under ZOO_HOME, now {zoo_home()}: "
                           "set ZOO_HOME to a writable folder)") from None
        # The model's own references to other registry names (UPRISE's scoring and transfer LMs) mean the
        # builds of the preset it was loaded at, as they did when it was built.
        stack.enter_context(using_preset(preset))
        common = {"model": reference, "model_identity": model.identity, "weights_sha256": model.weights_sha256,
                  "kind": model.kind, "suite": suite.name, "suite_hash": suite.hash, "batch_size": batch_size,
                  "ci_low": None, "ci_high": None, "n_items": None, **machine(), "versions": library_versions(),
                  "git_commit": git_commit(), "date": dt.date.today().isoformat(), "error": None}
        lm_rows, lm_items = _lm_eval_rows(model, suite, [t for t in todo if t.evaluator is None], limit, batch_size,
                                          common, loaded)
        fresh = lm_rows + _evaluator_rows(model, [t for t in todo if t.evaluator is not None], limit, common)
        rows = sorted(kept + fresh, key=lambda row: order[row["task"]])
        items.update(lm_items)
        handle.write(json.dumps({"harness_version": HARNESS_VERSION, "model_identity": model.identity,
                                 "suite_hash": suite.hash, "rows": rows, "items": items}, sort_keys=True))
    return Evaluation(rows, items)


def machine() -> dict[str, Any]:
    """What ran an evaluation besides the model and the code, so two boards' differences can be traced:
    the CPU's model name, the instruction set torch dispatches to, its math kernels and its threads."""
    import platform
    import re

    import torch

    config = torch.__config__.show()
    kernels = [f"{name}={found.group(1)}" for name, pattern in (
        ("blas", r"BLAS_INFO=(\w+)"), ("mkl", r"Math Kernel Library Version ([\w.]+)"), ("onednn", r"MKL-DNN v([\d.]+)"),
        ("openblas", r"OpenBLAS ([\d.]+)")) if (found := re.search(pattern, config))]
    return {"cpu": _cpu_model() or platform.processor() or platform.machine(),
            "isa": torch.backends.cpu.get_cpu_capability(), "math_kernels": ", ".join(kernels),
            "threads": torch.get_num_threads()}


def _cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux); None elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), None)
    except OSError:
        return None


def item_outcomes(samples: list[dict[str, Any]], metrics: list[str], multiple_choice: bool) -> dict[str, Any]:
    """A task's per-item outcomes (see ``Evaluation``) from lm-eval's logged samples.

    Args:
        samples: lm-eval's samples of the task (``log_samples=True``).
        metrics: The metrics to keep.
        multiple_choice: Whether the task scores options by log-likelihood (then the prediction is kept).
    """
    samples = sorted(samples, key=lambda sample: sample["doc_id"])
    items: dict[str, Any] = {
        "doc_hash": [sample["doc_hash"] for sample in samples],
        "outcomes": {metric: [_outcome(sample[metric]) for sample in samples] for metric in metrics},
    }
    if multiple_choice:
        scores = [[response[0] for response in sample["filtered_resps"]] for sample in samples]
        items.update(gold=[sample["target"] for sample in samples], n_choices=[len(s) for s in scores],
                     pred=[max(range(len(s)), key=s.__getitem__) for s in scores])
    return items


def _outcome(value: Any) -> float | list[float]:
    """One item's outcome as JSON: a number, or the (log-likelihood, count) pair of corpus-level metrics."""
    return [float(part) for part in value] if isinstance(value, (tuple, list)) else float(value)


def _lm_eval_rows(model: LoadedModel, suite: Suite, specs: list[TaskSpec], limit: int | None, batch_size: int,
                  common: dict[str, Any], loaded: dict[str, tuple[Any, str] | OSError]
                  ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Rows and per-item outcomes of the lm-eval tasks; a task with the wrong model kind or without its data is
    an error row. Each row's interval is the percentile bootstrap of its items (``benchmarks.stats``).

    Args:
        model: The model.
        suite: The suite.
        specs: Its lm-eval tasks still to score.
        limit: Documents per task.
        batch_size: Requests per forward pass.
        common: The model's and suite's fields of every row.
        loaded: ``_load_task`` of the tasks already loaded (the unpinned ones); the others are loaded here.
    """
    from lm_eval import evaluator

    from benchmarks.tasks import task_manager

    rows, tasks, items = [], {}, {}
    for spec in specs:
        if model.kind not in LM_EVAL_KINDS:
            rows.append(task_error_row(common, spec, ZooError(
                f"{spec.task} is an lm-eval task, which scores {', '.join(LM_EVAL_KINDS)} models; "
                f"{model.reference} is of kind {model.kind}")))
            continue
        outcome = loaded.get(spec.task) or _load_task(spec)
        if isinstance(outcome, OSError):
            rows.append(task_error_row(common, spec, outcome))
            continue
        task, found = outcome
        if spec.data_sha256 and found != spec.data_sha256:
            raise ZooError(f"suite {suite.name}: data of task {spec.task} changed (pinned {spec.data_sha256[:12]}..., "
                           f"found {found[:12]}...); restore the data or bump the suite version and re-pin it")
        tasks[spec.task] = task
    if not tasks:
        return rows, items
    lm = model.lm(batch_size)
    ran = placement(model_parameters(lm))
    for shots in sorted({spec.num_fewshot for spec in specs if spec.task in tasks}):
        group = [spec for spec in specs if spec.task in tasks and spec.num_fewshot == shots]
        # The task objects already loaded (and checked against their pins), so the data is read once.
        output = evaluator.simple_evaluate(model=lm, tasks=[tasks[spec.task] for spec in group],
                                          task_manager=task_manager(), num_fewshot=shots, limit=limit,
                                          bootstrap_iters=1000, random_seed=0, numpy_random_seed=0, torch_random_seed=0,
                                          fewshot_random_seed=0, verbosity="ERROR", log_samples=True)
        for spec in group:
            results, higher = output["results"][spec.task], output["higher_is_better"].get(spec.task, {})
            version = output["versions"].get(spec.task)
            for metric in spec.metrics:
                if f"{metric},none" not in results:
                    raise ZooError(f"suite {suite.name}: task {spec.task} reports no metric '{metric}' "
                                   f"(it has {', '.join(k.split(',')[0] for k in results if ',' in k)})")
            items[spec.task] = item_outcomes(output["samples"][spec.task], spec.metrics,
                                             tasks[spec.task].OUTPUT_TYPE == "multiple_choice")
            for metric in spec.metrics:
                interval = bootstrap_interval(metric, items[spec.task]["outcomes"][metric])
                rows.append({**common, **ran, "task": spec.task, "task_version": str(version), "metric": metric,
                             "value": _finite(results[f"{metric},none"]),
                             "stderr": _finite(results.get(f"{metric}_stderr,none")),
                             "ci_low": _finite(interval.low), "ci_high": _finite(interval.high),
                             "n_items": len(items[spec.task]["doc_hash"]),
                             "higher_is_better": bool(higher.get(metric, True)), "n_shot": shots})
    return rows, items


def _evaluator_rows(model: LoadedModel, specs: list[TaskSpec], limit: int | None,
                    common: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the evaluator tasks; a task with the wrong model kind or without its data is an error row."""
    rows = []
    for spec in specs:
        scorer = get_evaluator(spec.evaluator)
        if model.kind not in scorer.kinds:
            rows.append(task_error_row(common, spec, ZooError(
                f"{spec.task} (evaluator {spec.evaluator}) scores {', '.join(scorer.kinds)} models; "
                f"{model.reference} is of kind {model.kind}")))
            continue
        try:
            scores = scorer(model.module, spec.args, limit)
        except (OSError, ZooError) as error:  # data the evaluator reads is absent (a file, ZOO_DATA_DIR, the hub)
            rows.append(task_error_row(common, spec, error))
            continue
        ran = placement(model.module.parameters())
        rows += [{**common, **ran, "task": spec.task, "task_version": str(scorer.version), "metric": score.metric,
                  "value": _finite(score.value), "stderr": _finite(score.stderr),
                  "higher_is_better": score.higher_is_better, "n_shot": spec.num_fewshot} for score in scores]
    return rows


def _error_row(fields: dict[str, Any], task: str, error: BaseException) -> dict[str, Any]:
    """A row with metric ``error`` and the error as one line."""
    message = " ".join(str(error).split()) or type(error).__name__
    return {**{key: None for key in ROW_FIELDS}, **fields, "task": task, "metric": "error",
            "error": f"{type(error).__name__}: {message}"[:400]}


def task_error_row(common: dict[str, Any], spec: TaskSpec, error: BaseException) -> dict[str, Any]:
    """The row that stands for one task that could not be scored (the suite's other tasks go on).

    Args:
        common: The model's and suite's fields of every row.
        spec: The task.
        error: Why it was not scored.
    """
    return _error_row({**common, "n_shot": spec.num_fewshot}, spec.task, error)


def error_rows(reference: str, suite_name: str, error: BaseException) -> list[dict[str, Any]]:
    """The row that stands for a model that failed on a whole suite (the sweep goes on).

    Args:
        reference: The model.
        suite_name: The suite.
        error: Why it failed.
    """
    return [_error_row({"model": reference, "suite": suite_name}, "*", error)]


def primary_metrics(rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(suite, task) -> the suite's first metric of the task (the leaderboard column).

    Args:
        rows: Result rows (their suites are read).
    """
    return {(suite.name, spec.task): spec.metrics[0]
            for suite in map(load_suite, sorted({r["suite"] for r in rows if r["suite"]}))
            for spec in suite.tasks}
