"""Callbacks the zoo CLI adds to every run."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter, ModelCheckpoint
from lightning.pytorch.callbacks.prediction_writer import WriteInterval

from datamodules.synthesis import write_shard
from zoo.errors import ZooError
from zoo.paths import atomic_write_text


class FinalStepCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose ``last.ckpt`` always ends at the final step.

    Lightning saves ``last`` at the end of training only if no every-N-steps save came before, so a
    300-step fit saved every 100 steps ends right, but a 250-step fit leaves ``last.ckpt`` at step
    200, and ``zoo export last.ckpt`` would ship stale weights. The arguments are ``ModelCheckpoint``'s.
    """

    def on_train_end(self, trainer, pl_module) -> None:
        # _last_global_step_saved is ModelCheckpoint's record of its newest save (lightning<2.7 is pinned).
        if self.save_last and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        else:
            super().on_train_end(trainer, pl_module)


class JsonlPredictionWriter(BasePredictionWriter):
    """Write ``zoo predict`` outputs (lists of dicts) as JSON lines.

    By default every prediction goes to ``<default_root_dir>/<filename>`` at the end (rank 0).
    When the DataModule plans numbered shards (``datamodules.synthesis.SynthesisDataModule``),
    each rank writes each of its shards as soon as the shard's last row is predicted, atomically,
    and keeps nothing else in memory: a stopped synthesis resumes at the first missing shard.

    Args:
        filename: File name under the run folder (one JSON object per prediction, rank 0 only).
    """

    def __init__(self, filename: str = "predictions.jsonl"):
        super().__init__(write_interval="epoch")
        self.filename = filename
        self._shards: dict[int, list[dict]] = defaultdict(list)

    @staticmethod
    def _plan(trainer):
        datamodule = getattr(trainer, "datamodule", None)
        return datamodule if hasattr(datamodule, "shard_size_of") else None

    def setup(self, trainer, pl_module, stage: str) -> None:
        # Shards are written per batch; nothing needs the epoch's predictions kept in memory.
        self.interval = WriteInterval.BATCH if self._plan(trainer) else WriteInterval.EPOCH
        self._shards.clear()

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx) -> None:
        plan = self._plan(trainer)
        for row in prediction:
            self._shards[row["shard"]].append(row)
        for shard in {row["shard"] for row in prediction}:
            rows = self._shards[shard]
            if len(rows) == plan.shard_size_of(shard):
                write_shard(plan.shard_path(shard), rows)
                del self._shards[shard]

    def on_predict_epoch_end(self, trainer, pl_module) -> None:
        if self.interval.on_batch and self._shards:
            raise ZooError(f"shards {sorted(self._shards)} got only part of their rows; the prediction step must "
                           "return one row per item")
        super().on_predict_epoch_end(trainer, pl_module)

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
