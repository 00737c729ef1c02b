"""The shared base of the zoo's DataModules: tokenizer, document sources, splits, caching, loaders.

A *document source* is a string:

- ``tinyworld:<domain>`` — the embedded generator (``world`` arguments set its size and seed);
- a local ``.jsonl`` / ``.json`` / ``.txt`` / ``.parquet`` file, or a folder of them
  (``.txt``: one document per non-empty line);
- ``hf-hub:org/name`` or ``hf-hub:org/name:config`` — a hub dataset through ``datasets``;
- ``instructions:general`` — tinyworld's seeded general instruction-response texts (for mixing);
- ``zoo-data:<name>`` — a named real corpus read from ``ZOO_DATA_DIR`` (``datamodules.real_corpora``);
- ``judge:<picture domain>`` — prompts that teach a small LM AdaMLLM's consistency judging, from a picture
  world's seed tasks (``world`` sets the world and ``shots``);
- ``demonstrations:<domain>`` — runs of tinyworld task-cluster demonstrations, some answering others (the
  training text of a scoring LM that reads prompts; ``world`` sets the worlds, ``n_texts`` and ``facts_per_text``).

Every source becomes a ``datasets.Dataset`` with the columns ``id``, ``title``, ``text``, and a
fingerprint (world fingerprint, file sha256s or hub id) that keys the caches under ``ZOO_HOME``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Iterator

import datasets
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from datamodules.checks import check_int, check_number
from datamodules.real_corpora import load_real_corpus
from datamodules.tinyworld import WorldConfig, general_instructions, generate_world
from datamodules.tinyworld.clusters import scorer_texts
from datamodules.tokenizer import load_tokenizer
from datamodules.transforms.instruction_format import synthesizer_example
from zoo.errors import ZooError
from zoo.hashing import fingerprint

FILE_FORMATS = {".jsonl": "json", ".json": "json", ".txt": "text", ".parquet": "parquet"}


def _inspect_file(path: Path) -> tuple[str, bool]:
    """sha256 of a data file and whether it holds anything, in one read; text files must be UTF-8."""
    data = path.read_bytes()
    if path.suffix != ".parquet":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ZooError(f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                           f"re-encode it, e.g. iconv -f latin1 -t utf-8 {path.name} > fixed{path.suffix}") from None
    return hashlib.sha256(data).hexdigest(), bool(data.strip())


def _source_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in FILE_FORMATS and p.is_file())
        if not files:
            raise ZooError(f"{path}: folder has no {'/'.join(FILE_FORMATS)} files; point --data.source at a data file")
        return files
    if not path.exists():
        raise ZooError(f"data file not found: {path}; check the path (relative paths start at the working directory)")
    if path.suffix not in FILE_FORMATS:
        raise ZooError(f"{path}: unsupported data format '{path.suffix}'; use one of {', '.join(FILE_FORMATS)}")
    return [path]


#: Source prefixes that name generated or remote data rather than a local path.
SOURCE_SCHEMES = ("tinyworld:", "instructions:", "demonstrations:", "judge:", "zoo-data:", "sampled:", "synthesizer-data:", "hf-hub:")


def check_source(source: str) -> None:
    """Fail early, with the fix, on a local source that does not exist or has no data files
    (before a long step such as loading a model); the other sources are checked when loaded."""
    if not source.startswith(SOURCE_SCHEMES):
        _source_files(Path(source).expanduser())


def _row_source(source: str) -> tuple[list[dict], str]:
    """Rows and fingerprint of the sources that are built in code: real corpora, the instruction
    synthesizer's training data (as it reads: context then pairs) and sampled text."""
    # datamodules.instruction and datamodules.synthesis import this module (their DataModules extend
    # ZooDataModule), so their builders are imported where a source needs them.
    if source.startswith("synthesizer-data:"):
        from datamodules.instruction import synthesizer_examples

        examples = synthesizer_examples(source.removeprefix("synthesizer-data:"))
        rows = [{"id": e["id"], "title": "", "text": "".join(synthesizer_example(e["context"], e["pairs"])).strip()}
                for e in examples]
        return rows, fingerprint(source, [row["text"] for row in rows])
    if source.startswith("zoo-data:"):
        rows = load_real_corpus(source.removeprefix("zoo-data:"))
        return rows, fingerprint(source, {key: [r[key] for r in rows] for key in ("id", "title", "text")})
    from datamodules.synthesis import sampled_corpus

    count, _, model = source.removeprefix("sampled:").partition(":")
    if not count.isdigit() or int(count) < 1 or not model:
        raise ZooError(f"source '{source}': write sampled:<documents>:<model>, e.g. sampled:600:base-lm-tiny")
    return sampled_corpus(model, int(count))


