"""Prompt rendering of the real zero-shot tasks that a Jinja template in the YAML cannot express.

The records are llm-foundry's (see ``loaders.py``), whichever the source; these functions render
them the way lm-eval's own task renders the same upstream example, so that scores compare with
published lm-eval numbers.
"""

from __future__ import annotations

import re

#: llm-foundry joins COPA's premise and connector with a comma; lm-eval's copa has none.
_COPA_CONNECTOR = re.compile(r", (because|therefore)$")

#: llm-foundry's SIQA query: context, question, then the options as lettered lines.
_SIQA_QUERY = re.compile(
    r"Context: (?P<context>.*?)\nQuestion: (?P<question>.*?)\nChoices:\n(?P<options>.*)\nAnswer:", re.S
)


def copa_text(doc: dict) -> str:
    """COPA as lm-eval: ``"<premise without its period> because|therefore"``.

    Args:
        doc: A multiple-choice record.
    """
    return _COPA_CONNECTOR.sub(r" \1", doc["query"])


def boolq_text(doc: dict) -> str:
    """BoolQ as lm-eval: ``"<passage>\\nQuestion: <question>?\\nAnswer:"``.

    Args:
        doc: A multiple-choice record.
    """
    return doc["query"].removeprefix("Passage: ") + "\nAnswer:"


def commonsense_qa_text(doc: dict) -> str:
    """CommonsenseQA as lm-eval: the question, the lettered options, ``"Answer:"``.

    lm-eval lists the options right under the question, without llm-foundry's ``"Choices:"`` line.

    Args:
        doc: A multiple-choice record.
    """
    return doc["query"].replace("\nChoices:\n", "\n", 1)


def _siqa_parts(doc: dict) -> tuple[str, str, list[str]]:
    """Context, question and option texts of a SIQA record."""
    match = _SIQA_QUERY.fullmatch(doc["query"])
    if match is None:
        raise ValueError(f"not a SIQA query (Context/Question/Choices/Answer): {doc['query']!r}")
    options = [line.split(". ", 1)[1] for line in match["options"].split("\n")]
    return match["context"], match["question"], options


def siqa_text(doc: dict) -> str:
    """SIQA as lm-eval's social_iqa: ``"Q: <context> <question>\\nA:"``.

    Args:
        doc: A multiple-choice record whose choices are option letters.
    """
    context, question, _ = _siqa_parts(doc)
    return f"Q: {context} {question}\nA:"


def siqa_choices(doc: dict) -> list[str]:
    """SIQA's options as answer texts (lm-eval scores the texts, not the letters).

    Args:
        doc: A multiple-choice record whose choices are option letters.
    """
    return _siqa_parts(doc)[2]
