"""``ood``: how well an encoder's score tells out-of-distribution sentences from in-distribution ones.

For each OOD set, against the in-distribution test set: AUROC and FPR at 95 % TPR (metrics
``auroc_<set>`` and ``fpr95_<set>``; OOD is the positive class, higher scores mean OOD, as upstream).
The score is the model's own (``score: own``: the diffusion PLM's reconstruction loss at its first
timestep, the MLM's reconstruction loss, a classifier's 1 - max softmax probability) or the
Mahalanobis distance of its mean-pooled penultimate features to the in-distribution training set's
class means (``score: mahalanobis``, Lee et al. 2018). A histogram of the in-distribution and OOD
scores is drawn into ``$ZOO_HOME/results/ood/<model>/<task>.png``.
"""

from __future__ import annotations

from typing import Any

import torch

from benchmarks.evaluators import Score, evaluator
from zoo.errors import ZooError

SCORES = ("own", "mahalanobis")


@evaluator(version="2", kinds=("encoder",))
def ood(module: Any, args: dict[str, Any], limit: int | None) -> list[Score]:
    """AUROC and FPR95 of an encoder's OOD score, one pair of metrics per OOD set.

    Task args:
        score: ``own`` (the module's ``score_batch``, its first score) or ``mahalanobis``.
        in_distribution: The in-distribution test set (``TextSet`` fields).
        ood: The OOD sets.
        train: The labelled in-distribution training set (``mahalanobis`` only; its first ``limit`` sentences
            under a limit).
        max_length: Tokens kept per sentence.
        batch_size: Sentences per forward.
        histogram: Draw the histogram (default true).
    """
    from datamodules.classification import NO_LABEL, as_text_set
    from zoo.modules.ood import Mahalanobis, ood_metrics

    score = args.get("score", "own")
    if score not in SCORES:
        raise ZooError(f"ood task: score={score!r}; use one of {', '.join(SCORES)}")
    in_set = as_text_set(args["in_distribution"])
    out_sets = [as_text_set(each) for each in args.get("ood", [])]
    if not out_sets:
        raise ZooError("ood task: no OOD sets; list them under args.ood")
    encode = batched_scorer(module, args.get("max_length", 128), args.get("batch_size", 64))
    if score == "mahalanobis":
        texts, labels = as_text_set(args["train"]).read()
        # A limit (a smoke board) bounds the detector's fit as well: the fit is most of such a task's time.
        texts, labels = (texts[:limit], labels[:limit]) if limit else (texts, labels)
        features = encode(texts, lambda batch: module.features(batch))
        labelled = torch.tensor(labels) if NO_LABEL not in labels else None
        detector = Mahalanobis.fit(features, labelled)
        scorer = lambda batch: detector.score(module.features(batch))
    else:
        scorer = lambda batch: next(iter(module.score_batch(batch).values()))
    read = lambda text_set: text_set.read()[0][:limit] if limit else text_set.read()[0]
    in_scores = encode(read(in_set), scorer)
    results, by_set = [], {}
    for out_set in out_sets:
        by_set[out_set.name] = encode(read(out_set), scorer)
        metrics = ood_metrics(in_scores, by_set[out_set.name])
        results += [Score(f"auroc_{out_set.name}", metrics["auroc"]),
                    Score(f"fpr95_{out_set.name}", metrics["fpr95"], higher_is_better=False)]
    if args.get("histogram", True):
        draw_histogram(module, score, in_set.name, in_scores, by_set)
    return results


def batched_scorer(module, max_length: int, batch_size: int):
    """``encode(texts, fn)``: ``fn`` of every batch of ``texts`` (tokenized as the module's tokenizer does,
    longest first so a batch pads little), concatenated in the texts' order, without gradients."""

    def encode(texts: list[str], function) -> torch.Tensor:
        order = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
        outputs = [None] * len(texts)
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                batch = module.tokenizer([texts[i] for i in chunk], truncation=True, max_length=max_length,
                                         padding="longest", return_tensors="pt", return_token_type_ids=False)
                values = function({key: value.to(module.device) for key, value in batch.items()}).detach().cpu()
                for index, value in zip(chunk, values):
                    outputs[index] = value
        return torch.stack(outputs)

    return encode


def draw_histogram(module, score: str, in_name: str, in_scores: torch.Tensor, by_set: dict[str, torch.Tensor]) -> None:
    """The in-distribution and OOD score histograms, one panel, written atomically under the results folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.paths import atomic_file, zoo_home

    every = torch.cat([in_scores, *by_set.values()]).double()
    bins = torch.linspace(float(every.min()), float(every.max()), 41).tolist()
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.hist(in_scores.double().numpy(), bins=bins, alpha=0.6, density=True, label=f"{in_name} (in-distribution)")
    for name, values in by_set.items():
        axis.hist(values.double().numpy(), bins=bins, histtype="step", density=True, label=name)
    axis.set_xlabel(f"OOD score ({score}; higher: more out-of-distribution)")
    axis.set_ylabel("density")
    axis.legend(fontsize=7)
    figure.tight_layout()
    target = zoo_home() / "results" / "ood" / (getattr(module, "zoo_name", None) or type(module).__name__) / f"{score}.png"
    with atomic_file(target, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