def world_config(source: str, world: dict | None) -> WorldConfig | None:
    """The world of a ``tinyworld:<domain>`` source with ``world``'s fields (None for other sources).

    DataModules call it at construction, so a bad domain or world size fails before anything loads.

    Args:
        source: The document source.
        world: ``WorldConfig`` fields, e.g. ``{"n_entities": 50}``.

    Raises:
        ZooError: naming the field and its valid range, for an unknown domain or field or a value out of range.
    """
    if not source.startswith("tinyworld:"):
        return None
    try:
        return WorldConfig(domain=source.removeprefix("tinyworld:"), **(world or {}))
    except (ValueError, TypeError) as error:
        raise ZooError(f"tinyworld source '{source}': {error}") from None


def load_documents(source: str, text_field: str = "text", world: dict | None = None,
                   world_parts: tuple[str, ...] = ("documents",)):
    """Load a document source as a ``datasets.Dataset`` (id, title, text) and its fingerprint.

    Args:
        source: ``tinyworld:<domain>``, ``instructions:general``, ``demonstrations:<domain>``, ``zoo-data:<name>``,
            ``sampled:<documents>:<model>`` (text sampled from a zoo LM, cached),
            ``synthesizer-data:<tinyworld:domain | zoo-data:pubmedqa-qa>``, a local file or
            folder, or ``hf-hub:org/name[:config]``.
        text_field: Column holding the text in file and hub sources.
        world: ``WorldConfig`` fields for ``tinyworld:`` sources (e.g. ``{"n_entities": 50}``).
        world_parts: Which tinyworld texts are documents: ``documents`` and/or ``qa_text``.
    """
    if source.startswith("tinyworld:"):
        generated = generate_world(world_config(source, world))
        docs = [d for part in world_parts for d in getattr(generated, part)]
        table = {"id": [d["id"] for d in docs], "title": [d.get("title", "") for d in docs],
                 "text": [d["text"] for d in docs]}
        return datasets.Dataset.from_dict(table), fingerprint(generated.fingerprint(), list(world_parts))

    if source == "instructions:general":
        settings = {"n": 2000, "seed": 0, **(world or {})}
        rows = general_instructions(**settings)
        table = {"id": [r["id"] for r in rows], "title": [""] * len(rows), "text": [r["text"] for r in rows]}
        return datasets.Dataset.from_dict(table), fingerprint(source, settings, table["text"])

    if source.startswith("demonstrations:"):
        settings = {"n_texts": 20000, "facts_per_text": 3, **(world or {})}
        counts = {key: settings.pop(key) for key in ("n_texts", "facts_per_text")}
        try:
            texts = scorer_texts(WorldConfig(domain=source.removeprefix("demonstrations:"), **settings), **counts)
        except (ValueError, TypeError) as error:
            raise ZooError(f"source '{source}': {error}") from None
        table = {"id": [f"demonstrations-{i:07d}" for i in range(len(texts))], "title": [""] * len(texts),
                 "text": texts}
        return datasets.Dataset.from_dict(table), fingerprint(source, settings, counts, texts)

    if source.startswith("judge:"):
        from datamodules.tinyworld.pictures import PictureWorldConfig
        from datamodules.transforms.visual_instruction_synthesis import judge_training_texts

        settings = {"shots": 0, **(world or {})}
        shots = settings.pop("shots")
        try:
            texts = judge_training_texts(PictureWorldConfig(domain=source.removeprefix("judge:"), **settings), shots)
        except (ValueError, TypeError) as error:
            raise ZooError(f"source '{source}': {error}") from None
        table = {"id": [f"judge-{i:07d}" for i in range(len(texts))], "title": [""] * len(texts), "text": texts}
        return datasets.Dataset.from_dict(table), fingerprint(source, settings, shots, texts)

    if source.startswith(("sampled:", "zoo-data:", "synthesizer-data:")):
        rows, data_fingerprint = _row_source(source)
        table = {key: [r[key] for r in rows] for key in ("id", "title", "text")}
        return datasets.Dataset.from_dict(table), data_fingerprint

    if source.startswith("hf-hub:"):
        name, _, config = source.removeprefix("hf-hub:").partition(":")
        try:
            raw = datasets.load_dataset(name, config or None, split="train")
        except Exception as error:  # datasets raises many types for "unreachable" and "not found"
            raise ZooError(f"cannot load dataset {source}: {str(error).splitlines()[0][:200]} "
                           "(offline? pass a local file instead)") from None
        data_fingerprint = fingerprint(source, getattr(raw, "_fingerprint", ""))
    else:
        files = _source_files(Path(source).expanduser())
        inspected = [_inspect_file(file) for file in files]
        if not any(has_data for _, has_data in inspected):
            raise ZooError(f"{source}: the corpus is empty; add documents or point --data.source at another file")
        kinds = {FILE_FORMATS[f.suffix] for f in files}
        if len(kinds) > 1:
            raise ZooError(f"{source}: mixes file formats {sorted(kinds)}; keep one format per source")
        try:
            raw = datasets.load_dataset(kinds.pop(), data_files=[str(f) for f in files], split="train")
        except Exception as error:
            raise ZooError(f"{source}: cannot parse data ({str(error).splitlines()[0][:200]}); "
                           "check the file is valid JSON lines / text / parquet") from None
        data_fingerprint = fingerprint([(f.name, sha) for f, (sha, _) in zip(files, inspected)])

    if text_field not in raw.column_names:
        raise ZooError(f"{source}: no '{text_field}' column (has {', '.join(raw.column_names)}); "
                       f"set --data.text_field to the column holding the text")
    has_id, has_title = "id" in raw.column_names, "title" in raw.column_names

    def to_documents(batch: dict, indices: list[int]) -> dict:
        return {
            "id": [str(i) for i in batch["id"]] if has_id else [f"doc{i:08d}" for i in indices],
            "title": [t or "" for t in batch["title"]] if has_title else [""] * len(indices),
            "text": batch[text_field],
        }

    documents = raw.map(to_documents, batched=True, with_indices=True, remove_columns=raw.column_names)
    documents = documents.filter(lambda batch: [bool(t and t.strip()) for t in batch["text"]], batched=True)
    if len(documents) == 0:
        raise ZooError(f"{source}: the corpus is empty (no non-blank '{text_field}'); add documents or fix the path")
    return documents, data_fingerprint


