"""``TextCorpusDataModule``: documents -> (transform) -> tokens -> packed blocks, cached by fingerprint."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import datasets
import numpy as np
import torch

from datamodules.base import (HELD_OUT_FRACTION, TensorDictDataset, ZooDataModule, check_held_out, load_documents,
                              split_of, world_config)
from datamodules.checks import check_int, check_number
from datamodules.multiple_choice import MultipleChoiceDataset, collate_choices
from datamodules.tinyworld import generate_world
from datamodules.tokenizer import tokenizer_fingerprint
from datamodules.transforms import DocumentTransform
from zoo.errors import ZooError
from zoo.hashing import fingerprint
from zoo.paths import atomic_dir, cache_dir

#: Bump when packing changes, so cached blocks are rebuilt.
PACKING_VERSION = 1
SPLITS = ("train", "val", "test")


def document_text(title: str, text: str) -> str:
    """How a document reads to the LM: its title line, a blank line, the body."""
    return f"{title}\n\n{text}" if title else text


class TextCorpusDataModule(ZooDataModule):
    """Causal-LM data: documents packed into fixed blocks with bos/eos between documents.

    Documents are split into train/val/test by a seeded hash of their id (so held-out perplexity
    is on unseen documents), optionally transformed, tokenized and packed. The blocks are cached
    under ``ZOO_HOME/cache/datasets/<fingerprint>``. For ``tinyworld:`` sources the test stage
    also scores the world's held-out facts: ``cloze`` (document wording: facts stored) and
    ``questions`` (new wording: facts extractable), as 4-way multiple choice.

    Args:
        source: ``tinyworld:<domain>``, a local ``.jsonl``/``.json``/``.txt``/``.parquet`` file or
            folder, or ``hf-hub:org/name[:config]``.
        tokenizer: ``tinyworld``, a tokenizer folder / ``tokenizer.json``, or ``hf-hub:org/name``.
        block_size: Tokens per training sequence.
        batch_size: Sequences per step (per device).
        val_fraction: Share of documents held out for validation.
        test_fraction: Share of documents held out for test perplexity.
        text_field: Column holding the text in file and hub sources.
        world: ``WorldConfig`` fields for tinyworld sources, e.g. ``{"n_entities": 200, "seed": 0}``.
        world_parts: tinyworld texts to train on: ``documents`` and/or ``qa_text`` (question-answer
            pairs about the synthesizer entities, disjoint from the evaluated ones).
        transform: A ``DocumentTransform`` applied to train documents before tokenizing.
        mix_source: A second source mixed into the training split after the transform (e.g.
            ``instructions:general``, AdaptLLM's general instructions); held-out splits stay pure.
        mix_ratio: Mixed-in documents per (transformed) training document; sampled with a seed,
            with replacement when the source is smaller than needed.
        mix_share: Instead of adding to the training documents, replace this share of them with
            mixed-in documents, so the training set keeps its size (ToEdit's synthetic share:
            0.25 = a quarter of the documents come from ``mix_source``); overrides ``mix_ratio``.
        num_proc: Processes for ``datasets.map`` of the transform (1 is fastest for cheap transforms).
        num_workers: DataLoader worker processes.
        seed: Seed of splits and shuffling.
    """

    def __init__(self, source: str = "tinyworld:general", tokenizer: str = "tinyworld", block_size: int = 128,
                 batch_size: int = 32, val_fraction: float = HELD_OUT_FRACTION,
                 test_fraction: float = HELD_OUT_FRACTION,
                 text_field: str = "text", world: dict | None = None, world_parts: list[str] | None = None,
                 transform: DocumentTransform | None = None, mix_source: str | None = None, mix_ratio: float = 1.0,
                 mix_share: float | None = None, num_proc: int = 1, num_workers: int = 0, seed: int = 0):
        super().__init__(tokenizer=tokenizer, batch_size=batch_size, num_workers=num_workers, seed=seed)
        check_held_out(val_fraction, test_fraction)
        check_int("--data.block_size", block_size, 8, "tokens per training sequence")
        check_number("--data.mix_ratio", mix_ratio, "mixed-in documents per training document")
        if mix_share is not None:
            check_number("--data.mix_share", mix_share, "share of the training documents replaced", high=1,
                         high_included=True)
        check_int("--data.num_proc", num_proc, 1, "processes of the transform's datasets.map")
        world_config(source, world)
        parts = list(world_parts or ["documents"])
        if unknown := set(parts) - {"documents", "qa_text"}:
            raise ZooError(f"--data.world_parts has unknown parts {sorted(unknown)}; use documents and/or qa_text")
        self.source, self.block_size, self.text_field = source, block_size, text_field
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.world, self.world_parts = dict(world or {}), parts
        if mix_share is not None and not mix_source:
            raise ZooError("--data.mix_share needs --data.mix_source (the documents to mix in)")
        self.transform, self.num_proc = transform, num_proc
        self.mix_source, self.mix_ratio, self.mix_share = mix_source, mix_ratio, mix_share
        self.blocks: dict[str, torch.Tensor] = {}
        self._fingerprint: str | None = None
        self._loaded = None
        self._world = None

    # ------------------------------------------------------------------ identity
    @property
    def is_tinyworld(self) -> bool:
        return self.source.startswith("tinyworld:")

    @property
    def tinyworld(self):
        """The generated world of a ``tinyworld:`` source (for its evaluation items)."""
        if self._world is None and self.is_tinyworld:
            self._world = generate_world(world_config(self.source, self.world))
        return self._world

    def _documents(self):
        """The source's documents and fingerprint, loaded once (fingerprinting needs them too)."""
        if self._loaded is None:
            self._loaded = load_documents(self.source, self.text_field, self.world, tuple(self.world_parts))
        return self._loaded

    @property
    def fingerprint(self) -> str:
        """Cache key: source, tokenizer, transform, packing settings."""
        if self._fingerprint is None:
            _, source_fingerprint = self._documents()
            self._fingerprint = fingerprint(
                PACKING_VERSION, source_fingerprint, tokenizer_fingerprint(self.tokenizer),
                self.transform.fingerprint if self.transform else None, self.block_size,
                self.val_fraction, self.test_fraction, self.seed, self.world_parts,
                load_documents(self.mix_source)[1] if self.mix_source else None, self.mix_ratio,
                *([self.mix_share] if self.mix_share is not None else []),
            )
        return self._fingerprint

    @property
    def cache_path(self) -> Path:
        return cache_dir("datasets") / self.fingerprint

    # ------------------------------------------------------------------ building
    def _pack(self, texts: list[str]) -> np.ndarray:
        tok = self.tokenizer
        ids: list[int] = []
        for encoded in (tok(texts, add_special_tokens=False)["input_ids"] if texts else []):
            ids += [tok.bos_token_id, *encoded, tok.eos_token_id]
        n_blocks = len(ids) // self.block_size
        return np.asarray(ids[: n_blocks * self.block_size], dtype=np.int32).reshape(n_blocks, self.block_size)

    def prepare_data(self) -> None:
        """Build the cached blocks if missing (rank 0 only under ddp)."""
        if (self.cache_path / "meta.json").exists():
            return
        documents, _ = self._documents()
        transform_report = None
        splits = [split_of(i, self.val_fraction, self.test_fraction, self.seed) for i in documents["id"]]
        documents = documents.add_column("split", splits)
        if self.transform is not None:
            train = documents.filter(lambda b: [s == "train" for s in b["split"]], batched=True)
            held_out = documents.filter(lambda b: [s != "train" for s in b["split"]], batched=True)
            train = train.map(self._apply_transform, batched=True, num_proc=self.num_proc if self.num_proc > 1 else None,
                              remove_columns=train.column_names, desc="transform")
            transform_report = self.transform.report(train)
            train = train.select_columns(["id", "title", "text", "split"])
            documents = datasets.concatenate_datasets([train, held_out])
        texts = {split: [] for split in SPLITS}
        for title, text, split in zip(documents["title"], documents["text"], documents["split"]):
            texts[split].append(document_text(title, text))
        if self.mix_source:
            texts["train"] = self._mixed(texts["train"])
        packed = {split: self._pack(texts[split]) for split in SPLITS}
        for split in SPLITS:
            wanted = split == "train" or (self.val_fraction if split == "val" else self.test_fraction) > 0
            if wanted and len(packed[split]) == 0:
                raise ZooError(f"{self.source}: the {split} split has no full {self.block_size}-token block "
                               f"({len(texts[split])} documents); use more data, a smaller --data.block_size "
                               f"or a larger --data.{split}_fraction")
        with atomic_dir(self.cache_path) as tmp:
            for split, array in packed.items():
                np.save(tmp / f"{split}.npy", array)
            meta = {"fingerprint": self.fingerprint, "source": self.source, "block_size": self.block_size,
                    "documents": {s: len(t) for s, t in texts.items()},
                    "blocks": {s: int(len(a)) for s, a in packed.items()}, "transform_report": transform_report,
                    "mix": self._mix_report() if self.mix_source else None}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))

    def _mixed(self, train: list[str]) -> list[str]:
        """Training texts with ``mix_ratio`` mixed-in documents per document, or a ``mix_share`` of them
        replaced by mixed-in documents, shuffled together (seeded)."""
        mix, _ = load_documents(self.mix_source)
        pool = [document_text(t, x) for t, x in zip(mix["title"], mix["text"])]
        rng = random.Random(f"mix:{self.seed}:{self.mix_source}")
        if self.mix_share is not None:
            wanted = round(self.mix_share * len(train))
            train = rng.sample(train, len(train) - wanted)
        else:
            wanted = round(self.mix_ratio * len(train))
        chosen = rng.sample(pool, wanted) if wanted <= len(pool) else [rng.choice(pool) for _ in range(wanted)]
        mixed = train + chosen
        rng.shuffle(mixed)
        return mixed

    def _mix_report(self) -> dict:
        if self.mix_share is not None:
            return {"source": self.mix_source, "share": self.mix_share}
        return {"source": self.mix_source, "ratio": self.mix_ratio}

    def _apply_transform(self, batch: dict) -> dict:
        out = self.transform({k: batch[k] for k in ("id", "title", "text")})
        # Report columns (e.g. what was mined) stay until the report is taken.
        titles = out["title"] if self.transform.keeps_title else [""] * len(out["text"])
        return {**out, "title": titles, "split": ["train"] * len(out["text"])}

    def setup(self, stage: str | None = None) -> None:
        if self.blocks:
            return
        self.prepare_data()
        for split in SPLITS:
            self.blocks[split] = torch.from_numpy(np.load(self.cache_path / f"{split}.npy", allow_pickle=False).astype(np.int64))

    def training_texts(self) -> Iterator[str]:
        """The training documents as the model reads them: the train blocks decoded, after the transform and
        the mix (the tail that fills no block is not trained on, so it is not there; a document that a block
        boundary cuts is read whole, as its two halves are both trained on)."""
        self.setup("fit")
        return self.decoded_documents(self.blocks["train"].numpy().ravel())

    @property
    def report(self) -> dict:
        """What the cached data holds: documents and blocks per split, the transform's report, the mix."""
        self.prepare_data()
        return json.loads((self.cache_path / "meta.json").read_text())

    def clear_cache(self) -> None:
        """Remove this configuration's cached blocks."""
        shutil.rmtree(self.cache_path, ignore_errors=True)

    # ------------------------------------------------------------------ loaders
    def _blocks(self, split: str) -> TensorDictDataset:
        return TensorDictDataset(input_ids=self.blocks[split])

    def train_dataloader(self):
        return self.train_loader(self._blocks("train"))

    def val_dataloader(self):
        return self.eval_loader(self._blocks("val"))

    def test_dataloader(self):
        loaders = [self.eval_loader(self._blocks("test"))]
        if self.is_tinyworld:
            # Facts stored (cloze in document wording) and extractable (questions in new wording).
            for items in (self.tinyworld.cloze, self.tinyworld.questions):
                dataset = MultipleChoiceDataset(items, self.tokenizer, prompt_key="prompt" if items is self.tinyworld.cloze else "question")
                loaders.append(self.eval_loader(dataset, collate_fn=collate_choices(self.tokenizer.pad_token_id)))
        return loaders

    def test_loader_names(self) -> list[str]:
        """Metric prefixes of the loaders of ``test_dataloader``, in order."""
        return ["test"] + (["cloze", "question"] if self.is_tinyworld else [])

    def predict_dataloader(self):
        """Question prompts of a tinyworld source (the model answers them by generation)."""
        if not self.is_tinyworld:
            raise ZooError("predict needs prompts: use a tinyworld source, whose held-out questions are answered")
        prompts = [q["question"] for q in self.tinyworld.questions]
        return self.eval_loader(prompts, collate_fn=self.collate_prompts)

    def collate_prompts(self, prompts: list[str]) -> dict:
        """Left-padded prompts, ready for ``generate``."""
        tok = self.tokenizer
        tok.padding_side = "left"
        encoded = tok([tok.bos_token + p for p in prompts], add_special_tokens=False, padding=True, return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "prompt": prompts}
