"""AdaMLLM's visual task data: the synthesizer's output format and parsing, the consistency judge's prompt,
kept tasks as rationale-then-answer, and the rule-based task generator (the baseline).

Upstream (bigai-ai/QA-Synthesizer) fine-tunes an MLLM on seed conversations whose first turn asks
"Describe the image." (answered by the caption) and whose later turns each ask a question with a hint:
"Answer with a precise response." or "Answer with an informative response.". Given a new image and
its caption turn, the synthesizer continues with such turns; the first question it asked under both
hints makes a (question, precise, informative) triplet: one task per image at most (``parse_triplet``).
A text-only LM judge, few-shot, says whether the precise answer follows from the informative one
("Yes", "No" or "Open"); only "Yes" is kept (``judge_prompt``, ``judge_label``). A kept task answers with
the informative answer as a rationale and then the precise answer (``rationale_answer``).

Nothing here loads a model: the synthesizer and the judge are given (``zoo.modules.visual_synthesizer``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from datamodules.checks import check_int
from datamodules.tinyworld.pictures import VALUES, Picture, PictureWorldConfig, picture_world, seed_tasks

CAPTION_INSTRUCTION = "Describe the image."
PRECISE_HINT = "Answer with a precise response."
INFORMATIVE_HINT = "Answer with an informative response."
#: Forward rationale-then-answer templates of kept tasks (from upstream's FLAN-style ``qa_w_cot`` pool).
RATIONALE_TEMPLATES = ("{rationale} So the answer is {answer}.", "{rationale} The answer is {answer}.",
                       "Answer: {rationale} So the answer is {answer}.", "{rationale} Therefore, {answer}.")
#: What the judge may say; only ``yes`` keeps a task (upstream ``cook_classified_entry``).
JUDGE_LABELS = ("yes", "no", "open")


@dataclass(frozen=True)
class Turn:
    """One question and its answer."""

    question: str
    answer: str


@dataclass(frozen=True)
class Triplet:
    """A synthesized task: a question with its precise and its informative answer."""

    question: str
    precise: str
    informative: str


class TaskSource:
    """Writes tasks (question turns) for pictures; ``identity()`` names what it writes (a cache key)."""

    def tasks(self, pictures: Sequence[Picture], size: int) -> dict[str, list[Turn]]:
        """Per picture id, its task turns (a picture without tasks may be left out)."""
        raise NotImplementedError

    def identity(self) -> str:
        """What decides the tasks written (settings, model identities)."""
        raise NotImplementedError


def turn_prompt(question: str) -> str:
    """A turn's text up to where the answer starts (a generation prompt ends here)."""
    return f"User: {question}\nAssistant:"


def synthesis_prompt(caption: str) -> str:
    """What the synthesizer continues: the caption turn, then an open user turn (upstream appends the user
    role with no message, so the model writes the hint and the question itself)."""
    return f"{turn_prompt(CAPTION_INSTRUCTION)} {caption}\nUser:"


def parse_triplet(completion: str) -> Triplet | None:
    """The first question the synthesizer asked under both hints, with its two answers (None if none).

    ``completion`` continues :func:`synthesis_prompt`: turns ``" {hint}\\n{question}\\nAssistant: {answer}"``
    separated by ``"\\nUser:"``. A turn without the assistant part (cut by the length limit), an unknown
    hint or an empty question or answer is skipped, as upstream's ``parse_pred`` drops malformed rounds.
    """
    answers: dict[str, dict[str, str]] = {}
    order: list[str] = []
    for chunk in completion.split("\nUser:"):
        asked, marker, answer = chunk.partition("\nAssistant:")
        hint, _, question = asked.strip().partition("\n")
        question, answer = question.strip(), answer.strip()
        if not marker or not question or not answer or hint not in (PRECISE_HINT, INFORMATIVE_HINT):
            continue
        kind = "precise" if hint == PRECISE_HINT else "informative"
        if question not in answers:
            answers[question], _ = {}, order.append(question)
        answers[question].setdefault(kind, answer)
        if len(answers[question]) == 2:
            return Triplet(question, answers[question]["precise"], answers[question]["informative"])
    return None


