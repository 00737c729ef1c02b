"""Evaluation throughput of the zoo lm-eval adapter against lm-eval's ``HFLM``, same model and requests.

    python -m benchmarks.perf.eval_throughput [--model base-lm-tiny | local-dir:PATH] [--tasks ...] [--limit N]

Both contestants answer the same loglikelihood requests (built from the tasks by lm-eval, so the
tokenization is lm-eval's), in this process, alternating; the script checks that the scores are
identical (to float tolerance) and prints requests/s and the ratio (target >= 1.5).
"""

from __future__ import annotations

import argparse
import os
import time


def build_requests(task_names: list[str], limit: int | None):
    """lm-eval ``Instance`` requests of the tasks (loglikelihood only)."""
    from lm_eval.tasks import get_task_dict

    from benchmarks.tasks import task_manager

    requests = []
    for name, task in get_task_dict(task_names, task_manager()).items():
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        requests += [r for r in task.instances if r.request_type == "loglikelihood"]
    return requests


def timed(lm, requests) -> tuple[float, list]:
    start = time.perf_counter()
    results = lm.loglikelihood(requests, disable_tqdm=True)
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="base-lm-tiny", help="zoo reference (registry name, local-dir:, ...)")
    parser.add_argument("--tasks", nargs="+", default=["zoo_tinyworld_general_cloze", "zoo_tinyworld_general_question"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from lm_eval.models.huggingface import HFLM

    from benchmarks.adapter import ZooLM
    from zoo.checkpoint import load
    from zoo.resolve import resolve

    folder = resolve(args.model)
    ours = ZooLM(load(f"local-dir:{folder}"), batch_size=args.batch_size)
    reference = HFLM(pretrained=str(folder), batch_size=args.batch_size, device="cpu")
    requests = build_requests(args.tasks, args.limit)
    zoo_times, hf_times = [], []
    for _ in range(args.rounds):
        seconds, hf_scores = timed(reference, requests)
        hf_times.append(seconds)
        seconds, zoo_scores = timed(ours, requests)
        zoo_times.append(seconds)
    worst = max(abs(a[0] - b[0]) for a, b in zip(zoo_scores, hf_scores))
    same_greedy = all(a[1] == b[1] for a, b in zip(zoo_scores, hf_scores))
    n = len(requests)
    print(f"model: {args.model}  requests: {n} loglikelihood  batch size: {args.batch_size}")
    print(f"lm-eval HFLM : {n / min(hf_times):9.0f} requests/s")
    print(f"zoo adapter  : {n / min(zoo_times):9.0f} requests/s")
    print(f"ratio        : {min(hf_times) / min(zoo_times):9.2f}   (target >= 1.5)")
    print(f"scores       : max |difference| {worst:.2e}, same greedy flags: {same_greedy}")


if __name__ == "__main__":
    main()
