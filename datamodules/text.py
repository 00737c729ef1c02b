"""``TextCorpusDataModule``: documents -> (transform) -> tokens -> training examples, cached by fingerprint."""

from __future__ import annotations

import json
import random
import re
import shutil
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from datamodules.base import (
    HELD_OUT_FRACTION,
    IGNORE_INDEX,
    TensorDictDataset,
    ZooDataModule,
    check_held_out,
    load_documents,
    split_of,
    world_config,
)
from datamodules.checks import check_int, check_number
from datamodules.multiple_choice import MultipleChoiceDataset, collate_choices
from datamodules.tinyworld import generate_world, open_book_items
from datamodules.tokenizer import tokenizer_fingerprint
from datamodules.transforms import DocumentTransform
from datamodules.transforms.reading_comprehension import CONTEXT_COLUMN, sentences_with_starts
from zoo.errors import ZooError
from zoo.hashing import fingerprint
from zoo.paths import atomic_dir, cache_dir

#: Bump when packing changes, so cached blocks are rebuilt.
PACKING_VERSION = 1
SPLITS = ("train", "val", "test")
#: How documents become training sequences (see ``TextCorpusDataModule``).
PACKINGS = ("blocks", "documents")
#: What ``mix_ratio`` counts.
MIX_UNITS = ("documents", "tokens")
#: Longest open-book row (document, question and option): the llama-tiny context.
OPEN_BOOK_TOKENS = 512
# A paragraph starts after a blank line.
_PARAGRAPH_RE = re.compile(r"\n[ \t]*\n\s*")


def document_text(title: str, text: str) -> str:
    """How a document reads to the LM: its title line, a blank line, the body."""
    return f"{title}\n\n{text}" if title else text


class Document(NamedTuple):
    """A document ready to pack.

    Attributes:
        ids: Its tokens between bos and eos.
        text: Its text (where a long document may be cut).
        context_chars: Length of its leading context (the document a reading-comprehension text is
            about) in characters; 0 for none.
    """

    ids: list[int]
    text: str
    context_chars: int = 0


def _last_cut(cuts: Sequence[int], start: int, end: int) -> int | None:
    """The largest cut in ``(start, end]``, if any."""
    index = bisect_right(cuts, end) - 1
    return cuts[index] if index >= 0 and cuts[index] > start else None


def document_windows(ids: Sequence[int], size: int, paragraph_cuts: Sequence[int], sentence_cuts: Sequence[int],
                     head: int = 0) -> list[tuple[list[int], int]]:
    """Cut a document longer than ``size`` into consecutive windows of at most ``size`` tokens.

    Each window ends at its last paragraph start, else its last sentence start, else where it is
    full. A window after the first starts with the document's first ``head`` tokens again when they
    leave room for the paragraph it starts with (the text that a reading-comprehension text's tasks
    are about: upstream sizes each RC text to one context, so every task is read with its
    document); those repeated tokens are context only, never trained on twice.

    Args:
        ids: The document's tokens, bos and eos included.
        size: Tokens per window.
        paragraph_cuts: Sorted token indices where a paragraph starts.
        sentence_cuts: Sorted token indices where a sentence starts.
        head: Leading tokens to repeat in front of later windows (0: none).

    Returns:
        ``(tokens, repeated)`` per window: its tokens and how many leading ones are the repeated head.
    """
    windows, start = [], 0
    while start < len(ids):
        prefix = []
        if start >= head > 0:
            following = bisect_right(paragraph_cuts, start)
            paragraph_end = paragraph_cuts[following] if following < len(paragraph_cuts) else len(ids)
            if paragraph_end - start <= size - head:
                prefix = list(ids[:head])
        end = min(start + size - len(prefix), len(ids))
        if end < len(ids):
            end = _last_cut(paragraph_cuts, start, end) or _last_cut(sentence_cuts, start, end) or end
        windows.append((prefix + list(ids[start:end]), len(prefix)))
        start = end
    return windows


