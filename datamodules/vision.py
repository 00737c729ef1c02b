"""Image-text data: conversations about images for vision-LMs, and visual questions to evaluate them.

A *conversation* is an image and turns of (question, answer); it becomes the image (a tensor through
timm's transforms for the encoder) and the text ``User: {question}\\nAssistant: {answer}\\n`` per turn,
after the tokenizer's bos and before its eos. The loss is on the answers only (post-training), or on
every turn after the first (the visual instruction synthesizer, which learns to write the questions
too; upstream masks only the caption round). AdaMLLM's data (Cheng et al., "On Domain-Specific
Post-Training for Multimodal Large Language Models") is built here:

- ``single-stage``: one conversation per image, the caption turn first or last at random, with the
  image's tasks (upstream ``process_entry``);
- ``two-stage``: every caption conversation, then every task conversation (one run, in that order);
- ``captions``: the caption conversations only;
- ``synthesizer``: the synthesizer's seed data, the caption turn then each seed question asked with the
  precise hint and with the informative hint, shuffled; 10 % of the images blanked (upstream).

Tasks come from a ``TaskSource`` (``datamodules.transforms.visual_instruction_synthesis``): the rule generator
(``RuleTasks``, templates over the caption), the seed tasks (``SeedTasks``), or a trained synthesizer with its
consistency filter (``zoo.modules.visual_synthesizer.SynthesizedTasks``: the data layer never loads a model).

Image sources: ``tinyworld:<food|biomed|general>`` (drawn pictures), ``zoo-data:vqa_rad``,
``zoo-data:food101_mini`` and any folder of ``<class>/*.jpg`` images (classes as dishes). Every image is
decoded once, at setup: an unreadable or truncated file is one error naming it before training starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Sampler

from datamodules.base import IGNORE_INDEX, ZooDataModule, split_of
from datamodules.instruction import collate_labelled
from datamodules.checks import check_int, check_number
from datamodules.transforms.visual_instruction_synthesis import (
    CAPTION_INSTRUCTION, INFORMATIVE_HINT, PRECISE_HINT, TaskSource, Turn, turn_prompt,
)
from datamodules.tinyworld.pictures import (
    PICTURE_DOMAINS, Picture, PictureWorldConfig, VisualQuestion, draw, picture_world, seed_tasks, visual_questions, world_fingerprint,
)
from zoo.errors import ZooError
from zoo.hashing import fingerprint

SCHEDULES = ("single-stage", "two-stage", "captions", "synthesizer")
#: Upstream blanks this share of the synthesizer's seed images (``replace_with_blank_image_percent``).
BLANK_SHARE = 0.10


@dataclass(frozen=True)
class Conversation:
    """Turns about one image; ``loss`` is ``responses`` (answers only) or ``after-first`` (every token
    after the first turn: the synthesizer learns to write questions)."""

    image: str
    turns: tuple[Turn, ...]
    loss: str = "responses"


def encode_conversation(tokenizer, conversation: Conversation, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels of a conversation (``IGNORE_INDEX`` where no loss), cut to ``max_length``.

    Each piece is tokenized on its own, as a generation prompt is, so training and inference see the same ids.
    """
    ids, labels = [tokenizer.bos_token_id], [IGNORE_INDEX]
    for number, turn in enumerate(conversation.turns):
        prompt = tokenizer.encode(turn_prompt(turn.question), add_special_tokens=False)
        answer = tokenizer.encode(f" {turn.answer}\n", add_special_tokens=False)
        learn_prompt = conversation.loss == "after-first" and number > 0
        learn_answer = conversation.loss == "responses" or number > 0
        ids += prompt + answer
        labels += (prompt if learn_prompt else [IGNORE_INDEX] * len(prompt)) + (answer if learn_answer
                                                                                 else [IGNORE_INDEX] * len(answer))
    ids.append(tokenizer.eos_token_id)
    labels.append(tokenizer.eos_token_id)
    return ids[:max_length], labels[:max_length]


