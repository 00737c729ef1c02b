"""What AdaMLLM's visual instruction synthesizer writes for a domain's pictures, checked against the pictures.

    python -m benchmarks.studies.visual_tasks --domain food [--synthesizer visual-synth-tiny]
        [--judge visual-judge-tiny] [--limit N]

The AdaMLLM studies' arms train on the tasks ``SynthesizedTasks`` writes for the training pictures of
``adamllm-<domain>-tiny``'s world; this reads the same rows (from the same cache, or writing it) and checks every
triplet against the picture it was written for: which attribute its question asks (by the seed wordings, open or
closed), whether its precise answer is what the picture shows (its value; yes or no to a closed question; both
normalised as the ``vqa`` evaluator does), whether the judge kept it, and whether it speaks of the picture's own
item ("slices", "cells") rather than a seed world's. A synthesizer that copies from its caption gets every
answer right, names included; one that guesses gets the attribute priors and never a name.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence

import yaml

from datamodules.tinyworld.pictures import CLOSED_QUESTIONS, QUESTIONS, VALUES, Picture
from datamodules.vision import normalise, picture_config
from zoo.paths import PROJECT_ROOT


def _pattern(template: str) -> re.Pattern:
    """A seed wording as a pattern: the item or entity noun is any word, a value any words."""
    escaped = re.escape(template)
    for field, group in (("{item}", r"(?P<noun>\w+?)"), ("{entity}", r"(?P<noun>\w+)"), ("{value}", r"(?P<value>[\w ]+)")):
        escaped = escaped.replace(re.escape(field), group)
    return re.compile(f"^{escaped}$", re.IGNORECASE)


_OPEN = {attribute: _pattern(question) for attribute, question in QUESTIONS.items()}
_CLOSED = {attribute: _pattern(question) for attribute, question in CLOSED_QUESTIONS.items()}


def asked(question: str) -> tuple[str, str, str | None] | None:
    """What a question in a seed wording asks: ``(attribute, noun, value)``, the value of a closed question ("Are
    the pieces red?") or None for an open one; None for a question in no seed wording."""
    question = question.strip()
    for attribute, pattern in _OPEN.items():
        if match := pattern.match(question):
            return attribute, match["noun"].lower(), None
    for attribute, pattern in _CLOSED.items():
        # Colour, shape and texture share one closed wording: the value says which is asked.
        if (match := pattern.match(question)) and match["value"].lower() in VALUES[attribute]:
            return attribute, match["noun"].lower(), match["value"].lower()
    return None


def right_answer(picture: Picture, attribute: str, value: str | None) -> str:
    """The answer the picture gives: its value, or for a closed question ``yes`` / ``no``."""
    if value is None:
        return picture.value(attribute).lower()
    return "yes" if value == picture.value(attribute).lower() else "no"


def check(rows: Sequence[dict], pictures: Sequence[Picture]) -> dict[str, Counter]:
    """Per asked attribute (and ``all``): questions asked (open or closed), right precise answers, kept by the judge,
    kept and right, and questions using the picture's own noun; ``triplets`` counts every triplet and ``other
    wording`` those whose question is in no seed wording.

    Args:
        rows: ``SynthesizedTasks.rows`` (each with ``id``, ``triplet`` or None, ``verdict``).
        pictures: The pictures the rows were written for.
    """
    by_id = {picture.id: picture for picture in pictures}
    counts: dict[str, Counter] = {"all": Counter()}
    for row in rows:
        if not row["triplet"]:
            continue
        picture, triplet = by_id[row["id"]], row["triplet"]
        counts["all"]["triplets"] += 1
        question = asked(triplet["question"])
        if question is None:
            counts["all"]["other wording"] += 1
            continue
        attribute, noun, value = question
        right = normalise(triplet["precise"]) == normalise(right_answer(picture, attribute, value))
        kept = row["verdict"] == "yes"
        for count in (counts["all"], counts.setdefault(attribute, Counter())):
            count["asked"] += 1
            count["right"] += right
            count["kept"] += kept
            count["kept right"] += kept and right
            count["own noun"] += noun in (picture.item.lower(), picture.noun.lower())
    return counts


def render(domain: str, counts: dict[str, Counter], pictures: int) -> str:
    """The counts as a markdown table, one row per attribute and a total."""
    columns = ("asked", "right", "kept", "kept right", "own noun")
    lines = [f"{domain}: {pictures} training pictures, {counts['all']['triplets']} with a triplet "
             f"({counts['all']['other wording']} in no seed wording)", "",
             "| attribute | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for attribute in [*QUESTIONS, "all"]:
        if attribute in counts:
            lines.append(f"| {attribute} | " + " | ".join(str(counts[attribute][c]) for c in columns) + " |")
    return "\n".join(lines)


def arm_pictures(domain: str, limit: int | None) -> list[Picture]:
    """The training pictures of ``adamllm-<domain>-tiny``'s world (the first ``limit``)."""
    from datamodules.tinyworld.pictures import picture_world

    data = yaml.safe_load((PROJECT_ROOT / "configs" / "adamllm" / f"adamllm-{domain}-tiny.yaml").read_text())["data"]
    world = picture_config(data["init_args"]["source"], data["init_args"].get("world"))
    return [picture for picture in picture_world(world) if picture.split == "train"][:limit]


def main(argv: list[str] | None = None) -> None:
    from zoo.errors import ZooError
    from zoo.modules.visual_synthesizer import SynthesizedTasks

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", choices=("food", "biomed"), default="food")
    parser.add_argument("--synthesizer", default="visual-synth-tiny")
    parser.add_argument("--judge", default="visual-judge-tiny")
    parser.add_argument("--limit", type=int, default=0, help="pictures (0: every training picture, as the arms)")
    parser.add_argument("--size", type=int, default=48, help="image side the arms train at")
    args = parser.parse_args(argv)
    pictures = arm_pictures(args.domain, args.limit or None)
    try:
        rows = SynthesizedTasks(synthesizer=args.synthesizer, judge=args.judge).rows(pictures, args.size)
    except ZooError as error:
        parser.error(str(error))
    print(render(args.domain, check(rows, pictures), len(rows)))


if __name__ == "__main__":
    main()
