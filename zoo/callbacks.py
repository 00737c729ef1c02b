"""Callbacks the zoo CLI adds to every run."""

from __future__ import annotations

import json
from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter

from zoo.paths import atomic_write_text


class JsonlPredictionWriter(BasePredictionWriter):
    """Write ``zoo predict`` outputs (lists of dicts) to ``<default_root_dir>/predictions.jsonl``.

    Args:
        filename: File name under the run folder (one JSON object per prediction, rank 0 only).
    """

    def __init__(self, filename: str = "predictions.jsonl"):
        super().__init__(write_interval="epoch")
        self.filename = filename

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        if not trainer.is_global_zero:
            return
        # One dataloader gives a list of batches (each a list of dicts); several give a list of those.
        several = bool(predictions) and bool(predictions[0]) and isinstance(predictions[0][0], list)
        batches = [batch for loader in predictions for batch in loader] if several else predictions
        rows = [row for batch in batches for row in batch]
        path = Path(trainer.default_root_dir) / self.filename
        atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows))
        print(f"wrote {len(rows)} predictions to {path}")
