"""Out-of-distribution scoring shared by the encoder modules: metrics, Mahalanobis, test and predict stages.

A module that scores OOD-ness implements ``score_batch`` (named per-example scores, higher = more
out-of-distribution: a reconstruction loss, one minus the maximum softmax probability) and
``features`` (the mean-pooled penultimate-layer states a Mahalanobis detector reads). With a
``TextClassificationDataModule`` its test stage scores the in-distribution test set and every OOD set
and logs, per OOD set, AUROC and FPR at 95 % TPR (OOD is the positive class, as upstream), each set's
mean score, and how much higher the set's mean own score is than the in-distribution set's
(``test/score_gap/<set>``); its predict stage returns every example's scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torchmetrics.functional.classification import binary_auroc, binary_roc

from zoo.errors import ZooError

#: Upstream's mix of a reconstruction loss with the Mahalanobis distance: 0.99 loss + 0.01 distance.
MAHALANOBIS_MIX = 0.01


def ood_metrics(in_scores: torch.Tensor, out_scores: torch.Tensor) -> dict[str, float]:
    """AUROC and FPR at 95 % TPR of telling OOD (positive) from in-distribution examples by score.

    FPR95 is the share of in-distribution examples scored at or above the highest threshold that
    still catches 95 % of the OOD examples.

    Args:
        in_scores: Scores of in-distribution examples ``(N,)``.
        out_scores: Scores of OOD examples ``(M,)``.
    """
    if len(in_scores) == 0 or len(out_scores) == 0:
        raise ZooError("OOD metrics need in-distribution and OOD examples; a set is empty")
    scores = torch.cat([in_scores, out_scores]).double()
    # Both metrics depend on the order of the scores only. torchmetrics reads scores outside [0, 1] as logits and
    # squashes them with a sigmoid, which ties large ones (a Mahalanobis distance of 5,000 and of 20,000 both become
    # 1.0): the scores go in as their dense ranks scaled into [0, 1], ties kept.
    ranks = torch.unique(scores, return_inverse=True)[1].double()
    scores = ranks / max(1.0, float(ranks.max()))
    target = torch.cat([torch.zeros(len(in_scores)), torch.ones(len(out_scores))]).long()
    fpr, tpr, _ = binary_roc(scores, target)
    reached = torch.nonzero(tpr >= 0.95 - 1e-12)[0, 0]
    return {"auroc": float(binary_auroc(scores, target)), "fpr95": float(fpr[reached])}


@dataclass
class Mahalanobis:
    """Mahalanobis distance to the in-distribution features (Lee et al., 2018).

    Class means and one covariance shared by the classes (the MLE of the class-centred features,
    inverted by pseudo-inverse as sklearn's ``EmpiricalCovariance``); the score is the squared distance
    to the nearest class mean. Fitted without labels it is upstream's one mean over all features.
    """

    means: torch.Tensor
    precision: torch.Tensor

    @classmethod
    def fit(cls, features: torch.Tensor, labels: torch.Tensor | None = None) -> "Mahalanobis":
        """Fit on in-distribution features ``(N, D)`` and their labels ``(N,)`` (None: one class).

        Args:
            features: In-distribution training features.
            labels: Their class labels, or None.
        """
        features = features.double()
        if len(features) < 2:
            raise ZooError("Mahalanobis needs at least two in-distribution training examples")
        labels = torch.zeros(len(features), dtype=torch.long) if labels is None else labels.long()
        classes = torch.unique(labels)
        means = torch.stack([features[labels == c].mean(0) for c in classes])
        centred = features - means[torch.searchsorted(classes, labels)]
        covariance = centred.T @ centred / len(features)
        return cls(means=means, precision=torch.linalg.pinv(covariance, hermitian=True))

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """Squared distance of each row ``(N, D)`` to its nearest class mean: ``(N,)``."""
        differences = features.double()[:, None, :] - self.means[None]
        return torch.einsum("ncd,de,nce->nc", differences, self.precision, differences).min(-1).values


class OODScoring:
    """The test and predict stages of an OOD-scoring encoder module (mixed into a ``ZooModule``).

    The module defines ``score_batch(batch) -> {name: (B,)}`` and ``features(batch) -> (B, D)``. With
    ``mahalanobis_mix`` it also scores ``<first score>+mahalanobis``: (1 - 0.01) x the score + 0.01 x the
    Mahalanobis distance fitted on the datamodule's in-distribution training set.
    """

    #: Whether the test stage also fits Mahalanobis on the training set and scores the mix.
    mahalanobis_mix: bool = False

    def on_test_start(self) -> None:
        self._test_scores: dict[int, dict[str, list[torch.Tensor]]] = {}
        self._fit_mix()

    def on_predict_start(self) -> None:
        self._fit_mix()

    def _fit_mix(self) -> None:
        """Fit the mix's Mahalanobis on the datamodule's training set, once per stage (None without the mix)."""
        self._mahalanobis = self.fit_mahalanobis(self.trainer.datamodule.fit_loader()) if self.mahalanobis_mix else None

    def fit_mahalanobis(self, loader, use_labels: bool = False) -> Mahalanobis:
        """Mahalanobis fitted on the features of every batch of ``loader`` (labels when ``use_labels``)."""
        features, labels = [], []
        with torch.no_grad():
            for batch in loader:
                batch = {key: value.to(self.device) for key, value in batch.items()}
                features.append(self.features(batch).cpu())
                labels.append(batch["labels"].cpu() if use_labels else None)
        return Mahalanobis.fit(torch.cat(features), torch.cat(labels) if use_labels else None)

    def all_scores(self, batch: dict[str, torch.Tensor], mahalanobis: Mahalanobis | None = None
                   ) -> dict[str, torch.Tensor]:
        """``score_batch`` and, given a fitted ``mahalanobis``, the mix of the first score with it."""
        scores = self.score_batch(batch)
        if mahalanobis is not None:
            first = next(iter(scores))
            distance = mahalanobis.score(self.features(batch)).to(scores[first].dtype)
            scores[f"{first}+mahalanobis"] = (1 - MAHALANOBIS_MIX) * scores[first] + MAHALANOBIS_MIX * distance
        return scores

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        for name, value in self.all_scores(batch, self._mahalanobis).items():
            self._test_scores.setdefault(dataloader_idx, {}).setdefault(name, []).append(value.detach().cpu())

    def on_test_epoch_end(self) -> None:
        names = self.trainer.datamodule.test_set_names()
        scores = {names[index]: {name: torch.cat(parts) for name, parts in by_name.items()}
                  for index, by_name in sorted(self._test_scores.items())}
        in_name = names[0]
        for set_name, by_score in scores.items():
            for score_name, values in by_score.items():
                self.log(f"test/{score_name}/{set_name}", values.mean().item(), add_dataloader_idx=False)
        own = next(iter(scores[in_name]))
        for set_name in names[1:]:
            # How much higher the module's own score is on this set than in distribution (a reconstruction loss:
            # how much worse it rebuilds OOD text).
            gap = scores[set_name][own].mean() - scores[in_name][own].mean()
            self.log(f"test/score_gap/{set_name}", gap.item(), add_dataloader_idx=False)
            for position, score_name in enumerate(scores[in_name]):
                metrics = ood_metrics(scores[in_name][score_name], scores[set_name][score_name])
                # The first score is the module's own: its metrics carry plain names (test/auroc/wmt16).
                suffix = "" if position == 0 else f"/{score_name}"
                for metric, value in metrics.items():
                    self.log(f"test/{metric}/{set_name}{suffix}", value, add_dataloader_idx=False)

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
                     ) -> list[dict[str, Any]]:
        """Every example's scores, with its set and index within the set."""
        scores = {name: value.tolist() for name, value in self.all_scores(batch, self._mahalanobis).items()}
        set_name = self.trainer.datamodule.test_set_names()[dataloader_idx]
        return [{"set": set_name, "index": int(index), **{name: values[row] for name, values in scores.items()}}
                for row, index in enumerate(batch["index"].tolist())]
