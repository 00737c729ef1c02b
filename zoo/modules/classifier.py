"""``SequenceClassifier``: an encoder fine-tuned on in-distribution labels; the maximum softmax probability
baseline of OOD detection (Hendrycks & Gimpel, 2017), and the features of the Mahalanobis baseline.

It shares the encoder kind's folder handling with ``MaskedLMEncoder`` (a transformers folder with its
tokenizer) but its head is a classifier: the folder opens in ``AutoModelForSequenceClassification``.
Its OOD score is 1 - max softmax probability (higher: more out-of-distribution).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from zoo.errors import ZooError
from zoo.modules.encoder import MaskedLMEncoder


class SequenceClassifier(MaskedLMEncoder):
    """An encoder with a classification head on its pooled [CLS] state, trained by cross-entropy on labels.

    Args:
        num_labels: Classes of the in-distribution task (SST-2: 2).
        net: Encoder preset of a net built from scratch (``bert-test`` in tests); ignored with ``init_from``.
        net_overrides: ``BertConfig`` fields that change the preset.
        init_from: The pretrained encoder (``minilm-l6-v2``, ``local-dir:``, ``hf-hub:``); its new head is
            seeded with 0.
        tokenizer: The tokenizer of a net built from a preset.
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
    """

    pipeline_tag = "text-classification"
    auto_model = "AutoModelForSequenceClassification"

    def __init__(self, num_labels: int = 2, net: str = "minilm-l6", net_overrides: dict[str, Any] | None = None,
                 init_from: str | None = None, tokenizer: str | None = None, learning_rate: float = 5e-5,
                 weight_decay: float = 0.01, warmup_steps: int = 50, min_lr_ratio: float = 0.1,
                 betas: tuple[float, float] = (0.9, 0.999)):
        if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 2:
            raise ZooError(f"num_labels={num_labels!r} must be an integer >= 2 (the in-distribution classes)")
        self.num_labels = num_labels
        super().__init__(net=net, net_overrides=net_overrides, init_from=init_from, tokenizer=tokenizer,
                         learning_rate=learning_rate, weight_decay=weight_decay, warmup_steps=warmup_steps,
                         min_lr_ratio=min_lr_ratio, betas=betas)
        self.save_hyperparameters()

    def head_config(self) -> dict[str, Any]:
        return {"num_labels": self.num_labels}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, num_labels)``."""
        return self.net(input_ids=input_ids, attention_mask=attention_mask).logits

    def training_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy of the class logits against the labels."""
        if bool((batch["labels"] < 0).any()) or bool((batch["labels"] >= self.num_labels).any()):
            raise ZooError(f"SequenceClassifier trains on labels in [0, {self.num_labels}); the training set has "
                           "unlabelled or out-of-range rows: set its label_field, or num_labels")
        return F.cross_entropy(self(batch["input_ids"], batch["attention_mask"]), batch["labels"])

    def score_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"msp": (B,)}``: 1 - the maximum softmax probability of each example."""
        probabilities = self(batch["input_ids"], batch["attention_mask"]).float().softmax(-1)
        return {"msp": 1 - probabilities.max(-1).values}
