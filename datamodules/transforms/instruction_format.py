"""The instruction synthesizer's text format (Instruction Pre-Training, EMNLP 2024).

Cheng et al., "Instruction Pre-Training: Language Models are Supervised Multitask Learners";
see ``shared/specs/instruction_pretrain.md``. The synthesizer is a causal LM that reads a raw
text and writes question/answer pairs about it:

* prompt: ``" <CON> {text} </CON>\\n\\n"`` (:func:`render_context`);
* completion: ``"<QUE> {question} <ANS> {answer} </END>"`` per pair, joined by blank lines
  (:func:`render_pairs`); it is trained with the loss on the completion only
  (:func:`synthesizer_example`), and its greedy generations are read back with
  :func:`parse_pairs`.

Multi-round (few-shot) synthesis cuts the corpus into ``M`` contiguous slices
(:func:`round_slices`); in round ``r`` each text is prompted after the previous round's text at
the same index and the pairs synthesized for it (:func:`multi_round_prompts`), so the pairs of
later rounds follow the style of earlier ones and the instruction data gets longer contexts.

Pure Python (no torch), so the format is usable from data scripts and tests alike.

Deviations from upstream, on purpose: the duplicate-question rule also ignores runs of
whitespace and compares ``casefold``-ed text (upstream: ``lower()``); a chunk whose question or
answer holds a marker (two pairs that ran together without ``</END>``) is dropped rather than
read as one long pair; a previous round's item without pairs is not used as a demonstration
(it would teach the synthesizer to answer nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

CON, CON_END, QUE, ANS, END = "<CON>", "</CON>", "<QUE>", "<ANS>", "</END>"
#: Every marker of the format; none may appear inside a parsed question or answer.
MARKERS: tuple[str, ...] = (CON, CON_END, QUE, ANS, END)
#: What joins consecutive pairs in a completion (and a demonstration to the next prompt).
PAIR_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class QAPair:
    """One synthesized instruction-response pair.

    Attributes:
        question: The instruction (question), without markers.
        answer: The response (answer), without markers.
    """

    question: str
    answer: str


def as_pair(item: QAPair | Mapping | object) -> QAPair:
    """A :class:`QAPair` from a pair, a ``{"question", "answer", ...}`` mapping or any object with
    ``question`` and ``answer`` attributes (extra fields such as ``options`` are ignored).

    Args:
        item: The pair.
    """
    if isinstance(item, QAPair):
        return item
    if isinstance(item, Mapping):
        return QAPair(str(item["question"]), str(item["answer"]))
    return QAPair(str(item.question), str(item.answer))


def render_context(text: str) -> str:
    """The synthesizer's prompt for ``text``: ``" <CON> {text} </CON>\\n\\n"`` (the leading space
    is upstream's: it follows the ``<s>`` token there)."""
    return f" {CON} {text} {CON_END}\n\n"


def render_pairs(pairs: Iterable[QAPair | Mapping]) -> str:
    """The synthesizer's completion: ``"<QUE> {q} <ANS> {a} </END>"`` per pair, joined by blank lines.

    Args:
        pairs: :class:`QAPair` objects or ``{"question", "answer"}`` mappings.
    """
    return PAIR_SEPARATOR.join(f"{QUE} {p.question} {ANS} {p.answer} {END}" for p in map(as_pair, pairs))


def _question_key(question: str) -> str:
    """What makes two questions the same: case and runs of whitespace do not count."""
    return " ".join(question.split()).casefold()


def dedup_pairs(pairs: Iterable[QAPair | Mapping]) -> list[QAPair]:
    """The pairs without repeated questions, keeping the first of each (case-insensitive,
    whitespace runs collapsed: "What is X?" and "what  is x?" are one question).

    Args:
        pairs: :class:`QAPair` objects or ``{"question", "answer"}`` mappings, in order.
    """
    seen, kept = set(), []
    for pair in map(as_pair, pairs):
        key = _question_key(pair.question)
        if key not in seen:
            seen.add(key)
            kept.append(pair)
    return kept