def rationale_answer(key: str, rationale: str, answer: str) -> str:
    """A kept task's response: the informative answer as the rationale, then the precise answer, in a
    template drawn by the task's key (upstream draws one of its pool by the task's id)."""
    template = random.Random(key).choice(RATIONALE_TEMPLATES)
    return template.format(rationale=rationale.rstrip(". "), answer=answer.rstrip(". "))


# ---------------------------------------------------------------------------------------------- the judge
#: The judge's instruction (upstream's consistency_filter_prompt.txt, in its words).
JUDGE_HEADER = (
    "I have an image-related question for which I have received two answers: one is informative, and the other "
    "is precise. Please help me assess whether the precise answer is consistent with the informative answer.\n"
    "- Yes: Consistent, meaning the precise answer can be inferred from the informative answer.\n"
    "- No: Inconsistent, meaning the precise answer cannot be inferred from the informative answer.\n"
    "- Open: Indicates that the question invites multiple interpretations or requires image description, "
    "captions, or background knowledge.\n\n")
#: Six labelled examples (upstream: six, labelled No, Open, Yes, Yes, No, Open), about the general world.
JUDGE_SHOTS = (
    Triplet("What colour are the blocks?", "green", "The blocks in the picture are blue, which stands out."),
    Triplet("What is happening in this picture?", "blocks",
            "Several blocks rest on a white surface, perhaps left there after a game."),
    Triplet("How many blocks are there?", "three", "Counting them one by one gives three blocks in the picture."),
    Triplet("Are the blocks striped?", "yes", "Yes. Looking closely, the surface of the blocks is striped."),
    Triplet("Where are the blocks?", "left", "The blocks are grouped at the bottom of the picture."),
    Triplet("Why would someone arrange the blocks like this?", "to play",
            "It may be a game, a lesson or simply a tidy shelf."),
)
JUDGE_SHOT_LABELS = ("No", "Open", "Yes", "Yes", "No", "Open")


def judge_example(triplet: Triplet, label: str | None = None) -> str:
    """One judged triplet in the prompt's format; without a label it ends where the judge answers."""
    text = (f"## Question: {triplet.question}\n## Informative Answer: {triplet.informative}\n"
            f"## Precise Answer: {triplet.precise}\n## Consistent:")
    return f"{text} {label}" if label else text


def judge_prompt(triplet: Triplet, shots: int = 6) -> str:
    """The judge's prompt for a triplet: the instruction, ``shots`` labelled examples, then the triplet."""
    examples = [judge_example(t, label) for t, label in zip(JUDGE_SHOTS[:shots], JUDGE_SHOT_LABELS)]
    return JUDGE_HEADER + "".join(example + "\n\n" for example in examples) + judge_example(triplet)


def judge_label(output: str) -> str:
    """The judge's verdict from its (greedy, two-token) output: its first word, lower case; anything
    other than yes / no / open counts as ``no`` (only ``yes`` keeps a task)."""
    words = output.strip().lower().split()
    word = words[0].strip(".,:;!") if words else ""
    return word if word in JUDGE_LABELS else "no"