# ---------------------------------------------------------------------------------------------- images
def open_image(path: Path) -> Image.Image:
    """An image file as RGB, fully decoded; an unreadable or truncated file is one ``ZooError``."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise ZooError(f"{path}: not a readable image ({type(error).__name__}: {str(error)[:120]}); "
                       "replace or remove the file") from None


def image_transform(image_size: int, data_config: dict[str, Any] | None = None):
    """timm's evaluation transform for an encoder at ``image_size`` (resize, centre crop, normalise).

    Args:
        image_size: Side the encoder takes.
        data_config: timm data-config overrides (``mean``, ``std``, ``interpolation``, ``crop_pct``).
    """
    from timm.data import create_transform, resolve_data_config

    config = resolve_data_config({"input_size": (3, image_size, image_size), "crop_pct": 1.0, "mean": (0.5,) * 3,
                                  "std": (0.5,) * 3, **(data_config or {})})
    return create_transform(**config, is_training=False)


def blank_like(picture: Picture, size: int) -> Image.Image:
    """The picture's background alone (upstream's blank image)."""
    return Image.new("RGB", (size, size), PICTURE_DOMAINS[picture.domain].background)


def _data_dir(name: str) -> Path:
    root = os.environ.get("ZOO_DATA_DIR")
    if not root:
        raise ZooError(f"zoo-data:{name} needs ZOO_DATA_DIR (the folder of real sets); set it, e.g. "
                       "export ZOO_DATA_DIR=../shared/data")
    folder = Path(root) / name
    if not folder.is_dir():
        raise ZooError(f"{folder}: not found; ZOO_DATA_DIR must hold {name}/ (see its SOURCES.md)")
    return folder


def _class_folder(folder: Path, test_fraction: float, split: str) -> tuple[list[VisualQuestion], dict[str, Path]]:
    """A ``<class>/*.jpg`` folder as "which dish" questions, split by image (no test image is trained on)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file())
    if not files:
        raise ZooError(f"{folder}: no .jpg/.png images in <class>/ subfolders; point the source at such a folder")
    questions, paths = [], {}
    for path in files:
        key = path.relative_to(folder).as_posix()
        if split != "all" and split_of(key, 0.0, test_fraction) != ("test" if split == "test" else "train"):
            continue
        dish = path.parent.name.replace("_", " ")
        paths[key] = path
        questions.append(VisualQuestion(f"{key}-name", key, "Which dish is shown in this image?", dish, "OPEN", "name"))
    return questions, paths


def real_questions(source: str, split: str = "test", test_fraction: float = 0.3
                   ) -> tuple[list[VisualQuestion], dict[str, Path]]:
    """The visual questions of a real source and the image file each names.

    Args:
        source: ``zoo-data:vqa_rad`` (trainset.json / testset.json), ``zoo-data:food101_mini`` or a folder of
            ``<class>/*.jpg`` images.
        split: ``train``, ``test`` or ``all`` (a class folder is split by a hash of each image's path).
        test_fraction: Share of a class folder's images held out for test.
    """
    if source == "zoo-data:vqa_rad":
        folder = _data_dir("vqa_rad")
        name = "trainset.json" if split == "train" else "testset.json"
        try:
            rows = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ZooError(f"{folder / name}: cannot read VQA-RAD ({type(error).__name__}); restore the file") from None
        questions = [VisualQuestion(f"vqa_rad-{split}-{i:05d}", row["image_name"], row["question"],
                                    str(row["answer"]).strip(), str(row["answer_type"]).strip().upper(),
                                    str(row.get("question_type", "")))
                     for i, row in enumerate(rows)]
        return questions, {q.image: folder / "images" / q.image for q in questions}
    if source == "zoo-data:food101_mini":
        return _class_folder(_data_dir("food101_mini") / "images", test_fraction, split)
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise ZooError(f"image source {source!r}: not tinyworld:<domain>, zoo-data:vqa_rad, zoo-data:food101_mini "
                       "or a folder of <class>/*.jpg images")
    return _class_folder(folder, test_fraction, split)


def image_questions(images: Sequence[str | Path], questions: Sequence[str]) -> list[tuple[Path, str]]:
    """Each question with the image file it asks about: one image for every question, or one per question.

    Raises:
        ZooError: for other counts (or questions without images, or images without questions).
    """
    if not questions or len(images) not in (1, len(questions)):
        raise ZooError(f"{len(images)} images for {len(questions)} questions; pass one image, or one per question")
    paths = [Path(image).expanduser() for image in images]
    return list(zip(paths * len(questions) if len(paths) == 1 else paths, questions))


def picture_config(source: str, world: dict | None) -> PictureWorldConfig:
    """The picture world of a ``tinyworld:<domain>`` source with ``world``'s fields."""
    try:
        return PictureWorldConfig(domain=source.removeprefix("tinyworld:"), **(world or {}))
    except (ValueError, TypeError) as error:
        raise ZooError(f"picture source '{source}': {error}") from None


def evaluation_set(source: str, world: dict | None = None, split: str = "test", image_size: int = 48
                   ) -> tuple[list[VisualQuestion], dict[str, Image.Image]]:
    """Visual questions and their images (decoded), for a tinyworld picture world or a real source."""
    if source.startswith("tinyworld:"):
        config = picture_config(source, world)
        pictures = {p.id: p for p in picture_world(config)}
        questions = visual_questions(config)
        return questions, {key: draw(pictures[key], image_size) for key in {q.image for q in questions}}
    questions, paths = real_questions(source, split)
    return questions, {key: open_image(path) for key, path in paths.items()}


# ---------------------------------------------------------------------------------------------- tasks
def caption_turn(picture: Picture) -> Turn:
    return Turn(CAPTION_INSTRUCTION, picture.caption)


def post_training_conversations(pictures: Sequence[Picture], tasks: dict[str, list[Turn]], schedule: str,
                                seed: int) -> list[Conversation]:
    """Post-training conversations of ``pictures`` in training order (before shuffling within a stage).

    ``single-stage``: per picture, the caption turn first or last (seeded by the picture) with its tasks;
    ``two-stage``: the caption conversations, then the task conversations; ``captions``: captions only.
    """
    if schedule == "captions":
        return [Conversation(p.id, (caption_turn(p),)) for p in pictures]
    if schedule == "two-stage":
        captions = [Conversation(p.id, (caption_turn(p),)) for p in pictures]
        return captions + [Conversation(p.id, tuple(tasks[p.id])) for p in pictures if tasks.get(p.id)]
    conversations = []
    for picture in pictures:
        own = list(tasks.get(picture.id, []))
        first = random.Random(f"{seed}:place:{picture.id}").random() < 0.5
        turns = [caption_turn(picture), *own] if first else [*own, caption_turn(picture)]
        conversations.append(Conversation(picture.id, tuple(turns)))
    return conversations


def synthesizer_conversations(pictures: Sequence[Picture]) -> list[Conversation]:
    """The synthesizer's seed conversations: the caption turn (no loss), then every seed question twice,
    with the precise and with the informative hint, in a seeded shuffle (upstream ``load_syn_data``)."""
    conversations = []
    for picture in pictures:
        turns = []
        for task in seed_tasks(picture):
            turns += [Turn(f"{PRECISE_HINT}\n{task.question}", task.precise),
                      Turn(f"{INFORMATIVE_HINT}\n{task.question}", task.informative)]
        random.Random(picture.id).shuffle(turns)
        conversations.append(Conversation(picture.id, (caption_turn(picture), *turns), loss="after-first"))
    return conversations


# ---------------------------------------------------------------------------------------------- datasets
def collate_conversations(pad_token_id: int):
    """Stack images and right-pad ``(ids, labels)`` (``datamodules.instruction.collate_labelled``) into
    ``pixel_values``, ``input_ids``, ``attention_mask``, ``labels``."""
    collate_text = collate_labelled(pad_token_id)

    def collate(rows: list) -> dict[str, torch.Tensor]:
        return {"pixel_values": torch.stack([pixels for pixels, _, _ in rows]),
                **collate_text([(ids, labels) for _, ids, labels in rows])}

    return collate


class StagedSampler(Sampler[int]):
    """Passes over each stage in turn, shuffled within the stage by a seeded stream; it starts past the
    batches a resumed fit already trained on.

    Args:
        stages: Per stage, the indices of its conversations.
        passes: Passes over each stage.
        seed: Shuffle seed.
        skip: Items to skip at the start (``ZooDataModule._resume_batch`` x batch size).
    """

    def __init__(self, stages: Sequence[Sequence[int]], passes: int, seed: int, skip=lambda: 0):
        self.stages, self.passes, self.seed, self.skip = [list(s) for s in stages], passes, seed, skip

    def order(self) -> list[int]:
        rng = random.Random(self.seed)
        order = []
        for stage in self.stages:
            for _ in range(self.passes):
                indices = list(stage)
                rng.shuffle(indices)
                order += indices
        return order

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.skip():])

    def __len__(self) -> int:
        return sum(len(stage) for stage in self.stages) * self.passes


class ImageTextDataModule(ZooDataModule):
    """Conversations about images for a vision-LM (AdaMLLM's post-training and its synthesizer), and the
    held-out visual questions as the test set.

    Args:
        source: ``tinyworld:<food|biomed|general>`` (drawn pictures; the synthesizer trains on ``general``).
        world: ``PictureWorldConfig`` fields (``n_entities``, ``train_pictures``, ``seed``...).
        schedule: ``single-stage``, ``two-stage``, ``captions`` or ``synthesizer`` (see the module doc).
        tasks: Where the pictures' tasks come from (``RuleTasks``, ``SynthesizedTasks``); None: no tasks.
        passes: Passes over the data (per stage): one epoch of the fit is all of them, in order.
        image_size: Side the encoder takes (timm's transform resizes to it).
        data_config: timm data-config overrides (``mean``, ``std``...).
        max_length: Longest conversation in tokens.
        val_fraction: Share of the training pictures held out for validation.
        images: ``zoo predict``: image files to ask about (one, or one per question); unset: the held-out pictures.
        questions: ``zoo predict``: the questions about ``images``.
        tokenizer: The LM's tokenizer.
        batch_size: Conversations per step.
        num_workers: DataLoader worker processes.
        seed: Seed of the caption placement, the blanked images and the order.
    """

    def __init__(self, source: str = "tinyworld:food", world: dict | None = None, schedule: str = "single-stage",
                 tasks: TaskSource | None = None, passes: int = 1, image_size: int = 48,
                 data_config: dict | None = None, max_length: int = 256, val_fraction: float = 0.05,
                 images: list[str] | None = None, questions: list[str] | None = None,
                 tokenizer: str = "tinyworld", batch_size: int = 16, num_workers: int = 0, seed: int = 0):
        super().__init__(tokenizer=tokenizer, batch_size=batch_size, num_workers=num_workers, seed=seed)
        if schedule not in SCHEDULES:
            raise ZooError(f"--data.schedule={schedule!r}; use one of {', '.join(SCHEDULES)}")
        if not source.startswith("tinyworld:"):
            raise ZooError(f"--data.source={source!r}: post-training reads a tinyworld picture world "
                           "(tinyworld:food, tinyworld:biomed, tinyworld:general); real sets are test suites")
        check_int("--data.passes", passes, 1, "passes over the training conversations")
        check_int("--data.image_size", image_size, 16, "pixels per image side")
        check_int("--data.max_length", max_length, 16, "tokens per conversation")
        check_number("--data.val_fraction", val_fraction, "share of pictures held out for validation", high=0.5)
        self.ask = image_questions(images or [], questions or []) if images or questions else []
        self.source, self.schedule, self.task_source, self.passes = source, schedule, tasks, passes
        self.config = picture_config(source, world)
        self.image_size, self.data_config, self.max_length, self.val_fraction = image_size, data_config, max_length, val_fraction
        self.splits: dict[str, list[Conversation]] = {}
        self.questions: list[VisualQuestion] = []
        self.images: dict[str, torch.Tensor] = {}
        #: What the model trains on (the world, the schedule, the tasks' source) and what the tasks were: the card's.
        self.fingerprint: str | None = None
        self.report: dict | None = None

    def pictures(self, split: str) -> list[Picture]:
        """The world's pictures of a split: ``train`` / ``val`` (the training pictures, split by id) or ``test``."""
        if split == "test":
            return [p for p in picture_world(self.config) if p.split == "test"]
        return [p for p in picture_world(self.config)
                if p.split == "train" and split_of(p.id, self.val_fraction, 0.0) == split]

    def setup(self, stage: str | None = None) -> None:
        if self.splits or (stage == "predict" and self.ask):
            return
        transform = image_transform(self.image_size, self.data_config)
        written = {}
        if self.task_source is not None and self.schedule != "synthesizer":
            written = self.task_source.tasks(self.pictures("train") + self.pictures("val"), self.image_size)
        for split in ("train", "val"):
            pictures = self.pictures(split)
            if self.schedule == "synthesizer":
                self.splits[split] = synthesizer_conversations(pictures)
            else:
                self.splits[split] = post_training_conversations(pictures, written, self.schedule, self.seed)
        blanked = {c.image for c in self.splits["train"] if self.schedule == "synthesizer"
                   and random.Random(f"{self.seed}:blank:{c.image}").random() < BLANK_SHARE}
        pictures = {p.id: p for p in picture_world(self.config)}
        self.questions = visual_questions(self.config)
        keys = {c.image for convs in self.splits.values() for c in convs} | {q.image for q in self.questions}
        self.images = {key: transform(blank_like(pictures[key], self.image_size) if key in blanked
                                      else draw(pictures[key], self.image_size)) for key in sorted(keys)}
        tasks = self.task_source.identity() if self.task_source is not None else None
        self.fingerprint = fingerprint(world_fingerprint(self.config), self.schedule, tasks, self.passes,
                                       self.tokenizer.backend_tokenizer.to_str(), self.max_length)
        self.report = {"source": self.source, "schedule": self.schedule, "tasks": tasks, "pictures": len(self.pictures("train")),
                       "conversations": len(self.splits["train"]),
                       "pictures_with_tasks": sum(bool(turns) for turns in written.values()),
                       **({"synthesis": self.task_source.report} if getattr(self.task_source, "report", None) else {})}

    def stages(self) -> list[list[int]]:
        """Indices of the training conversations per stage (two stages: captions, then tasks)."""
        conversations = len(self.splits["train"])
        if self.schedule != "two-stage":
            return [list(range(conversations))]
        # post_training_conversations puts one caption conversation per picture first, then the task ones.
        captions = len(self.pictures("train"))
        return [list(range(captions)), list(range(captions, conversations))]

    def _rows(self, split: str) -> list[tuple[torch.Tensor, list[int], list[int]]]:
        """A split's conversations as (image, ids, labels) rows: a list is the DataLoader's dataset."""
        return [(self.images[c.image], *encode_conversation(self.tokenizer, c, self.max_length))
                for c in self.splits[split]]

    def training_texts(self) -> Iterator[str]:
        self.setup()
        for conversation in self.splits["train"]:
            yield "\n".join(f"{turn_prompt(t.question)} {t.answer}" for t in conversation.turns)

    def train_dataloader(self) -> DataLoader:
        sampler = StagedSampler(self.stages(), self.passes, self.seed,
                                skip=lambda: self._resume_batch() * self.batch_size)
        return DataLoader(self._rows("train"), batch_size=self.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.num_workers, collate_fn=collate_conversations(self.tokenizer.pad_token_id))

    def val_dataloader(self) -> DataLoader:
        return self.eval_loader(self._rows("val"), collate_conversations(self.tokenizer.pad_token_id))

    def predict_dataloader(self) -> DataLoader:
        """``zoo predict``: the questions about the given image files (each decoded here: a bad file is one
        error naming it), else the held-out visual questions."""
        if not self.ask:
            return self.test_dataloader()
        transform = image_transform(self.image_size, self.data_config)
        items = [{"pixel_values": transform(open_image(path)),
                  "question": VisualQuestion(f"ask-{n:04d}", str(path), question, "", "OPEN")}
                 for n, (path, question) in enumerate(self.ask)]
        return self.eval_loader(items, collate_questions)

    def test_dataloader(self) -> DataLoader:
        """The held-out visual questions: batches of ``{"pixel_values", "questions"}`` items."""
        items = [{"pixel_values": self.images[q.image], "question": q} for q in self.questions]
        return self.eval_loader(items, collate_questions)


def collate_questions(items: list[dict]) -> dict[str, Any]:
    """A batch of visual questions: stacked images and the questions as plain dicts (``VisualQuestion`` fields;
    Lightning moves batches with ``apply_to_collection``, which refuses frozen dataclasses)."""
    return {"pixel_values": torch.stack([item["pixel_values"] for item in items]),
            "questions": [dataclasses.asdict(item["question"]) for item in items]}


def picture_digest(pictures: Sequence[Picture], size: int) -> str:
    """sha256 over pictures' records and size (what a synthesis of them depends on)."""
    payload = json.dumps([[p.id, p.caption, size] for p in pictures]).encode()
    return hashlib.sha256(payload).hexdigest()[:20]


# ---------------------------------------------------------------------------------------------- scoring
#: Phrases after which a response states its final answer (a rationale comes before them).
ANSWER_MARKERS = ("the answer is:", "the answer is", "therefore,", "answer:")


def normalise(text: str) -> str:
    """Lower case, punctuation and articles out, single spaces (VQA's answer normalisation)."""
    kept = "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower())
    return " ".join(word for word in kept.split() if word not in ("a", "an", "the"))


def final_answer(response: str) -> str:
    """The answer a response gives: what follows its last answer marker ("So the answer is red."), else
    the whole response; normalised."""
    low = response.lower()
    for marker in ANSWER_MARKERS:
        at = low.rfind(marker)
        if at >= 0:
            return normalise(response[at + len(marker):])
    return normalise(response)


def vqa_scores(questions: Sequence[VisualQuestion], responses: Sequence[str]) -> dict[str, float]:
    """VQA-RAD's measures on the final answers: ``closed_acc`` (the first word is the gold yes/no),
    ``open_exact`` (equal to the gold answer) and ``open_recall`` (share of the gold answer's words
    in it), and ``acc``, the share of all questions answered right (closed by accuracy, open by exact
    match); a measure whose questions are absent is left out."""
    closed, exact, recall = [], [], []
    for question, response in zip(questions, responses, strict=True):
        answer, gold = final_answer(response), normalise(question.answer)
        if question.answer_type == "CLOSED":
            closed.append(float(answer.split()[:1] == gold.split()[:1]))
        else:
            exact.append(float(answer == gold))
            words = gold.split()
            recall.append(sum(word in answer.split() for word in words) / max(1, len(words)))
    scores = {"acc": closed + exact, "closed_acc": closed, "open_exact": exact, "open_recall": recall}
    return {name: sum(values) / len(values) for name, values in scores.items() if values}


def attribute_labels(config: PictureWorldConfig, image_size: int, data_config: dict | None = None
                     ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A picture world's training pictures (transformed) and, per visible attribute, each one's value index:
    the supervised data that pretrains a vision encoder (``zoo.nets.pretrain_encoder``)."""
    from datamodules.tinyworld.pictures import VALUES

    transform = image_transform(image_size, data_config)
    pictures = [p for p in picture_world(config) if p.split == "train"]
    images = torch.stack([transform(draw(p, image_size)) for p in pictures])
    return images, {attribute: torch.tensor([values.index(p.value(attribute)) for p in pictures])
                    for attribute, values in VALUES.items()}