def _parse_chunk(chunk: str) -> QAPair | None:
    """One ``<QUE> q <ANS> a`` chunk (the ``</END>`` already split off), or None when malformed."""
    parts = chunk.split(ANS)
    if len(parts) != 2:
        return None
    question, answer = parts[0].strip(), parts[1].strip()
    if not question.startswith(QUE):
        return None
    question = question[len(QUE):].strip()
    if not question or not answer or any(marker in question or marker in answer for marker in MARKERS):
        return None
    return QAPair(question, answer)


def parse_pairs(generated: str) -> list[QAPair]:
    """The pairs of a synthesizer generation (the text after the prompt).

    The text is split on ``</END>``; whatever follows the last ``</END>`` is dropped (an
    incomplete pair cut off by the token budget, or nothing). Each chunk is split on ``<ANS>``
    and stripped; a chunk is dropped unless it holds exactly one ``<ANS>``, its question part
    starts with ``<QUE>``, and the question and the answer are non-empty and free of markers.
    Repeated questions are then dropped (:func:`dedup_pairs`).

    Args:
        generated: The generated text.

    Returns:
        The pairs, in generation order.
    """
    chunks = generated.split(END)[:-1]
    return dedup_pairs(pair for pair in map(_parse_chunk, chunks) if pair is not None)


def synthesizer_example(context: str, pairs: Iterable[QAPair | Mapping]) -> tuple[str, str]:
    """One training example of the synthesizer: ``(prompt, target)``.

    The synthesizer is trained with the loss on ``target`` only: it learns to write pairs, not
    to model the context.

    Args:
        context: The raw text.
        pairs: Its question/answer pairs (:class:`QAPair` objects or mappings).
    """
    return render_context(context), render_pairs(pairs)


def multi_round_prompts(texts: Sequence[str], previous: Sequence[tuple[str, Sequence[QAPair]] | None],
                        count_tokens: Callable[[str], int], window: int, max_new_tokens: int) -> list[str]:
    """The prompts of one round of multi-round (few-shot) synthesis.

    The prompt of ``texts[i]`` is the previous round's text at the same index, its pairs and a
    blank line, then the plain prompt::

        render_context(prev_text) + render_pairs(prev_pairs) + "\\n\\n" + render_context(texts[i])

    when ``previous[i]`` is not None, has at least one pair, and the prompt leaves room for the
    generation: ``count_tokens(prompt) + max_new_tokens <= window``. Otherwise it is the plain
    ``render_context(texts[i])`` (round 1, no demonstration, or one that does not fit).

    Args:
        texts: This round's texts.
        previous: Per text, ``(text, pairs)`` of the previous round's item at the same index
            (see :func:`round_slices`), or None.
        count_tokens: Token count of a prompt (the synthesizer's tokenizer, or an estimate).
        window: The synthesizer's context window in tokens (upstream: 4096).
        max_new_tokens: Tokens reserved for the generation (upstream: 400).

    Returns:
        One prompt per text.

    Raises:
        ValueError: if ``previous`` and ``texts`` differ in length.
    """
    if len(previous) != len(texts):
        raise ValueError(f"previous has {len(previous)} items for {len(texts)} texts; pass one (or None) per text")
    prompts = []
    for text, demo in zip(texts, previous):
        prompt = render_context(text)
        if demo is not None and demo[1]:
            few_shot = render_context(demo[0]) + render_pairs(demo[1]) + PAIR_SEPARATOR + prompt
            if count_tokens(few_shot) + max_new_tokens <= window:
                prompt = few_shot
        prompts.append(prompt)
    return prompts


def round_slices(n: int, rounds: int) -> list[range]:
    """Split the indices ``0..n-1`` into ``rounds`` contiguous slices for multi-round synthesis.

    Sizes differ by at most one and the larger slices come first, so item ``j`` of round ``r``
    always has an item ``j`` in round ``r - 1`` (its demonstration). With ``rounds > n`` the last
    slices are empty.

    Args:
        n: Number of texts.
        rounds: Number of rounds ``M`` (upstream: the corpus in M parts).

    Raises:
        ValueError: for ``n < 0`` or ``rounds < 1``.
    """
    if n < 0 or rounds < 1:
        raise ValueError(f"round_slices(n={n}, rounds={rounds}): need n >= 0 and rounds >= 1")
    size, extra = divmod(n, rounds)
    slices, start = [], 0
    for r in range(rounds):
        stop = start + size + (r < extra)
        slices.append(range(start, stop))
        start = stop
    return slices
