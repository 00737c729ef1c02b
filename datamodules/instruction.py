"""``SynthesizerDataModule``: context -> question/answer pairs, to fine-tune the instruction synthesizer.

Instruction Pre-Training (Cheng et al., EMNLP 2024) fine-tunes a causal LM on context-based task
data: the input ``" <CON> {context} </CON>\\n\\n"``, the output the pairs ``"<QUE> q <ANS> a </END>"``
joined by blank lines, with the loss on the output only. As upstream, several examples are
concatenated into one sequence, each ``<bos> input output <eos>`` (:func:`pack_examples`), so the
synthesizer learns to write pairs after earlier examples: the prompt of multi-round synthesis
(:func:`few_shot_prompt`) is built from the same pieces. Sources: a tinyworld's ``qa_pairs`` (its
synthesizer entities, disjoint from the entities the suites ask about, worded with the synthesizer's
own questions: ``datamodules.tinyworld.instructions.synthesizer_pairs``) or ``zoo-data:pubmedqa-qa``
(PubMedQA non-test contexts with their question and long answer, from ``ZOO_DATA_DIR``).

Documents a synthesizer never saw (:func:`held_out_documents`) and whether a pair is answerable from
its document (:func:`is_answerable`) are defined here too: the ``synthesis_quality`` evaluator and
the quality gate of ``InstructionAugmentation`` score with them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.base import IGNORE_INDEX, ZooDataModule, check_held_out, split_of, world_config
from datamodules.checks import check_int
from datamodules.real_corpora import data_dir, pubmedqa_training_items
from datamodules.tinyworld import World, generate_world
from datamodules.tinyworld.instructions import synthesizer_pairs
from datamodules.transforms.instruction_format import CON, CON_END, Demo, QAPair, render_pairs
from zoo.errors import ZooError

#: One tokenized example or packed sequence: (input ids, labels with ``IGNORE_INDEX`` outside the pairs).
Row = tuple[list[int], list[int]]


def context_ids(tokenizer, context: str, budget: int | None = None) -> list[int]:
    """Token ids of the synthesizer's input for ``context``, the context cut to fit ``budget`` tokens.

    The markers are tokenized apart from the context, so a cut context keeps its closing marker,
    and training and synthesis build the input the same way.

    Args:
        tokenizer: The synthesizer's tokenizer.
        context: The raw text.
        budget: Most tokens of the input; None: the whole context.
    """
    open_ids = tokenizer(f" {CON}", add_special_tokens=False)["input_ids"]
    close_ids = tokenizer(f" {CON_END}\n\n", add_special_tokens=False)["input_ids"]
    body = tokenizer(" " + context.strip(), add_special_tokens=False)["input_ids"]
    if budget is not None:
        body = body[: max(0, budget - len(open_ids) - len(close_ids))]
    return [*open_ids, *body, *close_ids]


def target_ids(tokenizer, pairs: Sequence[QAPair]) -> list[int]:
    """Token ids of what the synthesizer writes for a context: the rendered pairs and eos.

    Args:
        tokenizer: The synthesizer's tokenizer.
        pairs: The context's pairs.
    """
    return [*tokenizer(render_pairs(pairs), add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]


def example_row(tokenizer, context: str, pairs: Sequence[QAPair], max_length: int) -> Row | None:
    """One example ``<bos> input output <eos>`` with its labels (the output and eos), within ``max_length``.

    The pairs take at most half the window (the later ones go), so the context keeps room; the
    context is cut to the rest.

    Args:
        tokenizer: The synthesizer's tokenizer.
        context: The raw text.
        pairs: Its pairs.
        max_length: Most tokens of the example.

    Returns:
        ``(ids, labels)``, or None when a single pair leaves the context no room.
    """
    pairs = list(pairs)
    target = target_ids(tokenizer, pairs)
    while len(target) > max_length // 2 and len(pairs) > 1:
        pairs = pairs[:-1]
        target = target_ids(tokenizer, pairs)
    budget = max_length - 1 - len(target)
    if budget < 8:
        return None
    prompt = [tokenizer.bos_token_id, *context_ids(tokenizer, context, budget)]
    return prompt + target, [IGNORE_INDEX] * len(prompt) + target


def pack_examples(rows: Sequence[Row], max_length: int) -> list[Row]:
    """Examples concatenated, in order, into sequences of at most ``max_length`` tokens (upstream's
    few-shot tuning sequences): an example that does not fit the current sequence starts the next.

    Args:
        rows: Examples from :func:`example_row`, each at most ``max_length`` tokens.
        max_length: Most tokens of a sequence.
    """
    packed: list[Row] = []
    for ids, labels in rows:
        if packed and len(packed[-1][0]) + len(ids) <= max_length:
            packed[-1] = (packed[-1][0] + ids, packed[-1][1] + labels)
        else:
            packed.append((list(ids), list(labels)))
    return packed


def few_shot_prompt(tokenizer, text: str, history: Sequence[Demo], budget: int) -> tuple[list[int], list[Demo]]:
    """The synthesis prompt of ``text`` after its multi-round history, and the history it used.

    Each earlier text is the example the synthesizer is fine-tuned on, ``<bos> input pairs <eos>``,
    then ``<bos> input`` of ``text``: the sequence of :func:`pack_examples`. When that exceeds
    ``budget`` tokens, the prompt is the plain one, the context cut to fit, and no history is used
    (upstream drops the whole history too).

    Args:
        tokenizer: The synthesizer's tokenizer.
        text: The text to write pairs for.
        history: Earlier texts with their pairs, oldest first (``instruction_format.next_history``).
        budget: Most tokens of the prompt (the window less the tokens to generate).
    """
    bos = tokenizer.bos_token_id
    if history:
        shots = [token for earlier, pairs in history
                 for token in (bos, *context_ids(tokenizer, earlier), *target_ids(tokenizer, pairs))]
        prompt = [*shots, bos, *context_ids(tokenizer, text)]
        if len(prompt) <= budget:
            return prompt, list(history)
    return [bos, *context_ids(tokenizer, text, budget - 1)], []


def pubmedqa_examples() -> list[dict]:
    """PubMedQA expert-labelled items outside its 500 test PMIDs: context -> (question, long answer)."""
    return [{"id": f"pubmedqa-{pmid}", "context": " ".join(contexts),
             "pairs": [{"question": item["QUESTION"], "answer": item["LONG_ANSWER"]}]}
            for pmid, item, contexts in pubmedqa_training_items(data_dir())]


def synthesizer_examples(source: str, world: dict | None = None) -> list[dict]:
    """``{"id", "context", "pairs": [{"question", "answer"}]}`` examples of a source.

    Args:
        source: ``tinyworld:<domain>`` (its synthesizer entities' documents, in the synthesizer's own
            question wordings) or ``zoo-data:pubmedqa-qa``.
        world: ``WorldConfig`` fields of a tinyworld source.
    """
    if source.startswith("tinyworld:"):
        generated = generate_world(world_config(source, world))
        return [{"id": p["id"], "context": p["context"], "pairs": p["pairs"]} for p in synthesizer_pairs(generated)]
    if source == "zoo-data:pubmedqa-qa":
        return pubmedqa_examples()
    raise ZooError(f"unknown synthesizer data source '{source}'; use tinyworld:<domain> or zoo-data:pubmedqa-qa")


def held_out_documents(world: World, n_documents: int) -> list[dict]:
    """Documents no synthesizer of this world trained on: those of its evaluation entities, in order.

    Args:
        world: A generated tinyworld (its synthesizer entities are the tinyworld synthesizers' data).
        n_documents: How many (fewer when the world has fewer).
    """
    evaluated = {e["name"] for e in world.entities if e["split"] == "eval"}
    return [d for d in world.documents if d["entity"] in evaluated][:n_documents]


def is_answerable(answer: str, text: str) -> bool:
    """Whether a pair's answer occurs in its document as whole words, ignoring case: the pair is grounded
    in its text.

    Whole words, because a cut-off copy is no answer: "Win" occurs in "Winnipeg" as a substring, and a
    synthesizer that stops copying after a value's first token would otherwise pass.

    Args:
        answer: The pair's answer.
        text: The document it was written for.
    """
    answer = answer.strip()
    return bool(answer) and re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", text, re.IGNORECASE) is not None


class SynthesizerDataModule(ZooDataModule):
    """Context -> question/answer pairs, loss on the pairs (the instruction synthesizer's fine-tuning).

    Each split's examples are ordered by ``seed`` and concatenated into sequences of up to
    ``max_length`` tokens (:func:`pack_examples`); which split an example is in depends on
    ``split_seed`` only, so runs over several seeds train and test on the same examples.

    Args:
        source: ``tinyworld:<domain>`` (the world's synthesizer entities) or ``zoo-data:pubmedqa-qa``, or a
            list of them whose examples are pooled (a synthesizer for several domains, as upstream's is
            trained on many datasets; with ``world``, each tinyworld domain's world of those fields).
        tokenizer: ``tinyworld``, a tokenizer folder, or ``hf-hub:org/name`` (the model's own).
        max_length: Longest sequence in tokens (the synthesizer's window); contexts are cut to fit.
        batch_size: Sequences per step.
        world: ``WorldConfig`` fields of a tinyworld source.
        val_fraction: Share of examples held out for validation.
        test_fraction: Share of examples held out for test.
        num_workers: DataLoader worker processes.
        split_seed: Seed of the examples' train/val/test split.
        seed: Seed of the order of the examples (which ones share a sequence) and of shuffling.
    """

    def __init__(self, source: str | list[str] = "tinyworld:general", tokenizer: str = "tinyworld",
                 max_length: int = 512, batch_size: int = 16, world: dict | None = None, val_fraction: float = 0.05,
                 test_fraction: float = 0.05, num_workers: int = 0, split_seed: int = 0, seed: int = 0):
        super().__init__(tokenizer=tokenizer, batch_size=batch_size, num_workers=num_workers, seed=seed)
        check_int("--data.max_length", max_length, 32, "tokens of an example: room for a context and its pairs")
        check_held_out(val_fraction, test_fraction)
        self.sources = [source] if isinstance(source, str) else list(source)
        if not self.sources:
            raise ZooError("--data.source is an empty list; name at least one source, e.g. tinyworld:general")
        for each in self.sources:
            world_config(each, world)
        self.max_length, self.world = max_length, dict(world or {})
        self.val_fraction, self.test_fraction, self.split_seed = val_fraction, test_fraction, split_seed
        self.splits: dict[str, _Sequences] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        by_split: dict[str, list[Row]] = {"train": [], "val": [], "test": []}
        for example in (example for source in self.sources for example in synthesizer_examples(source, self.world)):
            pairs = [QAPair(p["question"], p["answer"]) for p in example["pairs"]]
            row = example_row(self.tokenizer, example["context"], pairs, self.max_length)
            if row is not None:
                split = split_of(example["id"], self.val_fraction, self.test_fraction, self.split_seed)
                by_split[split].append(row)
        for name, rows in by_split.items():
            random.Random(f"synthesizer-data:{self.seed}:{name}").shuffle(rows)
            self.splits[name] = _Sequences(pack_examples(rows, self.max_length))
        if not len(self.splits["train"]):
            raise ZooError(f"{', '.join(self.sources)}: no training example fits --data.max_length={self.max_length}")

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


class _Sequences(Dataset):
    """Packed ``(ids, labels)`` sequences of one split."""

    def __init__(self, rows: list[Row]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Row:
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
