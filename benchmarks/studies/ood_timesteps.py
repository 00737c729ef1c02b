"""The diffusion PLM's timestep sweep over the study's seeds, and the same PLM "before diffusion" with a trained head.

    python -m benchmarks.studies.ood_timesteps [--timesteps 200 400 500 600 700 800] [--limit 500] [--write]

It re-scores the cached runs of ``zoo study diffusion-ood`` (run that first), with no retraining:

- ``diffusion``: each seed's diffusion PLM (``diffusion-plm-minilm-sst2``), by its reconstruction loss at each t;
- ``before``: each seed's MiniLM fine-tuned on the same sentences for the same steps with the masked-LM loss
  (``mlm-minilm-sst2``), read as a diffusion PLM (``DiffusionPLM.reading``): the same noised embeddings at the same
  t, rebuilt by a PLM whose LM head is trained but which never learnt to denoise. It is the "before diffusion" that
  the robustness study's base arm (MiniLM with an untrained head) cannot be.

Per model and t, against each OOD set of the ``ood-sst2`` suite (the first ``--limit`` sentences of every set):
AUROC, and the reconstruction gap (the set's mean loss minus SST-2's); the mean and 95 % t-interval over seeds;
and per t the paired difference of the gaps, diffusion minus before. The paper's robustness claim is that it is
positive: after diffusion fine-tuning OOD text is rebuilt worse, relative to in-distribution text, than before.
``--write`` writes ``timesteps.md``, ``timesteps.png`` (both against t) and ``timesteps.json`` (per seed, with what
produced them) beside the study's table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from benchmarks.studies.paired import compare, t_interval
from benchmarks.studies.protocol import load_study
from benchmarks.studies.seeds import produced_by, run_folder
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT, atomic_file, atomic_write_text

STUDY = "diffusion-ood"
#: The arm read as is (its own objective) and the arm read as the PLM before diffusion.
DIFFUSION_ARM, BEFORE_ARM = "diffusion-plm-minilm-sst2", "mlm-minilm-sst2"
#: How the sweep calls the two models, in the order its tables show them.
LABELS = ("diffusion", "before")
#: The suite whose sets are scored: the study's recipes train on its in-distribution set.
SUITE = "ood-sst2"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "studies" / STUDY


def checkpoint_of(study, arm: str, seed: int) -> Path:
    """The ``last.ckpt`` of the cached study run of ``arm`` at ``seed`` (a clear error when it is not there)."""
    folder = run_folder(study.arms[arm], seed, [*study.overrides, *study.arm_overrides.get(arm, ())])
    ckpt = folder / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        raise ZooError(f"no cached run of {arm} at seed {seed} ({folder}); run `zoo study {study.name}` first, "
                       "with the same ZOO_HOME")
    return ckpt


def sets_of(suite: str, limit: int | None) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The in-distribution test sentences first, then each OOD set's (the first ``limit`` of each), and the
    suite's ``ood`` task arguments."""
    from benchmarks.suites import load_suite
    from datamodules.classification import as_text_set

    args = next(task.args for task in load_suite(suite).tasks if task.task == "ood")
    specs = [args["in_distribution"], *args["ood"]]
    return {spec["name"]: as_text_set(spec).read()[0][:limit] for spec in specs}, args


def losses(module, sets: dict[str, list[str]], timesteps: list[int], max_length: int, batch_size: int
           ) -> dict[str, torch.Tensor]:
    """Each set's reconstruction losses ``(N, len(timesteps))``, every t in one forward."""
    from benchmarks.evaluators.ood import batched_scorer

    encode = batched_scorer(module, max_length, batch_size)
    by_t = lambda batch: torch.stack(list(module.score_batch(batch).values()), 1)  # noqa: E731
    return {name: encode(texts, by_t) for name, texts in sets.items()}


def sweep(timesteps: list[int], limit: int | None, seeds: list[int] | None = None) -> dict[str, Any]:
    """Score both models of every seed at every t: per arm, t and OOD set, the per-seed AUROC and gap."""
    from zoo.checkpoint import read_checkpoint
    from zoo.modules.diffusion_plm import DiffusionPLM
    from zoo.modules.ood import ood_metrics

    study = load_study(STUDY)
    seeds = list(seeds or study.seeds)
    sets, args = sets_of(SUITE, limit)
    in_name, *out_names = sets
    results: dict[str, dict[int, dict[str, dict[str, list[float]]]]] = {}
    runs: dict[str, dict[int, str]] = {}
    for arm, label in zip((DIFFUSION_ARM, BEFORE_ARM), LABELS):
        for seed in tqdm(seeds, desc=f"{label} ({arm})", unit="seed"):
            ckpt = checkpoint_of(study, arm, seed)
            runs.setdefault(label, {})[seed] = ckpt.parent.parent.name
            module = DiffusionPLM.reading(read_checkpoint(ckpt)[0], tuple(timesteps))
            by_set = losses(module, sets, timesteps, args.get("max_length", 128), args.get("batch_size", 64))
            for column, t in enumerate(timesteps):
                cell = results.setdefault(label, {}).setdefault(t, {})
                inside = by_set[in_name][:, column]
                cell.setdefault(in_name, {}).setdefault("loss", []).append(float(inside.mean()))
                for name in out_names:
                    outside = by_set[name][:, column]
                    values = cell.setdefault(name, {})
                    values.setdefault("auroc", []).append(ood_metrics(inside, outside)["auroc"])
                    values.setdefault("gap", []).append(float(outside.mean() - inside.mean()))
                    values.setdefault("loss", []).append(float(outside.mean()))
    return {"study": STUDY, "timesteps": timesteps, "limit": limit, "seeds": seeds, "in_distribution": in_name,
            "ood": out_names, "runs": runs, "results": results, "produced_by": produced_by()}


