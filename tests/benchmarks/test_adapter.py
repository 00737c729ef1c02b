"""The zoo lm-eval adapter scores exactly as lm-eval's HFLM on the exported folder, and the lm_eval CLI agrees."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import zoo
from benchmarks.adapter import ZooLM
from benchmarks.tasks import TASKS_DIR
from zoo.paths import PROJECT_ROOT

TASKS = ["zoo_tinyworld_general_cloze", "zoo_tinyworld_general_heldout", "zoo_tinyworld_general_short_answer"]


@pytest.fixture(scope="module")
def both(tiny_folder):
    from lm_eval.models.huggingface import HFLM

    return ZooLM(zoo.load(f"local-dir:{tiny_folder}"), batch_size=16), HFLM(pretrained=str(tiny_folder), batch_size=16,
                                                                            device="cpu")


def requests_of(task_manager, kind: str, limit: int):
    from lm_eval.tasks import get_task_dict

    name = {"loglikelihood": TASKS[0], "loglikelihood_rolling": TASKS[1], "generate_until": TASKS[2]}[kind]
    task = get_task_dict([name], task_manager)[name]
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    return [r for r in task.instances if r.request_type == kind]


def test_loglikelihood_matches_hflm(both, task_manager):
    ours, reference = both
    requests = requests_of(task_manager, "loglikelihood", 40)
    mine, theirs = ours.loglikelihood(requests, disable_tqdm=True), reference.loglikelihood(requests, disable_tqdm=True)
    assert len(mine) == len(requests) == 160
    for (a, greedy_a), (b, greedy_b) in zip(mine, theirs):
        assert a == pytest.approx(b, abs=1e-4) and greedy_a == greedy_b


def test_rolling_loglikelihood_matches_hflm(both, task_manager):
    ours, reference = both
    requests = requests_of(task_manager, "loglikelihood_rolling", 5)
    mine = ours.loglikelihood_rolling(requests, disable_tqdm=True)
    assert mine == pytest.approx(reference.loglikelihood_rolling(requests, disable_tqdm=True), abs=1e-3)
    assert all(score < 0 for score in mine)


def test_generate_until_matches_hflm(both, task_manager):
    ours, reference = both
    requests = requests_of(task_manager, "generate_until", 12)
    mine = ours.generate_until(requests, disable_tqdm=True)
    assert mine == reference.generate_until(requests, disable_tqdm=True)
    assert all("\n" not in text for text in mine)


def test_simple_evaluate_same_scores_through_both_paths(both, task_manager):
    from lm_eval import evaluator

    scores = []
    for lm in both:
        out = evaluator.simple_evaluate(model=lm, tasks=TASKS[:2], task_manager=task_manager, limit=30,
                                        bootstrap_iters=0, verbosity="ERROR")
        scores.append({(t, k): v for t, r in out["results"].items() for k, v in r.items()
                       if isinstance(v, float) and "stderr" not in k})
    assert scores[0].keys() == scores[1].keys() and len(scores[0]) >= 5
    for key, value in scores[0].items():
        assert value == pytest.approx(scores[1][key], rel=1e-5), key


def test_lm_eval_cli_on_the_exported_folder_gives_the_same_numbers(both, tiny_folder, tmp_path, task_manager):
    from lm_eval import evaluator

    out = evaluator.simple_evaluate(model=both[0], tasks=[TASKS[0]], task_manager=task_manager, limit=25,
                                    bootstrap_iters=0, verbosity="ERROR")
    command = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={tiny_folder}",
               "--include_path", str(TASKS_DIR), "--tasks", TASKS[0], "--limit", "25", "--device", "cpu",
               "--batch_size", "16", "--output_path", str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads(next((tmp_path / "out").rglob("results*.json")).read_text())
    cli = written["results"][TASKS[0]]
    assert cli["acc,none"] == pytest.approx(out["results"][TASKS[0]]["acc,none"])
    assert cli["acc_norm,none"] == pytest.approx(out["results"][TASKS[0]]["acc_norm,none"])
