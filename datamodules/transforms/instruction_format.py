"""The instruction synthesizer's text format (Instruction Pre-Training, EMNLP 2024).

Cheng et al., "Instruction Pre-Training: Language Models are Supervised Multitask Learners";
see ``shared/specs/instruction_pretrain.md``. The synthesizer is a causal LM that reads a raw
text and writes question/answer pairs about it:

* prompt: ``" <CON> {text} </CON>\\n\\n"`` (:func:`render_context`);
* completion: ``"<QUE> {question} <ANS> {answer} </END>"`` per pair, joined by blank lines
  (:func:`render_pairs`); it is trained with the loss on the completion only
  (:func:`synthesizer_example`), and its greedy generations are read back with
  :func:`parse_pairs`.

Multi-round (few-shot) synthesis cuts the texts into ``M`` contiguous slices
(:func:`round_slices`); in round ``r`` the text at position ``j`` is prompted after the texts at
position ``j`` of the earlier rounds, each followed by its pairs, back to where that chain broke
(:func:`next_history`, :func:`synthesize_in_rounds`; upstream's ``get_dataset``), so later rounds
write pairs in the style of earlier ones and the texts synthesized together form one few-shot
pre-training example. The prompt is the token sequence the synthesizer is fine-tuned on, several
examples concatenated (``datamodules.instruction.few_shot_prompt``)::

    <bos> <CON> {text 1} </CON>\n\n<QUE> q <ANS> a </END><eos><bos> <CON> {text 2} </CON>\n\n

Pure Python (no torch), so the format is usable from data scripts and tests alike.

Deviations from upstream, on purpose: the duplicate-question rule also ignores runs of
whitespace and compares ``casefold``-ed text (upstream: ``lower()``); a chunk whose question or
answer holds a marker (two pairs that ran together without ``</END>``) is dropped rather than
read as one long pair; whether a history fits the window is counted in tokens (upstream: 1.5 per
word).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

CON, CON_END, QUE, ANS, END = "<CON>", "</CON>", "<QUE>", "<ANS>", "</END>"
#: Every marker of the format; none may appear inside a parsed question or answer.
MARKERS: tuple[str, ...] = (CON, CON_END, QUE, ANS, END)
#: What joins consecutive pairs in a completion.
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


#: One demonstration of multi-round synthesis: an earlier text and the pairs synthesized for it.
Demo = tuple[str, Sequence[QAPair]]


class Synthesized(NamedTuple):
    """What a synthesizer wrote for one text.

    Attributes:
        pairs: The parsed pairs (:func:`parse_pairs`).
        history: The earlier texts, each with its pairs, that the prompt was chained after, oldest
            first; empty for a plain prompt (round 1, a broken chain, or a history that did not fit
            the window).
    """

    pairs: list[QAPair]
    history: list[Demo]


def next_history(text: str, synthesized: Synthesized) -> list[Demo]:
    """What the next round's text at the same position is prompted after: this text with its pairs,
    after the history this text's own prompt was chained after; nothing when this text got no pairs
    (upstream's ``get_dataset``: a text without pairs breaks the chain).

    Args:
        text: This round's text.
        synthesized: What the synthesizer wrote for it.
    """
    return [*synthesized.history, (text, synthesized.pairs)] if synthesized.pairs else []


def synthesize_in_rounds(texts: Sequence[str], rounds: int,
                         synthesize: Callable[[list[str], list[list[Demo]]], list[Synthesized]]
                         ) -> tuple[list[Synthesized], list[list[int]]]:
    """Multi-round synthesis of ``texts``, and the chains of texts synthesized together.

    The texts are cut into ``rounds`` contiguous slices (:func:`round_slices`); round ``r``
    synthesizes its slice in one call, the text at position ``j`` prompted after the
    :func:`next_history` of round ``r - 1``'s text at position ``j``. A chain (upstream's few-shot
    pre-training text, ``cook_pt_entries``) is a run of texts at one position, each prompted after
    the one before and given pairs; a text that was not (no history, or one that did not fit)
    starts a new chain, and a text without pairs is a chain of its own that nothing follows.

    Args:
        texts: The texts, in order.
        rounds: Rounds ``M`` (1: every text on its own).
        synthesize: Writes the pairs of a list of texts given each one's history (a synthesizer's
            ``synthesize``), reporting the history each prompt actually used.

    Returns:
        ``(per text what was written, the chains as lists of indices into texts)``: every index is
        in exactly one chain, and the chains come in order of their first text (slices are in order).
    """
    results: list[Synthesized] = [Synthesized([], [])] * len(texts)
    chains: list[list[int]] = []
    open_chains: dict[int, list[int]] = {}
    histories: list[list[Demo]] = []
    for part in round_slices(len(texts), rounds):
        if not part:
            break  # more rounds than texts: the remaining slices are empty too
        asked = [histories[j] if j < len(histories) else [] for j in range(len(part))]
        written = synthesize([texts[i] for i in part], asked)
        for j, (i, synthesized) in enumerate(zip(part, written)):
            results[i] = synthesized
            # A history was only offered after a text with pairs, so its chain is open.
            if synthesized.history and synthesized.pairs:
                open_chains[j].append(i)
            else:
                open_chains[j] = [i]
                chains.append(open_chains[j])
        histories = [next_history(texts[i], synthesized) for i, synthesized in zip(part, written)]
    return results, chains


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