def _cell(values: list[float]) -> str:
    interval = t_interval(values)
    return f"{interval.value:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def render(record: dict[str, Any]) -> str:
    """The sweep as markdown: AUROC by model and t, then the gaps and their paired difference."""
    results, out_names, in_name = record["results"], record["ood"], record["in_distribution"]
    limit = f"the first {record['limit']} sentences of each set" if record["limit"] else "every sentence of each set"
    lines = [f"# Study {record['study']}: the timestep sweep, and the PLM before diffusion",
             "",
             "Generated by `python -m benchmarks.studies.ood_timesteps --write` from the cached runs of "
             f"`zoo study {record['study']}` (seeds {', '.join(map(str, record['seeds']))}; {limit}); do not edit by "
             "hand. *diffusion*: each seed's `diffusion-plm-minilm-sst2` scored by its reconstruction loss at t. "
             "*before*: each seed's `mlm-minilm-sst2` (the same MiniLM fine-tuned on the same sentences for the same "
             "steps with the masked-LM loss) scored by the very same reconstruction: a trained LM head that never "
             "learnt to denoise. Mean over seeds and 95 % t-interval.",
             "",
             "## AUROC against each OOD set (higher: the loss tells the set from SST-2)",
             "",
             f"| model | t | {in_name} loss | " + " | ".join(out_names) + " |",
             "|---|---:|---:|" + "---:|" * len(out_names)]
    for label in LABELS:
        for t, cell in sorted(results[label].items(), key=lambda item: int(item[0])):
            lines.append(f"| {label} | {t} | {_cell(cell[in_name]['loss'])} | "
                         + " | ".join(_cell(cell[name]["auroc"]) for name in out_names) + " |")
    lines += ["",
              "## Reconstruction gap (OOD mean loss minus SST-2's), and diffusion minus before",
              "",
              "The robustness claim: diffusion fine-tuning widens the gap (the difference is positive).",
              "",
              "| set | t | diffusion | before | diffusion − before | shows |",
              "|---|---:|---:|---:|---:|---|"]
    for name in out_names:
        for t in sorted(results["diffusion"], key=int):
            diffusion, before = results["diffusion"][t][name]["gap"], results["before"][t][name]["gap"]
            paired = compare(dict(zip(record["seeds"], diffusion)), dict(zip(record["seeds"], before)))
            interval = paired.interval
            lines.append(f"| {name} | {t} | {_cell(diffusion)} | {_cell(before)} | {interval.value:+.3f} "
                         f"[{interval.low:+.3f}, {interval.high:+.3f}] | {paired.verdict} |")
    return "\n".join(lines) + "\n"


def render_png(record: dict[str, Any], target) -> None:
    """AUROC and gap against t, one colour per OOD set: diffusion solid, before dashed, mean and 95 % t-interval.

    Args:
        record: The sweep's record.
        target: A PNG file's path, or a binary file object.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for axis, metric, title in ((axes[0], "auroc", "AUROC against SST-2"),
                                (axes[1], "gap", "reconstruction gap (OOD − SST-2), nats")):
        for colour, name in enumerate(record["ood"]):
            for label, style in zip(LABELS, ("-", "--")):
                by_t = sorted(record["results"][label].items(), key=lambda item: int(item[0]))
                intervals = [t_interval(cell[name][metric]) for _, cell in by_t]
                axis.errorbar([int(t) for t, _ in by_t], [i.value for i in intervals],
                              yerr=[[i.value - i.low for i in intervals], [i.high - i.value for i in intervals]],
                              linestyle=style, marker="o", markersize=3, capsize=2, color=f"C{colour}",
                              label=f"{name} ({label})")
        axis.set_xlabel("t (score timestep)", fontsize=8)
        axis.set_title(title, fontsize=9)
        axis.tick_params(labelsize=7)
    axes[0].legend(fontsize=6, ncol=2)
    figure.suptitle(f"{record['study']}: diffusion PLM (solid) and the PLM before diffusion (dashed), "
                    f"{len(record['seeds'])} seeds", fontsize=9)
    figure.tight_layout()
    # No timestamp or version in the metadata: the same sweep gives the same bytes.
    figure.savefig(target, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[200, 400, 500, 600, 700, 800])
    parser.add_argument("--limit", type=int, default=500, help="sentences per set (0: all)")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the study's")
    parser.add_argument("--write", action="store_true", help=f"write timesteps.md and .json into {RESULTS}")
    args = parser.parse_args(argv)
    try:
        record = sweep(sorted(set(args.timesteps)), args.limit or None, args.seeds)
    except ZooError as error:
        parser.error(str(error))
    text = render(record)
    print(text)
    if args.write:
        atomic_write_text(RESULTS / "timesteps.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
        atomic_write_text(RESULTS / "timesteps.md", text)
        with atomic_file(RESULTS / "timesteps.png", "wb") as handle:
            render_png(record, handle)


if __name__ == "__main__":
    main()
