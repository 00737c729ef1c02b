"""``SynthesisDataModule``: the work of a corpus synthesis (``zoo synth toedit|sample``) as numbered shards.

Synthesis runs as Lightning ``predict``: this DataModule cuts the work (documents to edit, or
slots of documents to sample) into shards of ``shard_size`` items, gives each rank the shards
``k`` with ``k % world_size == rank`` and skips every shard already written, so ``--trainer.strategy
ddp`` spreads the work and a re-run resumes where the last one stopped. Batches never cross a
shard, so what a shard holds does not depend on how many ranks wrote it.
``zoo.callbacks.JsonlPredictionWriter`` writes each shard (``shard-00000.jsonl``...) atomically
once its last item is predicted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from torch.utils.data import DataLoader, IterableDataset
from tqdm.auto import tqdm

from datamodules.base import ZooDataModule, load_documents, split_of
from datamodules.sampling import sample_documents, sampled_rows
from zoo.errors import ZooError
from zoo.hashing import fingerprint
from zoo.paths import atomic_dir, atomic_write_text, cache_dir
from zoo.resolve import load_pretrained, model_identity, resolve

SHARD_PATTERN = "shard-{:05d}.jsonl"


def shard_path(out_dir: str | Path, shard: int) -> Path:
    """Where shard ``shard`` of a synthesis in ``out_dir`` is written."""
    return Path(out_dir) / SHARD_PATTERN.format(shard)


def write_shard(path: Path, rows: list[dict]) -> None:
    """Write one shard atomically: its rows as JSON lines, in item order."""
    ordered = sorted(rows, key=lambda row: row["index"])
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in ordered))


def read_shards(out_dir: str | Path) -> list[dict]:
    """All rows of the shards in ``out_dir``, in shard order."""
    rows = []
    for path in sorted(Path(out_dir).glob("shard-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return rows


class _ShardBatches(IterableDataset):
    """Batches (lists of item dicts) of this rank's unfinished shards, in shard order."""

    def __init__(self, items: list[dict], shards: list[int], shard_size: int, batch_size: int):
        self.items, self.shards, self.shard_size, self.batch_size = items, shards, shard_size, batch_size

    def __iter__(self) -> Iterator[list[dict]]:
        for shard in self.shards:
            chunk = self.items[shard * self.shard_size:(shard + 1) * self.shard_size]
            for start in range(0, len(chunk), self.batch_size):
                yield chunk[start:start + self.batch_size]

    def __len__(self) -> int:
        return sum(-(-self.shard_items(shard) // self.batch_size) for shard in self.shards)

    def shard_items(self, shard: int) -> int:
        return len(self.items[shard * self.shard_size:(shard + 1) * self.shard_size])


class SynthesisDataModule(ZooDataModule):
    """Items to synthesise, planned as numbered shards under ``out_dir``.

    Args:
        out_dir: Folder of the output shards (created; finished shards there are skipped).
        source: Documents to transform (any ``load_documents`` source: ``tinyworld:<domain>``, a
            ``.jsonl`` file or folder, ``hf-hub:``...); leave unset to sample ``n_documents`` new ones.
        n_documents: Documents to generate when there is no ``source``.
        shard_size: Items per shard (the unit of resume and of work per rank).
        batch_size: Items per predict batch (batches never cross shards).
        text_field: Column holding the text in file and hub sources.
        world: ``WorldConfig`` fields for ``tinyworld:`` sources.
        split: Keep only this split of the source's documents (``train``, ``val``, ``test``; the
            split of ``TextCorpusDataModule`` with the default fractions and ``seed``), or all of them.
        first: Skip the documents before this one (a slice of the source: one round of a multi-round
            synthesis).
        count: Take at most this many documents from ``first`` on (unset: all the rest).
        previous_dir: The previous round's output: item ``j`` carries its row ``j`` (text and pairs) as
            ``previous``, the demonstration of multi-round instruction synthesis.
        seed: Seed of the split.
    """

    def __init__(self, out_dir: str, source: str | None = None, n_documents: int | None = None, shard_size: int = 256,
                 batch_size: int = 16, text_field: str = "text", world: dict | None = None, split: str | None = None,
                 first: int = 0, count: int | None = None, previous_dir: str | None = None, seed: int = 0):
        super().__init__(batch_size=batch_size, seed=seed)
        if (source is None) == (n_documents is None):
            raise ZooError("synthesis needs exactly one of --data.source (documents to edit) and --data.n_documents "
                           "(documents to sample)")
        if n_documents is not None and n_documents < 1:
            raise ZooError(f"--data.n_documents={n_documents}: sample at least one document")
        if shard_size < 1 or batch_size < 1:
            raise ZooError(f"--data.shard_size={shard_size} / --data.batch_size={batch_size}: both must be >= 1")
        if split not in (None, "train", "val", "test"):
            raise ZooError(f"--data.split={split!r}: use train, val, test or leave it unset for every document")
        self.out_dir, self.source, self.n_documents = Path(out_dir), source, n_documents
        self.shard_size, self.text_field, self.world, self.split = shard_size, text_field, dict(world or {}), split
        self.first, self.count, self.previous_dir = first, count, previous_dir
        self._items: list[dict] | None = None

    @property
    def items(self) -> list[dict]:
        """Every item of the synthesis, in order: ``index``, ``shard``, ``id``, ``title``, ``text``."""
        if self._items is None:
            if self.source is None:
                rows = [{"id": f"sample-{i:07d}", "title": "", "text": ""} for i in range(self.n_documents)]
            else:
                documents, _ = load_documents(self.source, self.text_field, self.world)
                rows = [{"id": i, "title": t, "text": x} for i, t, x in
                        zip(documents["id"], documents["title"], documents["text"])]
                if self.split:
                    rows = [r for r in rows if split_of(r["id"], seed=self.seed) == self.split]
                rows = rows[self.first:None if self.count is None else self.first + self.count]
                if not rows:
                    raise ZooError(f"{self.source}: no documents to synthesise from (split {self.split}, from "
                                   f"{self.first}); check --data.source, --data.split and the slice")
            previous = read_shards(self.previous_dir) if self.previous_dir else []
            self._items = [{**row, "index": i, "shard": i // self.shard_size,
                            **({"previous": {"text": previous[i]["text"], "pairs": previous[i]["pairs"]}}
                               if i < len(previous) else {})} for i, row in enumerate(rows)]
        return self._items

    @property
    def n_shards(self) -> int:
        return -(-len(self.items) // self.shard_size)

    def shard_size_of(self, shard: int) -> int:
        """Items in shard ``shard`` (the last one may be short)."""
        return min(self.shard_size, len(self.items) - shard * self.shard_size)

    def shard_path(self, shard: int) -> Path:
        return shard_path(self.out_dir, shard)

    def pending_shards(self, rank: int = 0, world_size: int = 1) -> list[int]:
        """This rank's shards that have no output file yet."""
        return [k for k in range(rank, self.n_shards, world_size) if not self.shard_path(k).exists()]

    def predict_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        batches = _ShardBatches(self.items, self.pending_shards(rank, world), self.shard_size, self.batch_size)
        # batch_size=None: the dataset yields whole batches (lists of dicts), kept as they are.
        return DataLoader(batches, batch_size=None, collate_fn=lambda batch: batch)


def sampled_corpus(model: str, n_documents: int, seed: int = 0, shard_size: int = 256, batch_size: int = 16,
                   max_new_tokens: int = 320) -> tuple[list[dict], str]:
    """A corpus sampled from ``model`` (the ``sampled:<n>:<model>`` source), cached under ZOO_HOME.

    The same rows as ``zoo synth sample --model MODEL --n-documents N`` with these settings: the same
    sampling (:mod:`datamodules.sampling`), and each document's draws are keyed by its index, so the
    batch size and shard layout change nothing (they are not part of the cache key).

    Args:
        model: The causal LM to sample from: a zoo name, ``local-dir:PATH`` or ``hf-hub:org/name``.
        n_documents: Documents to sample.
        seed: Seed of the draws.
        shard_size: Documents per cached shard.
        batch_size: Documents sampled together.
        max_new_tokens: Longest document, in tokens.

    Returns:
        (rows with ``id``/``title``/``text``, fingerprint: the model's identity, the count, the settings).
    """
    resolve(model)  # an unknown or unbuilt model is an error here, not a cache key
    key = fingerprint("sampled", model_identity(model), n_documents, seed, max_new_tokens)
    folder = cache_dir("sampled") / key
    if not folder.is_dir():
        net, tokenizer = load_pretrained(model)
        plan = SynthesisDataModule(str(folder), n_documents=n_documents, shard_size=shard_size, batch_size=batch_size)
        batches = _ShardBatches(plan.items, list(range(plan.n_shards)), shard_size, batch_size)
        rows = []
        for batch in tqdm(batches, desc=f"sampling {n_documents} documents from {model}", unit="batch"):
            texts = sample_documents(net, tokenizer, [item["index"] for item in batch], seed, max_new_tokens)
            rows += sampled_rows(batch, texts, model)
        with atomic_dir(folder) as tmp:
            for shard in range(plan.n_shards):
                write_shard(shard_path(tmp, shard), [r for r in rows if r["shard"] == shard])
    return read_shards(folder), key