def pack_whole(pieces: Sequence[tuple[list[int], int]], size: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Pack pieces of at most ``size`` tokens whole into rows of ``size`` (first fit, longest first).

    A piece never spans two rows; the rest of a row is padding. Labels are the tokens, except
    ``IGNORE_INDEX`` on padding and on each piece's repeated head.

    Args:
        pieces: ``(tokens, repeated)`` pairs, as :func:`document_windows` gives.
        size: Tokens per row.
        pad_id: The padding token.

    Returns:
        ``(input_ids, labels)``, both ``(rows, size)`` int32.
    """
    order = sorted(range(len(pieces)), key=lambda i: -len(pieces[i][0]))  # stable: ties keep their order
    free = np.zeros(len(pieces), dtype=np.int64)
    rows: list[list[int]] = []
    for index in order:
        length = len(pieces[index][0])
        fits = np.flatnonzero(free[: len(rows)] >= length)
        if fits.size:
            row = int(fits[0])
        else:
            row = len(rows)
            rows.append([])
            free[row] = size
        rows[row].append(index)
        free[row] -= length
    input_ids = np.full((len(rows), size), pad_id, dtype=np.int32)
    labels = np.full((len(rows), size), IGNORE_INDEX, dtype=np.int32)
    for row, members in enumerate(rows):
        position = 0
        for index in members:
            tokens, repeated = pieces[index]
            input_ids[row, position:position + len(tokens)] = tokens
            labels[row, position + repeated:position + len(tokens)] = tokens[repeated:]
            position += len(tokens)
    return input_ids, labels


class TextCorpusDataModule(ZooDataModule):
    """Causal-LM data: documents packed into fixed-length training sequences.

    Documents are split into train/val/test by a hash of their id seeded with ``split_seed`` (so
    held-out perplexity is on unseen documents, and the split stays put when ``seed`` changes),
    optionally transformed, tokenized (bos and eos around each) and packed. The sequences are
    cached under ``ZOO_HOME/cache/datasets/<fingerprint>``. For ``tinyworld:`` sources the test
    stage also scores the world's held-out facts: ``cloze`` (document wording: facts stored) and
    ``questions`` (new wording: facts extractable), as 4-way multiple choice.

    Packing: ``blocks`` concatenates the documents and cuts the stream every ``block_size``
    tokens, so a document may start in one block and end in the next. ``documents`` keeps each
    document whole in one sequence: documents are packed whole, longest first, into sequences of
    ``block_size`` tokens, the rest padded (padding carries ``labels`` of -100, which the loss
    skips); a document longer than ``block_size`` is cut into windows at paragraph (else sentence)
    starts, each later window opening with the document's leading context again when a transform
    marks one (a reading-comprehension text's document, so that its tasks are always read with it,
    as upstream reads each whole RC text in one 2048-token context), that repeated context not
    trained on twice. Sequences then have ``input_ids`` and ``labels``.

    Args:
        source: ``tinyworld:<domain>``, a local ``.jsonl``/``.json``/``.txt``/``.parquet`` file or
            folder, or ``hf-hub:org/name[:config]``.
        tokenizer: ``tinyworld``, a tokenizer folder / ``tokenizer.json``, or ``hf-hub:org/name``.
        block_size: Tokens per training sequence.
        packing: ``blocks`` or ``documents`` (see above).
        batch_size: Sequences per step (per device).
        val_fraction: Share of documents held out for validation.
        test_fraction: Share of documents held out for test perplexity.
        text_field: Column holding the text in file and hub sources.
        world: ``WorldConfig`` fields for tinyworld sources, e.g. ``{"n_entities": 200, "seed": 0}``.
        world_parts: tinyworld texts to train on: ``documents`` and/or ``qa_text`` (question-answer
            pairs about the synthesizer entities, disjoint from the evaluated ones).
        transform: A ``DocumentTransform`` applied to train documents before tokenizing; one that
            writes the ``context_chars`` column marks each output's leading context (see packing).
        mix_source: A second source mixed into the training split after the transform (e.g.
            ``instructions:general``, AdaptLLM's general instructions); held-out splits stay pure.
        mix_ratio: Mixed-in documents per (transformed) training document, or with
            ``mix_unit="tokens"`` mixed-in tokens per training token (AdaptLLM's ratios are of
            tokens); sampled with ``seed``, the source reused when it is smaller than needed.
        mix_unit: What ``mix_ratio`` counts: ``documents`` or ``tokens``.
        mix_share: Instead of adding to the training documents, replace this share of them with
            mixed-in documents, so the training set keeps its size (ToEdit's synthetic share:
            0.25 = a quarter of the documents come from ``mix_source``); overrides ``mix_ratio``.
        num_proc: Processes for ``datasets.map`` of the transform (1 is fastest for cheap transforms).
        num_workers: DataLoader worker processes.
        seed: Seed of the data order (the training loader's shuffling) and of the mix's sample.
        split_seed: Seed of the train/val/test split of the documents. The tinyworld evaluation
            tasks hold out the documents of split seed 0.
    """

    def __init__(self, source: str = "tinyworld:general", tokenizer: str = "tinyworld", block_size: int = 128,
                 packing: str = "blocks", batch_size: int = 32, val_fraction: float = HELD_OUT_FRACTION,
                 test_fraction: float = HELD_OUT_FRACTION,
                 text_field: str = "text", world: dict | None = None, world_parts: list[str] | None = None,
                 transform: DocumentTransform | None = None, mix_source: str | None = None, mix_ratio: float = 1.0,
                 mix_unit: str = "documents", mix_share: float | None = None, num_proc: int = 1,
                 num_workers: int = 0, seed: int = 0, split_seed: int = 0):
        super().__init__(tokenizer=tokenizer, batch_size=batch_size, num_workers=num_workers, seed=seed)
        check_held_out(val_fraction, test_fraction)
        check_int("--data.block_size", block_size, 8, "tokens per training sequence")
        if packing not in PACKINGS:
            raise ZooError(f"--data.packing={packing!r} is not a packing; use one of {', '.join(PACKINGS)}")
        check_number("--data.mix_ratio", mix_ratio, "mixed-in documents or tokens per training document or token")
        if mix_unit not in MIX_UNITS:
            raise ZooError(f"--data.mix_unit={mix_unit!r} is not a unit of the mix ratio; use one of "
                           f"{', '.join(MIX_UNITS)}")
        if mix_share is not None:
            check_number("--data.mix_share", mix_share, "share of the training documents replaced", high=1,
                         high_included=True)
            if mix_unit != "documents":
                raise ZooError("--data.mix_share replaces a share of the documents; drop --data.mix_unit, or mix by "
                               "tokens with --data.mix_ratio instead")
        check_int("--data.num_proc", num_proc, 1, "processes of the transform's datasets.map")
        world_config(source, world)
        parts = list(world_parts or ["documents"])
        if unknown := set(parts) - {"documents", "qa_text"}:
            raise ZooError(f"--data.world_parts has unknown parts {sorted(unknown)}; use documents and/or qa_text")
        self.source, self.block_size, self.packing, self.text_field = source, block_size, packing, text_field
        self.val_fraction, self.test_fraction, self.split_seed = val_fraction, test_fraction, split_seed
        self.world, self.world_parts = dict(world or {}), parts
        if mix_share is not None and not mix_source:
            raise ZooError("--data.mix_share needs --data.mix_source (the documents to mix in)")
        self.transform, self.num_proc = transform, num_proc
        self.mix_source, self.mix_ratio, self.mix_unit, self.mix_share = mix_source, mix_ratio, mix_unit, mix_share
        self.blocks: dict[str, torch.Tensor] = {}
        self.labels: dict[str, torch.Tensor] = {}
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
        """Cache key: source, tokenizer, transform, split, mix and packing settings."""
        if self._fingerprint is None:
            _, source_fingerprint = self._documents()
            # Settings join only when they differ from how the data was made before they existed (one seed
            # for split and mix, blocks, mixing by documents), so older builds keep their fingerprint.
            newer = [*([("split_seed", self.split_seed)] if self.split_seed != self.seed else []),
                     *([("packing", self.packing)] if self.packing != "blocks" else []),
                     *([("mix_unit", self.mix_unit)] if self.mix_unit != "documents" else [])]
            self._fingerprint = fingerprint(
                PACKING_VERSION, source_fingerprint, tokenizer_fingerprint(self.tokenizer),
                self.transform.fingerprint if self.transform else None, self.block_size,
                self.val_fraction, self.test_fraction, self.seed, self.world_parts,
                load_documents(self.mix_source)[1] if self.mix_source else None, self.mix_ratio,
                *([self.mix_share] if self.mix_share is not None else []), *newer,
            )
        return self._fingerprint

    @property
    def cache_path(self) -> Path:
        return cache_dir("datasets") / self.fingerprint

    # ------------------------------------------------------------------ building
    def _tokenized(self, rows: Sequence[tuple[str, int]]) -> list[Document]:
        """``(text, context chars)`` rows as documents with bos/eos around their tokens."""
        tok = self.tokenizer
        encoded = tok([text for text, _ in rows], add_special_tokens=False)["input_ids"] if rows else []
        return [Document([tok.bos_token_id, *ids, tok.eos_token_id], text, context)
                for ids, (text, context) in zip(encoded, rows)]

    def _pieces(self, document: Document) -> list[tuple[list[int], int]]:
        """A document as whole-packable pieces: itself, or its windows when it is longer than a sequence."""
        if len(document.ids) <= self.block_size:
            return [(document.ids, 0)]
        starts = [start for start, _ in self.tokenizer(document.text, add_special_tokens=False,
                                                       return_offsets_mapping=True)["offset_mapping"]]

        def token_at(char: int) -> int:  # index in ids (bos first) of the token that starts at or after `char`
            return 1 + bisect_left(starts, char)

        paragraphs = sorted({token_at(match.end()) for match in _PARAGRAPH_RE.finditer(document.text)})
        sentences = sorted({token_at(start) for start in sentences_with_starts(document.text)[1]} | set(paragraphs))
        head = 0
        if document.context_chars:
            # The context and the blank line after it: up to the first paragraph start past the context.
            after = bisect_left(paragraphs, token_at(document.context_chars))
            head = paragraphs[after] if after < len(paragraphs) else 0
        return document_windows(document.ids, self.block_size, paragraphs, sentences, head)

    def _pack(self, documents: list[Document]) -> tuple[dict[str, np.ndarray], dict]:
        """Training sequences (``input_ids``, with ``labels`` for ``documents`` packing) and packing stats."""
        if self.packing == "blocks":
            ids = [token for document in documents for token in document.ids]
            n_blocks = len(ids) // self.block_size
            blocks = np.asarray(ids[: n_blocks * self.block_size], dtype=np.int32).reshape(n_blocks, self.block_size)
            return {"input_ids": blocks}, {}
        windows = [self._pieces(document) for document in documents]
        input_ids, labels = pack_whole([piece for pieces in windows for piece in pieces], self.block_size,
                                       self.tokenizer.pad_token_id)
        padding = (input_ids == self.tokenizer.pad_token_id).sum()
        return {"input_ids": input_ids, "labels": labels}, {
            "documents_cut": sum(len(pieces) > 1 for pieces in windows),
            "padding": float(padding / max(input_ids.size, 1)),
            "repeated_context": float(((labels == IGNORE_INDEX).sum() - padding) / max(input_ids.size, 1))}

    def _split_rows(self) -> tuple[dict[str, list[tuple[str, int]]], dict | None]:
        """Per split, each document's text as the LM reads it and its context length; the transform's report."""
        documents, _ = self._documents()
        splits = [split_of(i, self.val_fraction, self.test_fraction, self.split_seed) for i in documents["id"]]
        documents = documents.add_column("split", splits)
        parts, transform_report = [documents], None
        if self.transform is not None:
            train = documents.filter(lambda b: [s == "train" for s in b["split"]], batched=True)
            held_out = documents.filter(lambda b: [s != "train" for s in b["split"]], batched=True)
            train = train.map(self._apply_transform, batched=True, num_proc=self.num_proc if self.num_proc > 1 else None,
                              remove_columns=train.column_names, desc="transform")
            transform_report = self.transform.report(train)
            parts = [train, held_out]
        rows = {split: [] for split in SPLITS}
        for part in parts:
            contexts = part[CONTEXT_COLUMN] if CONTEXT_COLUMN in part.column_names else [0] * len(part)
            for title, text, split, context in zip(part["title"], part["text"], part["split"], contexts):
                # A title line in front moves the context along (it is not the context itself).
                rows[split].append((document_text(title, text), context and context + len(document_text(title, ""))))
        return rows, transform_report

    def prepare_data(self) -> None:
        """Build the cached sequences if missing (rank 0 only under ddp)."""
        if (self.cache_path / "meta.json").exists():
            return
        rows, transform_report = self._split_rows()
        documents = {split: self._tokenized(rows[split]) for split in SPLITS}
        mix_report = None
        if self.mix_source:
            documents["train"], mix_report = self._mixed(documents["train"])
        packed, packing_report = {}, {}
        for split in SPLITS:
            packed[split], packing_report[split] = self._pack(documents[split])
            wanted = split == "train" or (self.val_fraction if split == "val" else self.test_fraction) > 0
            if wanted and len(packed[split]["input_ids"]) == 0:
                raise ZooError(f"{self.source}: the {split} split has no full {self.block_size}-token block "
                               f"({len(documents[split])} documents); use more data, a smaller --data.block_size, "
                               f"--data.packing documents or a larger --data.{split}_fraction")
        with atomic_dir(self.cache_path) as tmp:
            for split, arrays in packed.items():
                np.save(tmp / f"{split}.npy", arrays["input_ids"])
                if "labels" in arrays:
                    np.save(tmp / f"{split}_labels.npy", arrays["labels"])
            meta = {"fingerprint": self.fingerprint, "source": self.source, "block_size": self.block_size,
                    "documents": {s: len(d) for s, d in documents.items()},
                    "blocks": {s: len(a["input_ids"]) for s, a in packed.items()},
                    "transform_report": transform_report, "mix": mix_report}
            if self.packing != "blocks":
                meta["packing"] = {"mode": self.packing, **packing_report}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))

    def _mixed(self, train: list[Document]) -> tuple[list[Document], dict]:
        """Training documents with mixed-in ones (``mix_ratio`` documents or tokens per document or token, or
        a ``mix_share`` of them replaced), shuffled together (seeded), and the mix's report."""
        mix, _ = load_documents(self.mix_source)
        pool = self._tokenized([(document_text(t, x), 0) for t, x in zip(mix["title"], mix["text"])])
        rng = random.Random(f"mix:{self.seed}:{self.mix_source}")
        report = {"source": self.mix_source}
        if self.mix_share is not None:
            wanted = round(self.mix_share * len(train))
            train = rng.sample(train, len(train) - wanted)
            chosen = self._document_sample(pool, wanted, rng)
            report["share"] = self.mix_share
        else:
            if self.mix_unit == "tokens":
                chosen = self._token_sample(pool, self.mix_ratio * sum(len(d.ids) for d in train), rng)
            else:
                chosen = self._document_sample(pool, round(self.mix_ratio * len(train)), rng)
            report.update(ratio=self.mix_ratio, unit=self.mix_unit)
        report["tokens"] = {"documents": sum(len(d.ids) for d in train), "mixed": sum(len(d.ids) for d in chosen)}
        mixed = train + chosen
        rng.shuffle(mixed)
        return mixed, report

    @staticmethod
    def _document_sample(pool: list[Document], wanted: int, rng: random.Random) -> list[Document]:
        """``wanted`` mixed-in documents: a sample, with replacement when the pool is smaller."""
        return rng.sample(pool, wanted) if wanted <= len(pool) else [rng.choice(pool) for _ in range(wanted)]

    @staticmethod
    def _token_sample(pool: list[Document], tokens: float, rng: random.Random) -> list[Document]:
        """Mixed-in documents until they hold ``tokens`` tokens: passes over the pool in seeded orders, so
        every document is used once before any is used again."""
        chosen, total = [], 0
        while total < tokens:
            for index in rng.sample(range(len(pool)), len(pool)):
                if total >= tokens:
                    break
                chosen.append(pool[index])
                total += len(pool[index].ids)
        return chosen

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
            if (labels := self.cache_path / f"{split}_labels.npy").exists():
                self.labels[split] = torch.from_numpy(np.load(labels, allow_pickle=False).astype(np.int64))

    def training_texts(self) -> Iterator[str]:
        """The training documents as the model reads them: the train sequences decoded, after the transform and
        the mix (the tail that fills no block is not trained on, so it is not there; a document that a block
        boundary cuts is read whole, as its two halves are both trained on; padding is left out)."""
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
        if split in self.labels:
            return TensorDictDataset(input_ids=self.blocks[split], labels=self.labels[split])
        return TensorDictDataset(input_ids=self.blocks[split])

    def train_dataloader(self):
        return self.train_loader(self._blocks("train"))

    def val_dataloader(self):
        return self.eval_loader(self._blocks("val"))

    def test_dataloader(self):
        loaders = [self.eval_loader(self._blocks("test"))]
        if self.is_tinyworld:
            # Facts stored (cloze in document wording), extractable (questions in new wording), and read
            # from a document never trained on (open book: the document is in the prompt).
            world = self.tinyworld
            for items, prompt_key, longest in ((world.cloze, "prompt", 256), (world.questions, "question", 256),
                                               (open_book_items(world), "prompt", OPEN_BOOK_TOKENS)):
                dataset = MultipleChoiceDataset(items, self.tokenizer, prompt_key=prompt_key, max_length=longest)
                loaders.append(self.eval_loader(dataset, collate_fn=collate_choices(self.tokenizer.pad_token_id)))
        return loaders

    def test_loader_names(self) -> list[str]:
        """Metric prefixes of the loaders of ``test_dataloader``, in order."""
        return ["test"] + (["cloze", "question", "open_book"] if self.is_tinyworld else [])

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
