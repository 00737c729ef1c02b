"""``evaluate(model, suite)``: result rows for one model on one suite, cached.

Text tasks run through lm-eval: zoo folders through the zoo adapter (``ZooLM``), plain HF folders
and ``hf-hub:`` ids through lm-eval's ``HFLM``. Non-LM tasks run through ``benchmarks.evaluators``.
Rows are cached under ``ZOO_HOME/cache/results`` by weights sha256 + suite hash + harness version
(+ limit), so a retrained model is never served an old score.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.suites import Suite, load_suite, task_docs_sha256
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT, atomic_write_text, cache_dir

#: Bump when the harness's scoring or row schema changes: every cached result is recomputed.
HARNESS_VERSION = 1
ROW_FIELDS = ("model", "weights_sha256", "suite", "suite_hash", "task", "task_version", "metric", "value",
              "stderr", "higher_is_better", "n_shot", "batch_size", "dtype", "device", "versions", "git_commit",
              "date", "error")


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
    import lm_eval

    from zoo.checkpoint import library_versions as zoo_versions

    return {**zoo_versions(), "lm_eval": getattr(lm_eval, "__version__", "unknown")}


class LoadedModel:
    """A model resolved for evaluation: its folder, weights sha256, module (zoo) or none (plain HF)."""

    def __init__(self, reference: str, preset: str = "full"):
        from zoo.checkpoint import read_card, resolve, sha256_of, verify_folder

        self.reference = reference
        self.folder = resolve(reference, preset)
        self.card = read_card(self.folder)
        if self.card is not None:
            verify_folder(self.folder, self.card)
            self.weights_sha256 = self.card["weights_sha256"]
        else:
            weights = sorted(self.folder.glob("*.safetensors"))
            if not weights:
                raise ZooError(f"{self.folder}: no safetensors weights; the harness loads safetensors only")
            shards = [sha256_of(w) for w in weights]
            # One file: its own sha256 (as zoo cards record it); shards: the sha256 of their sha256s.
            self.weights_sha256 = shards[0] if len(shards) == 1 else hashlib.sha256("".join(shards).encode()).hexdigest()
        self._module = None

    @property
    def module(self):
        """The zoo LightningModule (zoo folders) or a ``CausalLM`` wrapping the HF model."""
        if self._module is None:
            import zoo

            self._module = zoo.load(f"local-dir:{self.folder}")
        return self._module

    def lm(self, batch_size: int):
        """The lm-eval model: ``ZooLM`` for zoo folders, ``HFLM`` for plain HF folders."""
        if self.card is not None:
            from benchmarks.adapter import ZooLM

            return ZooLM(self.module, batch_size=batch_size)
        from lm_eval.models.huggingface import HFLM

        return HFLM(pretrained=str(self.folder), batch_size=batch_size, device="cpu", trust_remote_code=False)


def cache_path(weights_sha256: str, suite: Suite, limit: int | None) -> Path:
    key = f"{weights_sha256[:16]}-{suite.hash[:16]}-h{HARNESS_VERSION}" + (f"-limit{limit}" if limit else "")
    return cache_dir("results") / f"{key}.json"


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def evaluate(reference: str, suite_name: str, limit: int | None = None, batch_size: int = 64,
             preset: str = "full", use_cache: bool = True) -> list[dict[str, Any]]:
    """Evaluate a model on a suite; returns result rows (from the cache when possible).

    Args:
        reference: Registry name, ``local-dir:/path`` or ``hf-hub:org/name``.
        suite_name: A suite under ``benchmarks/suites``.
        limit: Score at most this many documents per task (a quick look; cached apart).
        batch_size: Requests per forward pass.
        preset: Which build of a registry name (``full`` or ``smoke``).
        use_cache: Read cached rows (they are always written).
    """
    suite = load_suite(suite_name)
    model = LoadedModel(reference, preset)
    path = cache_path(model.weights_sha256, suite, limit)
    if use_cache and path.exists():
        return json.loads(path.read_text(encoding="utf-8"))["rows"]

    common = {"model": reference, "weights_sha256": model.weights_sha256, "suite": suite.name,
              "suite_hash": suite.hash, "batch_size": batch_size, "device": "cpu", "versions": library_versions(),
              "git_commit": git_commit(), "date": dt.date.today().isoformat(), "error": None}
    rows = _lm_eval_rows(model, suite, limit, batch_size, common) + _evaluator_rows(model, suite, limit, common)
    atomic_write_text(path, json.dumps({"harness_version": HARNESS_VERSION, "rows": rows}, indent=1, sort_keys=True))
    return rows


def _lm_eval_rows(model: LoadedModel, suite: Suite, limit: int | None, batch_size: int,
                  common: dict[str, Any]) -> list[dict[str, Any]]:
    from lm_eval import evaluator
    from lm_eval.tasks import get_task_dict

    from benchmarks.tasks import task_manager

    specs = [t for t in suite.tasks if t.evaluator is None]
    if not specs:
        return []
    tasks = get_task_dict([t.task for t in specs], task_manager())
    for spec in specs:
        found = task_docs_sha256(tasks[spec.task])
        if spec.data_sha256 and found != spec.data_sha256:
            raise ZooError(f"suite {suite.name}: data of task {spec.task} changed (pinned {spec.data_sha256[:12]}..., "
                           f"found {found[:12]}...); restore the data or bump the suite version and re-pin it")
    lm = model.lm(batch_size)
    dtype = str(next(model_parameters(lm)).dtype).removeprefix("torch.")
    rows = []
    for shots in sorted({t.num_fewshot for t in specs}):
        group = [t for t in specs if t.num_fewshot == shots]
        output = evaluator.simple_evaluate(model=lm, tasks=[t.task for t in group], task_manager=task_manager(),
                                          num_fewshot=shots, limit=limit, bootstrap_iters=1000, random_seed=0,
                                          numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0,
                                          verbosity="ERROR", log_samples=False)
        for spec in group:
            results, higher = output["results"][spec.task], output["higher_is_better"].get(spec.task, {})
            version = output["versions"].get(spec.task)
            for metric in spec.metrics:
                if f"{metric},none" not in results:
                    raise ZooError(f"suite {suite.name}: task {spec.task} reports no metric '{metric}' "
                                   f"(it has {', '.join(k.split(',')[0] for k in results if ',' in k)})")
                rows.append({**common, "task": spec.task, "task_version": str(version), "metric": metric,
                             "value": _finite(results[f"{metric},none"]),
                             "stderr": _finite(results.get(f"{metric}_stderr,none")),
                             "higher_is_better": bool(higher.get(metric, True)), "n_shot": shots, "dtype": dtype})
    return rows


def model_parameters(lm):
    """Parameters of the model behind an lm-eval LM (ZooLM or HFLM)."""
    return (getattr(lm, "net", None) or lm.model).parameters()


def _evaluator_rows(model: LoadedModel, suite: Suite, limit: int | None, common: dict[str, Any]) -> list[dict[str, Any]]:
    from benchmarks.evaluators import get_evaluator

    rows = []
    for spec in (t for t in suite.tasks if t.evaluator is not None):
        evaluator = get_evaluator(spec.evaluator)
        dtype = str(next(model.module.parameters()).dtype).removeprefix("torch.")
        for score in evaluator(model.module, spec.args, limit):
            rows.append({**common, "task": spec.task, "task_version": str(evaluator.version), "metric": score.metric,
                         "value": _finite(score.value), "stderr": _finite(score.stderr),
                         "higher_is_better": score.higher_is_better, "n_shot": spec.num_fewshot, "dtype": dtype})
    return rows


def error_rows(reference: str, suite_name: str, error: BaseException) -> list[dict[str, Any]]:
    """The row that stands for a model that failed on a suite (the sweep goes on)."""
    message = " ".join(str(error).split()) or type(error).__name__
    return [{**{key: None for key in ROW_FIELDS}, "model": reference, "suite": suite_name, "task": "*",
             "metric": "error", "error": f"{type(error).__name__}: {message}"[:300]}]


def plan(pattern: str = "*", suites: list[str] | None = None, include_hub: bool = False) -> list[tuple[str, list[str]]]:
    """Which models are evaluated on which suites: registry entries matching ``pattern`` with their suites.

    Hub entries join only with ``include_hub`` (they need the network); suites that read real data join
    only when ``ZOO_DATA_DIR`` is set, unless named in ``suites``.
    """
    import os

    from zoo.registry import entries, list_models

    chosen = []
    for name in list_models(pattern):
        entry = entries()[name]
        if entry.recipe is None and not include_hub:
            continue
        wanted = [s for s in entry.suites if suites is None or s in suites]
        if suites is None and not os.environ.get("ZOO_DATA_DIR"):
            wanted = [s for s in wanted if not load_suite(s).real_data]
        if wanted:
            chosen.append((name, wanted))
    return chosen


def sweep(pattern: str = "*", suites: list[str] | None = None, preset: str = "full", limit: int | None = None,
          include_hub: bool = False, batch_size: int = 64) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """Build what is missing, evaluate what is not cached; a failing model becomes error rows.

    Returns:
        The rows, and the model-card README of each built model.
    """
    from tqdm import tqdm

    from zoo.builder import build

    work = plan(pattern, suites, include_hub)
    if not work:
        raise ZooError(f"no model with suites matches '{pattern}'" + (f" and {suites}" if suites else "")
                       + "; `zoo list` shows the models, benchmarks/suites the suites")
    failed: dict[str, BaseException] = {}
    cards: dict[str, Path] = {}
    from zoo.registry import get_entry

    for name, _ in tqdm(work, desc="build", unit="model"):
        if get_entry(name).recipe is None:
            continue
        try:
            folder, _ = build(name, preset=preset)
            cards[name] = folder / "README.md"
        except Exception as error:  # a model that fails becomes an error row, not a crashed sweep
            failed[name] = error
    rows: list[dict[str, Any]] = []
    pairs = [(name, suite) for name, names in work for suite in names]
    for name, suite in tqdm(pairs, desc="evaluate", unit="suite"):
        if name in failed:
            rows += error_rows(name, suite, failed[name])
            continue
        try:
            rows += evaluate(name, suite, limit=limit, batch_size=batch_size, preset=preset)
        except Exception as error:
            rows += error_rows(name, suite, error)
    return rows, cards


def primary_metrics(rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(suite, task) -> the suite's first metric of the task (the leaderboard column)."""
    return {(suite.name, spec.task): spec.metrics[0]
            for suite in map(load_suite, sorted({r["suite"] for r in rows if r["suite"]}))
            for spec in suite.tasks}
