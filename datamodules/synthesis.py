"""``SynthesisDataModule``: the work of a corpus synthesis (``zoo synth toedit|sample``) as numbered shards.

Synthesis runs as Lightning ``predict``: this DataModule cuts the work (documents to edit, or
slots of documents to sample) into shards of ``shard_size`` items, gives each rank the shards
``k`` with ``k % world_size == rank`` and skips every shard already written, so ``--trainer.strategy
ddp`` spreads the work and a re-run resumes where the last one stopped. Batches never cross a
shard, so what a shard holds does not depend on how many ranks wrote it.
``zoo.callbacks.JsonlPredictionWriter`` writes each shard (``shard-00000.jsonl``...) atomically
once its last item is predicted.

Shards carry the settings that made them: ``settings.json`` in the output folder records the
synthesis module's settings and the data settings (:meth:`SynthesisDataModule.check_settings`),
and a run whose settings differ from those of the shards already there is refused instead of
skipping them under a manifest that would name the new settings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

from torch.utils.data import DataLoader, IterableDataset
from tqdm.auto import tqdm

from datamodules.base import ZooDataModule, load_documents, split_of, world_config
from datamodules.checks import check_int
from datamodules.sampling import sample_documents, sampled_rows
from zoo.errors import ZooError
from zoo.hashing import fingerprint
from zoo.paths import atomic_dir, atomic_write_text, cache_dir
from zoo.resolve import load_pretrained, model_identity, resolve

SHARD_PATTERN = "shard-{:05d}.jsonl"
#: The settings of the shards of an output folder (see ``SynthesisDataModule.check_settings``).
SETTINGS_FILE = "settings.json"


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
        # Rows end at "\n" only: splitlines() would also break inside texts holding U+2028, U+0085 or \x1c.
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
    return rows


def _plain(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples become lists, dataclasses dicts, paths strings), so
    settings compare equal to the ones recorded in ``settings.json``."""
    def encode(item: Any) -> Any:
        return dataclasses.asdict(item) if dataclasses.is_dataclass(item) else str(item)

    return json.loads(json.dumps(value, default=encode))


