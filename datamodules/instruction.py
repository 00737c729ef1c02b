"""``SynthesizerDataModule``: context -> question/answer pairs, to fine-tune the instruction synthesizer.

Instruction Pre-Training (Cheng et al., EMNLP 2024) fine-tunes a causal LM on context-based task
data: the input ``" <CON> {context} </CON>\\n\\n"``, the output the pairs ``"<QUE> q <ANS> a </END>"``
joined by blank lines, with the loss on the output only. Sources: a tinyworld's ``qa_pairs`` (its
synthesizer entities, disjoint from the entities the suites ask about) or ``zoo-data:pubmedqa-qa``
(PubMedQA non-test contexts with their question and long answer, from ``ZOO_DATA_DIR``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.base import ZooDataModule, check_held_out, split_of, world_config
from datamodules.checks import check_int
from datamodules.real_corpora import data_dir, pubmedqa_training_items
from datamodules.tinyworld import generate_world
from datamodules.transforms.instruction_format import CON, CON_END, QAPair, render_pairs
from zoo.errors import ZooError

#: Target value the loss skips (the prompt's tokens and padding).
IGNORE_INDEX = -100


def context_ids(tokenizer, context: str, budget: int) -> list[int]:
    """Token ids of the synthesizer's input for ``context``, the context cut to fit ``budget`` tokens.

    The markers are tokenized apart from the context, so a cut context keeps its closing marker,
    and training and synthesis build the input the same way.
    """
    open_ids = tokenizer(f" {CON}", add_special_tokens=False)["input_ids"]
    close_ids = tokenizer(f" {CON_END}\n\n", add_special_tokens=False)["input_ids"]
    body = tokenizer(" " + context.strip(), add_special_tokens=False)["input_ids"]
    return [*open_ids, *body[: max(0, budget - len(open_ids) - len(close_ids))], *close_ids]


def pubmedqa_examples() -> list[dict]:
    """PubMedQA expert-labelled items outside its 500 test PMIDs: context -> (question, long answer)."""
    return [{"id": f"pubmedqa-{pmid}", "context": " ".join(contexts),
             "pairs": [{"question": item["QUESTION"], "answer": item["LONG_ANSWER"]}]}
            for pmid, item, contexts in pubmedqa_training_items(data_dir())]


def synthesizer_examples(source: str, world: dict | None = None) -> list[dict]:
    """``{"id", "context", "pairs": [{"question", "answer"}]}`` examples of a source."""
    if source.startswith("tinyworld:"):
        generated = generate_world(world_config(source, world))
        return [{"id": p["id"], "context": p["context"], "pairs": p["pairs"]} for p in generated.qa_pairs]
    if source == "zoo-data:pubmedqa-qa":
        return pubmedqa_examples()
    raise ZooError(f"unknown synthesizer data source '{source}'; use tinyworld:<domain> or zoo-data:pubmedqa-qa")


class _Examples(Dataset):
    """Tokenized (input, labels) rows: labels are the pairs' tokens and eos, the rest ignored."""

    def __init__(self, examples: list[dict], tokenizer, max_length: int):
        self.rows = []
        for example in examples:
            pairs = [QAPair(p["question"], p["answer"]) for p in example["pairs"]]
            target = self.target_ids(tokenizer, pairs)
            # Pairs take at most half the window (the later ones go), so the context keeps room.
            while len(target) > max_length // 2 and len(pairs) > 1:
                pairs = pairs[:-1]
                target = self.target_ids(tokenizer, pairs)
            budget = max_length - 1 - len(target)
            if budget < 8:
                continue  # a single pair longer than the window leaves no room for its context
            prompt = [tokenizer.bos_token_id, *context_ids(tokenizer, example["context"], budget)]
            self.rows.append((prompt + target, [IGNORE_INDEX] * len(prompt) + target))

    @staticmethod
    def target_ids(tokenizer, pairs: list[QAPair]) -> list[int]:
        return [*tokenizer(render_pairs(pairs), add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        return self.rows[index]


def collate_labelled(pad_token_id: int):
    """Right-pad (input, labels) rows into ``input_ids``, ``attention_mask`` and ``labels``."""

    def collate(rows: list) -> dict[str, torch.Tensor]:
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (ids, target) in enumerate(rows):
            input_ids[r, :len(ids)], labels[r, :len(ids)] = torch.tensor(ids), torch.tensor(target)
            attention_mask[r, :len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    return collate


class SynthesizerDataModule(ZooDataModule):
    """Context -> question/answer pairs, loss on the pairs (the instruction synthesizer's fine-tuning).

    Args:
        source: ``tinyworld:<domain>`` (the world's synthesizer entities) or ``zoo-data:pubmedqa-qa``.
        tokenizer: ``tinyworld``, a tokenizer folder, or ``hf-hub:org/name`` (the model's own).
        max_length: Longest example in tokens (the synthesizer's window); contexts are cut to fit.
        batch_size: Examples per step.
        world: ``WorldConfig`` fields of a tinyworld source.
        val_fraction: Share of examples held out for validation.
        test_fraction: Share of examples held out for test.
        num_workers: DataLoader worker processes.
        seed: Seed of the split and shuffling.
    """

    def __init__(self, source: str = "tinyworld:general", tokenizer: str = "tinyworld", max_length: int = 512,
                 batch_size: int = 16, world: dict | None = None, val_fraction: float = 0.05,
                 test_fraction: float = 0.05, num_workers: int = 0, seed: int = 0):
        super().__init__(tokenizer=tokenizer, batch_size=batch_size, num_workers=num_workers, seed=seed)
        check_int("--data.max_length", max_length, 32, "tokens of an example: room for a context and its pairs")
        check_held_out(val_fraction, test_fraction)
        world_config(source, world)
        self.source, self.max_length, self.world = source, max_length, dict(world or {})
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.splits: dict[str, _Examples] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        examples = synthesizer_examples(self.source, self.world)
        by_split = {"train": [], "val": [], "test": []}
        for example in examples:
            by_split[split_of(example["id"], self.val_fraction, self.test_fraction, self.seed)].append(example)
        self.splits = {name: _Examples(rows, self.tokenizer, self.max_length) for name, rows in by_split.items()}
        if not len(self.splits["train"]):
            raise ZooError(f"{self.source}: no training example fits --data.max_length={self.max_length}")

    def training_texts(self) -> Iterator[str]:
        """The training examples as the model reads them: each one's context (cut to the window) and pairs."""
        self.setup("fit")
        rows = self.splits["train"].rows
        return self.decoded_documents(np.fromiter((i for ids, _ in rows for i in ids), dtype=np.int64))

    def _loader(self, split: str, train: bool = False):
        collate = collate_labelled(self.tokenizer.pad_token_id)
        dataset = self.splits[split]
        return self.train_loader(dataset, collate) if train else self.eval_loader(dataset, collate)

    def train_dataloader(self):
        return self._loader("train", train=True)

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")