#: Target value every loss of the zoo skips (padding, prompts, the last position of a block, unmasked tokens,
#: context repeated in front of a long document's later window): PyTorch's cross-entropy default.
IGNORE_INDEX = -100

#: Default shares of documents held out for validation and test (``TextCorpusDataModule``'s defaults).
HELD_OUT_FRACTION = 0.05


def check_held_out(val_fraction: float, test_fraction: float) -> None:
    """Raise a one-line ``ZooError`` unless both held-out shares are in [0, 0.5), so most documents train.

    Args:
        val_fraction: Share of documents held out for validation.
        test_fraction: Share of documents held out for test.
    """
    check_number("--data.val_fraction", val_fraction, "share of documents held out for validation", high=0.5)
    check_number("--data.test_fraction", test_fraction, "share of documents held out for test", high=0.5)


def split_of(doc_id: str, val_fraction: float = HELD_OUT_FRACTION, test_fraction: float = HELD_OUT_FRACTION,
             seed: int = 0) -> str:
    """Assign a document to train/val/test by a seeded hash of its id (stable as the corpus grows)."""
    bucket = int(hashlib.sha256(f"{seed}:{doc_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if bucket < test_fraction:
        return "test"
    if bucket < test_fraction + val_fraction:
        return "val"
    return "train"


class ResumableSampler(DistributedSampler):
    """A seeded, epoch-aware, rank-sharded sampler that can start mid-epoch.

    Subclassing ``DistributedSampler`` tells Lightning not to wrap it, so one class serves one
    process and ddp alike. After a resume, ``start_batch`` returns how many batches of the
    current epoch were already trained on (Lightning's own progress counter), and the first
    epoch iterated skips exactly those: a resumed fit sees the batches an uninterrupted one would.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, num_replicas: int = 1, rank: int = 0,
                 start_batch: Callable[[], int] = lambda: 0):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.batch_size = batch_size
        self._start_batch = start_batch

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip, self._start_batch = self._start_batch() * self.batch_size, (lambda: 0)
        return iter(indices[skip:])


class ZooDataModule(L.LightningDataModule):
    """Base of every zoo DataModule: a tokenizer, seeded loaders, a fingerprint.

    Args:
        tokenizer: ``tinyworld`` (the shared zoo BPE), a tokenizer folder / ``tokenizer.json``,
            or ``hf-hub:org/name``.
        batch_size: Sequences per step (per device).
        num_workers: DataLoader worker processes (0 suits 2-core machines).
        seed: Seed of splits and shuffling.

    Raises:
        ZooError: for ``batch_size`` below 1 or ``num_workers`` below 0 (each subclass checks its own
            numeric arguments the same way, at construction).
    """

    def __init__(self, tokenizer: str = "tinyworld", batch_size: int = 32, num_workers: int = 0, seed: int = 0):
        super().__init__()
        check_int("--data.batch_size", batch_size, 1, "examples per batch, per device")
        check_int("--data.num_workers", num_workers, 0, "DataLoader worker processes; 0 loads in the main process")
        self.tokenizer_spec = tokenizer
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self._tokenizer = None

    @property
    def tokenizer(self):
        """The fast tokenizer (loaded on first use)."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.tokenizer_spec)
        return self._tokenizer

    def training_texts(self) -> Iterator[str]:
        """The texts the model trains on, one document at a time, as it reads them (after transforms and
        mixing): what a contamination check scans. Loads the data if it is not loaded yet.

        Raises:
            ZooError: A DataModule that trains no model (it does not define its training text).
        """
        raise ZooError(f"{type(self).__name__} does not say what a model trains on; a DataModule that feeds a fit "
                       "defines training_texts()")

    def decoded_documents(self, ids: np.ndarray, chunk: int = 1024) -> Iterator[str]:
        """The documents in a stream of token ids: cut at bos/eos (where ``_pack`` and the example builders
        put document boundaries), decoded without special tokens, empty ones left out.

        Args:
            ids: Token ids, 1-D.
            chunk: Documents decoded at a time.
        """
        cuts = np.flatnonzero(np.isin(ids, [self.tokenizer.bos_token_id, self.tokenizer.eos_token_id]))
        pieces = [piece.tolist() for piece in np.split(ids, cuts)]
        for start in range(0, len(pieces), chunk):
            decoded = self.tokenizer.batch_decode(pieces[start:start + chunk], skip_special_tokens=True)
            yield from (text for text in decoded if text.strip())

    def _resume_batch(self) -> int:
        """Batches of the current epoch already trained on, when Lightning resumes a fit."""
        trainer = self.trainer
        if trainer is None or not trainer.fit_loop.restarting:
            return 0
        return trainer.fit_loop.epoch_loop.batch_progress.current.completed

    def train_loader(self, dataset: Dataset, collate_fn: Callable | None = None) -> DataLoader:
        """A shuffled, resumable, rank-aware loader over ``dataset``."""
        trainer = self.trainer
        sampler = ResumableSampler(
            dataset, self.batch_size, self.seed,
            num_replicas=trainer.world_size if trainer else 1, rank=trainer.global_rank if trainer else 0,
            start_batch=self._resume_batch,
        )
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.num_workers, collate_fn=collate_fn)

    def eval_loader(self, dataset: Dataset, collate_fn: Callable | None = None, batch_size: int | None = None) -> DataLoader:
        """A loader in dataset order (Lightning shards it across ranks)."""
        return DataLoader(dataset, batch_size=batch_size or self.batch_size, shuffle=False,
                          num_workers=self.num_workers, collate_fn=collate_fn)


class TensorDictDataset(Dataset):
    """Rows of equally long tensors, yielded as dicts (what the zoo modules take)."""

    def __init__(self, **columns: torch.Tensor):
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"columns differ in length: { {k: len(v) for k, v in columns.items()} }")
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {name: column[index] for name, column in self.columns.items()}