def judge_training_texts(config: PictureWorldConfig, shots: int = 0) -> list[str]:
    """Texts that teach a small LM to judge: per seed task of the world's training pictures, the task as it
    is (``Yes``) and with its precise answer swapped for another value of what it asks about (``No``);
    each is the full judge prompt with ``shots`` examples and the label, as the judge will be prompted.

    Args:
        config: The picture world whose seed tasks are judged (the synthesizer's own seed world).
        shots: Labelled examples in each prompt (as the filter that uses the judge will prompt it).
    """
    texts = []
    for picture in picture_world(config):
        if picture.split != "train":
            continue
        rng = random.Random(f"judge:{picture.id}")
        for task in seed_tasks(picture):
            right = Triplet(task.question, task.precise, task.informative)
            values = ["yes", "no"] if task.precise in ("yes", "no") else next(
                (list(v) for v in VALUES.values() if task.precise in v), [picture.entity])
            others = [v for v in values if v != task.precise] or [f"not {task.precise}"]
            wrong = Triplet(task.question, rng.choice(others), task.informative)
            texts += [f"{judge_prompt(right, shots)} Yes", f"{judge_prompt(wrong, shots)} No"]
    return texts


# ---------------------------------------------------------------------------------------------- rules
class RuleTasks(TaskSource):
    """The rule baseline: tasks made by templates over the caption text alone (no model, no parse of what
    the caption says): describe the image; complete a cut caption; fill a blanked caption word; say whether
    a caption (its own, or another picture's) fits the image.

    Args:
        per_picture: Tasks per picture (drawn from the four templates, seeded by the picture).
    """

    def __init__(self, per_picture: int = 1):
        check_int("per_picture", per_picture, 1, "rule tasks per picture")
        self.per_picture = per_picture

    def identity(self) -> str:
        return f"rules-v1-{self.per_picture}"

    def tasks(self, pictures: Sequence[Picture], size: int) -> dict[str, list[Turn]]:
        """Per picture, ``per_picture`` rule tasks."""
        captions = [p.caption for p in pictures]
        written = {}
        for picture in pictures:
            rng = random.Random(f"rules:{picture.id}")
            words = picture.caption.rstrip(".").split()
            turns = []
            for kind in rng.sample(range(4), min(self.per_picture, 4)):
                if kind == 0:
                    turns.append(Turn("What does this image show? Describe it.", picture.caption))
                elif kind == 1:
                    cut = rng.randrange(2, len(words) - 1)
                    turns.append(Turn(f"Complete the description of the image: {' '.join(words[:cut])} ...",
                                      " ".join(words[cut:]) + "."))
                elif kind == 2:
                    blank = rng.randrange(len(words))
                    word = words[blank].strip(",:;")
                    text = " ".join(w.replace(word, "___", 1) if i == blank else w for i, w in enumerate(words))
                    turns.append(Turn(f"Fill in the blank for this image: {text}", word))
                else:
                    fits = rng.random() < 0.5
                    caption = picture.caption if fits else rng.choice([c for c in captions if c != picture.caption])
                    turns.append(Turn(f"Does this description fit the image? {caption}", "yes" if fits else "no"))
            written[picture.id] = turns
        return written


class SeedTasks(TaskSource):
    """Pictures' own seed tasks: the general visual-instruction data of the base MLLM (the stand-in for the
    general MLLMs that AdaMLLM post-trains, themselves instruction-tuned on general images).

    Args:
        answers: ``precise`` (short answers, as VQA data in LLaVA's mix) or ``rationale`` (the informative
            answer, then the precise one).
        per_picture: Seed tasks per picture.
    """

    def __init__(self, answers: str = "precise", per_picture: int = 3):
        if answers not in ("precise", "rationale"):
            raise ValueError(f"answers={answers!r}: use precise or rationale")
        check_int("per_picture", per_picture, 1, "seed tasks per picture")
        self.answers, self.per_picture = answers, per_picture

    def identity(self) -> str:
        return f"seed-v1-{self.answers}-{self.per_picture}"

    def tasks(self, pictures: Sequence[Picture], size: int) -> dict[str, list[Turn]]:
        def answer(key: str, task) -> str:
            return task.precise if self.answers == "precise" else rationale_answer(key, task.informative, task.precise)

        return {p.id: [Turn(t.question, answer(f"{p.id}:{n}", t)) for n, t in enumerate(seed_tasks(p, self.per_picture))]
                for p in pictures}
