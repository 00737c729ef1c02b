"""``TextClassificationDataModule``: a labelled in-distribution set and any number of OOD sets of sentences.

Each set is a ``TextSet``: a name and a source with how to read it, so any sentence file plugs in as
another OOD set by one line of YAML (``{name: wmt16, source: zoo-data:ood/wmt16_sentences_2k.txt}``).
Sources:

- a local file: ``.tsv`` (a header row; ``text_field`` defaults to the first column), ``.jsonl``
  (one object a line), ``.json`` (a list of objects, or an object of objects keyed by id, as PubMedQA),
  ``.txt`` (one sentence a line); ``format`` overrides the suffix (ChemProt's ``.txt`` files are JSON lines);
- ``zoo-data:<path>``: that file under ``ZOO_DATA_DIR`` (``zoo-data:sst2/dev.tsv``);
- ``hf-hub:org/name[:config]``: a hub dataset's ``split``;
- ``tinyworld:<domain>``: the sentences of a tinyworld's documents (``world`` sets its size and seed),
  labelled 1 when the sentence states a fact of its document's entity (a value of its attributes), else 0;
  the ``train`` split reads the training documents, any other the held-out ones.

``pattern`` (a regular expression with one group) keeps that part of each text and drops texts it does
not match (the question of a zero-shot prompt). The training set's labels train a classifier and fit
Mahalanobis; its last ``val_fraction`` is the validation set. The test stage reads the in-distribution
test set, then each OOD set in order (``test_set_names``); predict reads the same sets.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from datamodules.base import TensorDictDataset, ZooDataModule, split_of, world_config
from datamodules.checks import check_int, check_number
from datamodules.real_corpora import data_dir
from datamodules.tinyworld import generate_world
from zoo.errors import ZooError
from zoo.hashing import fingerprint

FORMATS = {".tsv": "tsv", ".jsonl": "jsonl", ".json": "json", ".txt": "text"}
#: Label of a row whose set has no labels (OOD sets).
NO_LABEL = -1
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class TextSet:
    """One set of sentences and how to read it.

    Args:
        name: Short name, used in metric names (``wmt16``: ``test/auroc/wmt16``).
        source: A file path, ``zoo-data:<path under ZOO_DATA_DIR>``, ``hf-hub:org/name[:config]`` or
            ``tinyworld:<domain>``.
        text_field: Column or key of the text (TSV: the first column; JSON: ``text``).
        label_field: Column or key of the label; None: the set is unlabelled.
        pattern: A regular expression with one group: keep that part of each text, drop texts it misses.
        format: ``tsv``, ``jsonl``, ``json`` or ``text``; None: from the file's suffix.
        split: The hub split, or for ``tinyworld:`` ``train`` (training documents) or ``test`` (held out).
        limit: Keep the first ``limit`` texts.
        world: ``WorldConfig`` fields of a ``tinyworld:`` source.
    """

    name: str
    source: str
    text_field: str | None = None
    label_field: str | None = None
    pattern: str | None = None
    format: str | None = None
    split: str = "train"
    limit: int | None = None
    world: dict | None = field(default=None, hash=False)

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name or ""):
            raise ZooError(f"set name {self.name!r}: use letters, digits, '_', '-' or '.' (it names metrics)")
        if self.format is not None and self.format not in FORMATS.values():
            raise ZooError(f"set {self.name}: format={self.format!r}; use one of {', '.join(FORMATS.values())}")
        if self.limit is not None:
            check_int(f"set {self.name}: limit", self.limit, 1, "texts kept")
        if self.pattern is not None:
            try:
                groups = re.compile(self.pattern).groups
            except re.error as error:
                raise ZooError(f"set {self.name}: pattern {self.pattern!r} is not a regular expression ({error})") from None
            if groups != 1:
                raise ZooError(f"set {self.name}: pattern {self.pattern!r} needs exactly one group (the text kept)")
        world_config(self.source, self.world)

    def read(self) -> tuple[list[str], list[int]]:
        """The set's texts and labels (``NO_LABEL`` when unlabelled)."""
        if self.source.startswith("tinyworld:"):
            rows = tinyworld_sentences(self.source, self.world, self.split)
        elif self.source.startswith("hf-hub:"):
            rows = self._hub_rows()
        else:
            rows = self._file_rows()
        texts, labels = [], []
        for text, label in rows:
            if self.pattern is not None:
                found = re.search(self.pattern, text, flags=re.DOTALL)
                if not found:
                    continue
                text = found.group(1)
            if text and text.strip():
                texts.append(text.strip())
                labels.append(label)
            if self.limit is not None and len(texts) == self.limit:
                break
        if not texts:
            raise ZooError(f"set {self.name} ({self.source}) has no texts{' matching its pattern' if self.pattern else ''}; "
                           "check the file, its text_field and pattern")
        return texts, labels

    def path(self) -> Path:
        """The local file of a file source (``zoo-data:`` read under ``ZOO_DATA_DIR``)."""
        if self.source.startswith("zoo-data:"):
            return data_dir() / self.source.removeprefix("zoo-data:")
        return Path(self.source).expanduser()

    def _label(self, value, row_number: int) -> int:
        if self.label_field is None:
            return NO_LABEL
        try:
            label = int(str(value).strip())
        except ValueError:
            raise ZooError(f"set {self.name}: label {value!r} of row {row_number} is not an integer class index; "
                           "map labels to 0..K-1 first") from None
        if label < 0:
            raise ZooError(f"set {self.name}: label {label} of row {row_number} is negative; use 0..K-1")
        return label

    def _field(self, record: dict, key: str, row_number: int):
        if key not in record:
            raise ZooError(f"set {self.name}: row {row_number} has no field {key!r} (has {', '.join(map(str, record))}); "
                           "set text_field / label_field")
        return record[key]

    def _file_rows(self) -> list[tuple[str, int]]:
        path = self.path()
        if not path.is_file():
            raise ZooError(f"set {self.name}: file not found: {path}; check the path"
                           + (" and ZOO_DATA_DIR" if self.source.startswith("zoo-data:") else ""))
        kind = self.format or FORMATS.get(path.suffix)
        if kind is None:
            raise ZooError(f"set {self.name}: cannot tell the format of {path.name}; set format to one of "
                           f"{', '.join(FORMATS.values())}")
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ZooError(f"set {self.name}: {path} is not UTF-8 text; re-encode it") from None
        if kind == "text":
            return [(line, NO_LABEL) for line in content.splitlines() if line.strip()]
        if kind == "tsv":
            reader = csv.DictReader(content.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
            text_field = self.text_field or (reader.fieldnames or [""])[0]
            records = list(reader)
        else:
            text_field = self.text_field or "text"
            try:
                records = ([json.loads(line) for line in content.splitlines() if line.strip()] if kind == "jsonl"
                           else json.loads(content))
            except json.JSONDecodeError as error:
                raise ZooError(f"set {self.name}: {path} is not valid {kind} ({error}); fix the file or its format") from None
            records = list(records.values()) if isinstance(records, dict) else records
        return [(str(self._field(record, text_field, number)),
                 self._label(self._field(record, self.label_field, number) if self.label_field else None, number))
                for number, record in enumerate(records, start=1)]

    def _hub_rows(self) -> list[tuple[str, int]]:
        import datasets

        name, _, config = self.source.removeprefix("hf-hub:").partition(":")
        try:
            raw = datasets.load_dataset(name, config or None, split=self.split)
        except Exception as error:  # datasets raises many types for "unreachable" and "not found"
            raise ZooError(f"set {self.name}: cannot load dataset {self.source} ({str(error).splitlines()[0][:160]}); "
                           "offline? pass a local file") from None
        text_field = self.text_field or "text"
        return [(str(self._field(row, text_field, number)),
                 self._label(self._field(row, self.label_field, number) if self.label_field else None, number))
                for number, row in enumerate(raw, start=1)]

    def fingerprint(self) -> str:
        """What the set's content depends on: its settings and, for a file, the file's bytes."""
        local = not self.source.startswith(("tinyworld:", "hf-hub:"))
        return fingerprint(asdict(self), hashlib.sha256(self.path().read_bytes()).hexdigest() if local else None)


def tinyworld_sentences(source: str, world: dict | None, split: str) -> list[tuple[str, int]]:
    """The sentences of a tinyworld's documents, labelled 1 when one states a value of its entity's attributes.

    Args:
        source: ``tinyworld:<domain>``.
        world: ``WorldConfig`` fields.
        split: ``train``: the training documents; otherwise the held-out ones (the zoo's fixed split).
    """
    generated = generate_world(world_config(source, world))
    entities = {entity["name"]: entity for entity in generated.entities}
    rows = []
    for document in generated.documents:
        if (split_of(document["id"]) == "train") != (split == "train"):
            continue
        values = [str(value) for value in entities[document["entity"]]["attributes"].values()]
        for sentence in _SENTENCE_END.split(document["text"]):
            rows.append((sentence, int(any(value in sentence for value in values))))
    return rows


class TextClassificationDataModule(ZooDataModule):
    """Sentences with labels to train on, and in-distribution and OOD sets to test and predict on.

    Args:
        train: The labelled in-distribution training set (its last ``val_fraction`` validates).
        test: The in-distribution test set.
        ood: Out-of-distribution sets, each scored against ``test``.
        tokenizer: The encoder's tokenizer (a zoo model's name such as ``minilm-l6-v2``, a folder, ``hf-hub:``).
        max_length: Tokens kept per text ([CLS] and [SEP] included).
        val_fraction: Share of the training set held out for validation (its last rows).
        batch_size: Texts per batch.
        num_workers: DataLoader worker processes.
        seed: Seed of the training order.
    """

    def __init__(self, train: TextSet, test: TextSet, ood: list[TextSet] | None = None,
                 tokenizer: str = "minilm-l6-v2", max_length: int = 128, val_fraction: float = 0.05,
                 batch_size: int = 32, num_workers: int = 0, seed: int = 0):
        super().__init__(tokenizer=tokenizer, batch_size=batch_size, num_workers=num_workers, seed=seed)
        check_int("--data.max_length", max_length, 3, "tokens per text, [CLS] and [SEP] included")
        check_number("--data.val_fraction", val_fraction, "share of the training set that validates", high=0.5)
        self.train_set, self.test_set = as_text_set(train), as_text_set(test)
        self.ood_sets = [as_text_set(each) for each in ood or []]
        names = self.test_set_names()
        if len(set(names)) != len(names):
            raise ZooError(f"set names repeat ({', '.join(names)}); give every test and OOD set its own name")
        self.max_length, self.val_fraction = max_length, val_fraction
        self._encoded: dict[str, dict[str, torch.Tensor]] = {}
        self.fingerprint: str | None = None

    def test_set_names(self) -> list[str]:
        """The in-distribution test set's name, then each OOD set's: the test and predict loaders' order."""
        return [self.test_set.name, *(each.name for each in self.ood_sets)]

    def encode(self, texts: list[str], labels: list[int]) -> dict[str, torch.Tensor]:
        """Token ids padded to the longest text, attention mask, labels and each row's index."""
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding="longest",
                                 return_tensors="pt", return_token_type_ids=False)
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                "labels": torch.tensor(labels), "index": torch.arange(len(texts))}

    def setup(self, stage: str | None = None) -> None:
        if self._encoded:
            return
        texts, labels = self.train_set.read()
        held_out = int(len(texts) * self.val_fraction)
        cut = len(texts) - held_out
        self._encoded["train"] = self.encode(texts[:cut], labels[:cut])
        if held_out:
            self._encoded["val"] = self.encode(texts[cut:], labels[cut:])
        for each in [self.test_set, *self.ood_sets]:
            self._encoded[f"set:{each.name}"] = self.encode(*each.read())
        self.fingerprint = fingerprint(self.tokenizer.backend_tokenizer.to_str(), self.max_length, self.val_fraction,
                                       [each.fingerprint() for each in [self.train_set, self.test_set, *self.ood_sets]])

    def _dataset(self, key: str):
        return TensorDictDataset(**self._encoded[key])

    def train_dataloader(self):
        return self.train_loader(self._dataset("train"), collate_fn=trim_padding)

    def val_dataloader(self):
        return self.eval_loader(self._dataset("val"), collate_fn=trim_padding) if "val" in self._encoded else []

    def fit_loader(self):
        """The training set in order (what Mahalanobis is fitted on)."""
        self.setup()
        return self.eval_loader(self._dataset("train"), collate_fn=trim_padding)

    def test_dataloader(self):
        return [self.eval_loader(self._dataset(f"set:{name}"), collate_fn=trim_padding)
                for name in self.test_set_names()]

    def predict_dataloader(self):
        return self.test_dataloader()

    def training_texts(self):
        """The in-distribution training texts, validation rows left out (what a contamination check scans)."""
        texts, _ = self.train_set.read()
        yield from texts[:len(texts) - int(len(texts) * self.val_fraction)]


def as_text_set(value: TextSet | dict) -> TextSet:
    """A ``TextSet`` from itself or its fields (a YAML mapping)."""
    if isinstance(value, TextSet):
        return value
    if not isinstance(value, dict):
        raise ZooError(f"a text set is a mapping with name and source, got {value!r}")
    try:
        return TextSet(**value)
    except TypeError as error:
        raise ZooError(f"text set {value.get('name', '?')}: {error}; fields: name, source, text_field, label_field, "
                       "pattern, format, split, limit, world") from None


def trim_padding(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack rows and cut the padding every row of the batch shares (a batch is as long as its longest text)."""
    batch = {key: torch.stack([row[key] for row in rows]) for key in rows[0]}
    width = int(batch["attention_mask"].sum(1).max())
    batch["input_ids"], batch["attention_mask"] = batch["input_ids"][:, :width], batch["attention_mask"][:, :width]
    return batch