def _flat(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``{"module.editing.seed": 1, ...}``, to name what differs."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


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
            split of ``TextCorpusDataModule`` with the default fractions and ``split_seed``), or all of them.
        first: Skip the documents before this one (a slice of the source: one round of a multi-round
            synthesis).
        count: Take at most this many documents from ``first`` on (unset: all the rest).
        previous_dir: The previous round's output: item ``j`` carries its row ``j`` (text and pairs) as
            ``previous``, the demonstration of multi-round instruction synthesis.
        split_seed: Seed of the split (as ``TextCorpusDataModule``'s: a study's seeds leave it fixed).
        seed: The DataModule's seed; a synthesis shuffles nothing (items go in order), so it changes no shard.

    Raises:
        ZooError: for both or neither of ``source`` and ``n_documents``, a count out of range
            (``n_documents``, ``shard_size``, ``batch_size`` or ``count`` below 1, ``first`` below 0),
            an unknown ``split`` or a bad tinyworld ``world``.
    """

    def __init__(self, out_dir: str, source: str | None = None, n_documents: int | None = None, shard_size: int = 256,
                 batch_size: int = 16, text_field: str = "text", world: dict | None = None, split: str | None = None,
                 first: int = 0, count: int | None = None, previous_dir: str | None = None, split_seed: int = 0,
                 seed: int = 0):
        super().__init__(batch_size=batch_size, seed=seed)
        if (source is None) == (n_documents is None):
            raise ZooError("synthesis needs exactly one of --data.source (documents to edit) and --data.n_documents "
                           "(documents to sample)")
        if n_documents is not None:
            check_int("--data.n_documents", n_documents, 1, "documents to sample: at least one")
        check_int("--data.shard_size", shard_size, 1, "items per shard")
        check_int("--data.first", first, 0, "documents of the source to skip")
        if count is not None:
            check_int("--data.count", count, 1, "documents to take from --data.first on; unset for all the rest")
        if split not in (None, "train", "val", "test"):
            raise ZooError(f"--data.split={split!r}: use train, val, test or leave it unset for every document")
        if source is not None:
            world_config(source, world)
        self.out_dir, self.source, self.n_documents = Path(out_dir), source, n_documents
        self.shard_size, self.text_field, self.world, self.split = shard_size, text_field, dict(world or {}), split
        self.first, self.count, self.previous_dir, self.split_seed = first, count, previous_dir, split_seed
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
                    rows = [r for r in rows if split_of(r["id"], seed=self.split_seed) == self.split]
                rows = rows[self.first:None if self.count is None else self.first + self.count]
                if not rows:
                    raise ZooError(f"{self.source}: no documents to synthesise from (split {self.split}, from "
                                   f"{self.first}); check --data.source, --data.split and the slice")
            previous = read_shards(self.previous_dir) if self.previous_dir else []
            self._items = [{**row, "index": i, "shard": i // self.shard_size,
                            **({"previous": {key: previous[i][key] for key in ("text", "pairs", "history")
                                             if key in previous[i]}}
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

    def data_settings(self) -> dict[str, Any]:
        """The data settings that decide what the shards hold: which documents, cut how (not the batch
        size: batches never cross a shard)."""
        return {"source": self.source, "n_documents": self.n_documents, "text_field": self.text_field,
                "world": self.world, "split": self.split, "split_seed": self.split_seed, "first": self.first,
                "count": self.count, "previous_dir": self.previous_dir, "shard_size": self.shard_size}

    def check_settings(self, module: Mapping[str, Any]) -> dict[str, Any]:
        """Record the settings of the shards in ``out_dir``, or refuse to add to shards made with others.

        The first run writes ``settings.json`` (the module's and the data settings); a later run
        with the same settings resumes, and one with other settings is an error while the folder
        holds shards (a folder without shards takes the new settings). Called before ``predict``
        (``zoo synth``'s runner does, so the error comes before any work) and again by
        :meth:`predict_dataloader` with the running module's ``hparams``, so ``zoo predict`` is covered too.

        Args:
            module: The synthesis module's settings, e.g. its ``hparams`` (keys starting with ``_``,
                jsonargparse's bookkeeping, are left out).

        Returns:
            ``{"module": ..., "data": ...}`` as recorded: what a manifest can report.

        Raises:
            ZooError: naming the settings that differ (or the missing record) and the fix: a fresh
                output folder, or deleting this one.
        """
        settings = _plain({"module": {key: value for key, value in module.items() if not key.startswith("_")},
                           "data": self.data_settings()})
        path = self.out_dir / SETTINGS_FILE
        try:
            recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            recorded = None  # a damaged record tells as little as a missing one
        if recorded == settings:
            return settings
        has_shards = any(self.out_dir.glob("shard-*.jsonl"))
        fix = f"pass a fresh --out folder, or delete {self.out_dir} to start over"
        if has_shards and recorded is None:
            raise ZooError(f"{self.out_dir} holds shards but no readable {SETTINGS_FILE}, so their settings are "
                           f"unknown; {fix}")
        if has_shards:
            old, new = _flat(recorded), _flat(settings)
            changed = [f"{key} {old.get(key)!r} -> {new.get(key)!r}" for key in sorted(old.keys() | new.keys())
                       if old.get(key) != new.get(key)]
            raise ZooError(f"{self.out_dir} holds shards made with other settings ({'; '.join(changed)}); {fix}")
        atomic_write_text(path, json.dumps(settings, indent=1, sort_keys=True) + "\n")
        return settings

    def predict_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        if trainer is not None and trainer.lightning_module is not None:
            self.check_settings(trainer.lightning_module.hparams)
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
