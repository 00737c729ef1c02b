"""Instruction-augmented pre-training text: a raw text followed by its synthesized pairs.

Instruction Pre-Training (EMNLP 2024, ``shared/specs/instruction_pretrain.md``) pre-trains on
raw texts each followed by the instruction-response pairs synthesized from it (see
:mod:`.instruction_format`), rendered with varied templates, several texts chained in one
training example. Upstream draws from ~600 FLAN-style patterns in four pools; these are our
own, fewer, in the same four pools:

==========================  ========================================================================
pool                        used for a pair with
==========================  ========================================================================
``plain``                   question and answer only
``options``                 ``options`` (a list holding the answer): the options are listed
``rationale``               ``rationale``: an explanation line before or after the answer
``options_rationale``       both
==========================  ========================================================================

A pattern is a ``str.format`` template over ``question``, ``answer`` and, by pool, ``options``
(the listed options), ``choice`` (the answer as listed, e.g. ``(B) Paris``; the bare answer for
unlabelled lists) and ``rationale``, plus the :class:`OptionStyle` that lists the options
(markers ``A.``, ``(A)``, ``a)``, ``1.``, ``-`` or none; joined by newlines, commas or
semicolons). Question lead-ins, answer lead-ins and separators vary between patterns.

One document draws one pattern per pool (like upstream, whose pairs of one text share a
template), so its pairs read as a consistent few-shot block while documents vary; all draws come
from a ``random.Random`` seeded by a sha256 of the seed and the document id, so a document
renders the same in any process.

Deviations from upstream, on purpose: a pair whose ``answer`` is not among its ``options`` is
rendered without them (a listed answer that is not an option would teach a broken format); no
pattern appends punctuation after the answer (synthesized answers often end in their own).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from datamodules.base import world_config
from datamodules.checks import check_int, check_number
from datamodules.instruction import held_out_documents, is_answerable
from datamodules.text import document_text
from datamodules.tinyworld import generate_world
from datamodules.transforms import DocumentTransform
from datamodules.transforms.instruction_format import Demo, Synthesized, synthesize_in_rounds
from zoo.errors import ZooError
from zoo.hashing import fingerprint, sha256_file
from zoo.paths import atomic_write_text, cache_dir

POOL_NAMES: tuple[str, ...] = ("plain", "options", "rationale", "options_rationale")


@dataclass(frozen=True)
class OptionStyle:
    """How a pattern lists the options.

    Attributes:
        marker: ``"A."``, ``"(A)"``, ``"a)"``, ``"1."``, ``"-"`` or ``""`` (no marker): the label
            of the first option; later options count up from it.
        joiner: What separates the listed options (``"\\n"``, ``", "``, ``"; "``, ``" "``).
    """

    marker: str
    joiner: str

    @property
    def labelled(self) -> bool:
        """Whether the options carry a letter or number (then ``choice`` names it)."""
        return any(char.isalnum() for char in self.marker)

    def label(self, index: int) -> str:
        """The marker of option ``index`` (0-based): ``"(A)"`` -> ``"(C)"`` for index 2."""
        if not self.labelled:
            return self.marker
        first = next(char for char in self.marker if char.isalnum())
        if first.isdigit():
            name = str(index + 1)
        else:
            letters = string.ascii_uppercase if first.isupper() else string.ascii_lowercase
            # Spreadsheet-column labels (bijective base 26): Z, AA, ..., ZZ, AAA: distinct for any count.
            name, number = "", index + 1
            while number:
                number, digit = divmod(number - 1, 26)
                name = letters[digit] + name
        return self.marker.replace(first, name, 1)

    def lines(self, options: Sequence[str]) -> list[str]:
        """Each option with its marker (the bare option for ``""``)."""
        return [f"{self.label(i)} {option}" if self.marker else option for i, option in enumerate(options)]


@dataclass(frozen=True)
class Pattern:
    """One way to render a pair.

    Attributes:
        template: ``str.format`` string over ``question``, ``answer`` and, by pool, ``options``,
            ``choice`` and ``rationale`` (see the module docstring).
        style: How the options are listed (options pools only).
    """

    template: str
    style: OptionStyle | None = None

    def render(self, question: str, answer: str, options: Sequence[str] = (), rationale: str = "") -> str:
        """The pair rendered with this pattern.

        Args:
            question: The question.
            answer: The answer (one of ``options`` for an options pattern).
            options: The options (options patterns).
            rationale: The explanation (rationale patterns).

        Raises:
            ValueError: for a labelled options pattern whose ``answer`` is not in ``options``.
        """
        fields = {"question": question, "answer": answer, "rationale": rationale, "options": "", "choice": answer}
        if self.style is not None:
            lines = self.style.lines(options)
            fields["options"] = self.style.joiner.join(lines)
            if self.style.labelled:
                fields["choice"] = lines[list(options).index(answer)]
        return self.template.format_map(fields)


_UPPER_DOT_LINES = OptionStyle("A.", "\n")
_UPPER_PAREN_LINES = OptionStyle("(A)", "\n")
_LOWER_PAREN_LINES = OptionStyle("a)", "\n")
_NUMBER_LINES = OptionStyle("1.", "\n")
_DASH_LINES = OptionStyle("-", "\n")
_INLINE_COMMAS = OptionStyle("", ", ")
_INLINE_SEMICOLONS = OptionStyle("", "; ")
_UPPER_PAREN_INLINE = OptionStyle("(A)", " ")
_LOWER_PAREN_INLINE = OptionStyle("a)", " ")
_NUMBER_INLINE = OptionStyle("1.", "; ")

PLAIN: tuple[Pattern, ...] = (
    Pattern("Question: {question}\nAnswer: {answer}"),
    Pattern("Q: {question}\nA: {answer}"),
    Pattern("{question}\n{answer}"),
    Pattern("{question} {answer}"),
    Pattern("Q: {question} A: {answer}"),
    Pattern("Question: {question}\n\nAnswer: {answer}"),
    Pattern("Based on the text, answer the following question. {question}\nAnswer: {answer}"),
    Pattern("{question}\n\nResponse: {answer}"),
    Pattern("Instruction: {question}\nResponse: {answer}"),
    Pattern("Answer this question about the text.\n{question}\nThe answer is {answer}"),
    Pattern("Input: {question}\nOutput: {answer}"),
    Pattern("{question}\nAnswer: {answer}"),
)

OPTIONS: tuple[Pattern, ...] = (
    Pattern("{question}\nOptions:\n{options}\nAnswer: {choice}", _UPPER_DOT_LINES),
    Pattern("Question: {question}\nChoices: {options}\nAnswer: {answer}", _INLINE_COMMAS),
    Pattern("{question}\n{options}\nThe answer is {choice}", _UPPER_PAREN_LINES),
    Pattern("Q: {question} Pick one: {options} A: {choice}", _LOWER_PAREN_INLINE),
    Pattern("{question}\n\nSelect from the following.\n{options}\n\n{answer}", _DASH_LINES),
    Pattern("Choose the correct option. {question}\n{options}\nCorrect option: {choice}", _NUMBER_LINES),
    Pattern("Based on the text, answer the question: {question}\nPossible answers: {options}\nAnswer: {answer}",
            _INLINE_SEMICOLONS),
    Pattern("{question} Options: {options} Response: {choice}", _UPPER_PAREN_INLINE),
    Pattern("Multiple choice question.\n\n{question}\n{options}\n\nResponse: {choice}", _LOWER_PAREN_LINES),
    Pattern("{question}\nPick the right answer from the list:\n{options}\n{answer}", _DASH_LINES),
    Pattern("Question: {question}\n\nOPTIONS: {options}\n\nAnswer: {choice}", _NUMBER_INLINE),
)

RATIONALE: tuple[Pattern, ...] = (
    Pattern("Question: {question}\nAnswer: {answer}\nExplanation: {rationale}"),
    Pattern("Q: {question}\nA: {rationale} So the answer is {answer}"),
    Pattern("{question}\nLet's think step by step. {rationale}\nThe answer is {answer}"),
    Pattern("{question}\nRationale: {rationale}\nAnswer: {answer}"),
    Pattern("Question: {question}\n\nReasoning: {rationale}\n\nAnswer: {answer}"),
    Pattern("{question}\n{answer}\nWhy? {rationale}"),
    Pattern("Based on the text, answer and explain: {question}\nResponse: {answer}\nReason: {rationale}"),
    Pattern("Q: {question}\nA: {answer}\nJustification: {rationale}"),
    Pattern("Instruction: {question}\nThought: {rationale}\nResponse: {answer}"),
    Pattern("{question}\n\n{rationale}\nTherefore, the answer is: {answer}"),
    Pattern("{question} Answer: {answer} Because: {rationale}"),
)

OPTIONS_RATIONALE: tuple[Pattern, ...] = (
    Pattern("{question}\nOptions:\n{options}\nExplanation: {rationale}\nAnswer: {choice}", _UPPER_DOT_LINES),
    Pattern("Question: {question}\nChoices: {options}\nAnswer: {answer}\nReason: {rationale}", _INLINE_COMMAS),
    Pattern("{question}\n{options}\nLet's think step by step. {rationale}\nThe answer is {choice}",
            _UPPER_PAREN_LINES),
    Pattern("Q: {question} Pick one: {options} A: {rationale} So the answer is {choice}", _LOWER_PAREN_INLINE),
    Pattern("{question}\n\nSelect from the following.\n{options}\n\n{answer}\nWhy? {rationale}", _DASH_LINES),
    Pattern("Choose the correct option. {question}\n{options}\nRationale: {rationale}\nCorrect option: {choice}",
            _NUMBER_LINES),
    Pattern("Based on the text, answer the question: {question}\nPossible answers: {options}\n"
            "Reasoning: {rationale}\nAnswer: {answer}", _INLINE_SEMICOLONS),
    Pattern("Multiple choice question.\n\n{question}\n{options}\n\nResponse: {choice}\nJustification: {rationale}",
            _LOWER_PAREN_LINES),
    Pattern("Question: {question}\n\nOPTIONS: {options}\n\n{rationale}\nTherefore, the answer is: {choice}",
            _NUMBER_INLINE),
    Pattern("{question} Options: {options} Thought: {rationale} Response: {choice}", _UPPER_PAREN_INLINE),
)

#: Every pool by name (:data:`POOL_NAMES` order).
POOLS: dict[str, tuple[Pattern, ...]] = {
    "plain": PLAIN,
    "options": OPTIONS,
    "rationale": RATIONALE,
    "options_rationale": OPTIONS_RATIONALE,
}

#: What comes before the raw text ("" for nothing).
INTROS: tuple[str, ...] = (
    "",
    "Read the following text and answer the questions.\n\n",
    "Article:\n",
    "Passage: ",
    "Context:\n",
    "Answer the questions based on this text.\n\n",
    "Text:\n",
    "Here is a document.\n\n",
    "Read this and answer the questions below.\n",
    "Document: ",
)
#: What separates the raw text from its first pair.
GAPS: tuple[str, ...] = ("\n\n", "\n", "\n\n\n")
#: What separates consecutive pairs of one text.
PAIR_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", "\n\n\n")
#: What separates chained texts in one training example.
CHAIN_SEPARATORS: tuple[str, ...] = ("\n\n", "\n\n\n", "\n\n---\n\n", "\n\n###\n\n", "\n\n\n\n")


@functools.cache
def templates_fingerprint() -> str:
    """A short hash of every pattern and separator: part of the transform's identity, so editing
    a template invalidates cached augmented data without a manual version bump."""
    payload = json.dumps({"pools": {name: [asdict(p) for p in pool] for name, pool in POOLS.items()},
                          "intros": INTROS, "gaps": GAPS, "pair_separators": PAIR_SEPARATORS,
                          "chain_separators": CHAIN_SEPARATORS}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def seeded_rng(seed: int, key: str) -> random.Random:
    """A random stream keyed by ``seed`` and ``key`` (e.g. a document id): sha256, since Python's
    ``hash`` is salted per process.

    Args:
        seed: The run's seed.
        key: What the stream belongs to.
    """
    digest = hashlib.sha256(f"{seed}\0{key}".encode("utf-8", "surrogatepass")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _field(pair, name: str):
    return pair.get(name) if isinstance(pair, Mapping) else getattr(pair, name, None)


def _parts(pair) -> tuple[str, str, list[str], str]:
    """``(question, answer, options, rationale)`` of a pair, each stripped (tinyworld options
    carry a leading space)."""
    return (str(_field(pair, "question")).strip(), str(_field(pair, "answer")).strip(),
            [str(option).strip() for option in _field(pair, "options") or ()],
            str(_field(pair, "rationale") or "").strip())


def pair_pool(pair) -> str:
    """The pool a pair is rendered from: by whether it carries ``options`` that hold its answer,
    and a non-empty ``rationale``.

    Args:
        pair: A ``{"question", "answer", "options"?, "rationale"?}`` mapping or an object with
            those attributes.
    """
    _, answer, options, rationale = _parts(pair)
    return {(False, False): "plain", (True, False): "options", (False, True): "rationale",
            (True, True): "options_rationale"}[answer in options, bool(rationale)]


def render_pair(pair, pattern: Pattern) -> str:
    """One pair rendered with ``pattern`` (one of the pool :func:`pair_pool` names).

    Args:
        pair: A ``{"question", "answer", "options"?, "rationale"?}`` mapping or an object with
            those attributes.
        pattern: The pattern.
    """
    return pattern.render(*_parts(pair))


def render_example(text: str, pairs: Sequence, rng: random.Random) -> str:
    """A raw text followed by its pairs: intro, text, gap, then the pairs joined by one separator.

    One pattern per pool is drawn for the whole text (a consistent few-shot block); each pair
    uses the pattern of its pool (:func:`pair_pool`). The draws are always made in the same
    order, so a text's rendering depends only on ``rng``'s state and the pairs.

    Args:
        text: The raw text.
        pairs: Its pairs (mappings or objects with ``question``, ``answer`` and optional
            ``options``, ``rationale``); none gives ``text`` unchanged.
        rng: The document's random stream (see :func:`seeded_rng`).
    """
    if not pairs:
        return text
    patterns = {name: rng.choice(POOLS[name]) for name in POOL_NAMES}
    intro, gap, separator = rng.choice(INTROS), rng.choice(GAPS), rng.choice(PAIR_SEPARATORS)
    rendered = [render_pair(pair, patterns[pair_pool(pair)]) for pair in pairs]
    return intro + text + gap + separator.join(rendered)


def chain_examples(examples: Sequence[str], rng: random.Random) -> str:
    """Rendered texts joined, in order, into one training example with one drawn separator.

    Args:
        examples: The rendered texts (see :func:`render_example`).
        rng: The random stream of the chained example.
    """
    return rng.choice(CHAIN_SEPARATORS).join(examples)


#: Keys of the stats column: documents and pairs per example, then pairs per pool.
STATS_KEYS: tuple[str, ...] = ("documents", "with_pairs", "pairs", *POOL_NAMES)


class PairSynthesizer(Protocol):
    """What writes question/answer pairs for raw texts, handed to :class:`InstructionAugmentation`.

    The module layer provides the one recipes use (``zoo.modules.instruction_synthesizer.
    PretrainedSynthesizer``); the data layer only calls it.

    Attributes:
        model: The synthesizer as the recipe names it (for messages).
    """

    model: str

    def synthesize(self, texts: list[str], histories: list[list[Demo]] | None = None) -> list[Synthesized]:
        """The pairs of each text, in order, each prompted after its history (earlier texts with their
        pairs) when that fits, with the history it used."""

    def identity(self) -> str:
        """What names the pairs it writes (its weights): part of the augmented data's cache key."""


#: Bump when what the quality gate measures changes: measurements cached under another version are not reused.
QUALITY_VERSION = 2


@dataclass(frozen=True)
class QualityGate:
    """What a synthesizer must reach before its pairs become pre-training text.

    Measured on documents it never saw, those of the evaluation entities of a tinyworld
    (``datamodules.instruction.held_out_documents``; a tinyworld synthesizer trains on the other
    entities): the share of its pairs whose answer occurs in the document (``is_answerable``), as
    the ``synthesis_quality`` evaluator scores it, cached under ``ZOO_HOME/cache/synthesizer-quality``
    by the synthesizer's identity and these settings.

    Attributes:
        min_answerable: Least answerable share, in [0, 1]; 0 measures and records it without stopping.
        source: ``tinyworld:<domain>`` whose evaluation entities' documents are synthesized for.
        documents: How many of those documents.
        world: ``WorldConfig`` fields of that tinyworld (None: seed 0 and 200 entities, the suites' world).

    Raises:
        ZooError: for a value out of range or a source that is not a tinyworld.
    """

    min_answerable: float = 0.9
    source: str = "tinyworld:general"
    documents: int = 64
    world: dict | None = None

    def __post_init__(self):
        check_number("gate.min_answerable", self.min_answerable, "least share of answerable pairs", high=1,
                     high_included=True)
        check_int("gate.documents", self.documents, 1, "held-out documents to synthesize for")
        if not self.source.startswith("tinyworld:"):
            raise ZooError(f"gate.source={self.source!r}: the gate scores a tinyworld's held-out documents; "
                           "use tinyworld:<domain>")
        world_config(self.source, self.world)

    def measure(self, synthesizer: PairSynthesizer) -> dict:
        """The synthesizer's ``answerable`` share with the counts behind it (cached; computed on first use).

        Args:
            synthesizer: The pair writer; its texts are prompted plainly (no history).
        """
        key = fingerprint(QUALITY_VERSION, synthesizer.identity(), self.source, self.documents, self.world)
        path = cache_dir("synthesizer-quality") / f"{key}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        documents = held_out_documents(generate_world(world_config(self.source, self.world)), self.documents)
        written = synthesizer.synthesize([document["text"] for document in documents])
        pairs = [(pair, document["text"]) for document, each in zip(documents, written) for pair in each.pairs]
        answerable = sum(is_answerable(pair.answer, text) for pair, text in pairs)
        record = {"synthesizer": synthesizer.identity(), "source": self.source, "world": self.world,
                  "documents": len(documents), "pairs": len(pairs),
                  "answerable": answerable / len(pairs) if pairs else 0.0}
        atomic_write_text(path, json.dumps(record, sort_keys=True) + "\n")
        return record

    def check(self, synthesizer: PairSynthesizer) -> dict:
        """The measurement with ``min_answerable`` and whether it ``passed``; refuses a synthesizer below it.

        Args:
            synthesizer: The pair writer.

        Raises:
            ZooError: naming the measured share, the threshold and the ways on.
        """
        record = {**self.measure(synthesizer), "min_answerable": self.min_answerable}
        record["passed"] = record["answerable"] >= self.min_answerable
        if not record["passed"]:
            raise ZooError(
                f"synthesizer {synthesizer.model}: {record['answerable']:.1%} of its {record['pairs']} pairs on "
                f"{record['documents']} unseen {self.source} documents are answerable from the text, below the "
                f"quality gate's {self.min_answerable:.0%}; train a stronger synthesizer (more steps, distinct training "
                "documents or parameters), or lower the recipe's gate "
                "(--data.init_args.transform.init_args.gate.min_answerable) to use it knowingly")
        return record


class InstructionAugmentation(DocumentTransform):
    """Raw documents + their synthesized pairs -> instruction-augmented texts.

    Each document with pairs is rendered as its title line (when it has one) and body followed by
    its pairs (:func:`render_example`), and several such documents are joined into one example
    (:func:`chain_examples`, id ``"id1+id2"``, empty title); every random choice is seeded by the
    document id (the chain separator by the chained ids), so the output is the same in any process.
    A document without pairs passes through as its own row, reading as it would without the
    transform (title line, blank line, body).

    Pairs come from the batch's ``pairs`` column where it has one (a list of ``{"question",
    "answer", "options"?, "rationale"?}`` per document; None falls back to the file), else from
    ``pairs_source``; such documents are chained ``chain`` consecutive ones at a time (a batch's
    last group may be shorter: ``datasets.map`` batches hold 1000 documents by default, so this
    touches a handful of examples). The documents that have none are synthesized for by
    ``synthesizer`` in ``chain`` rounds (``instruction_format.synthesize_in_rounds``, upstream's
    multi-round synthesis over the batch), and the documents synthesized together, each prompted
    after the ones before, form one example, emitted where its first document is (the DataModule
    caches the result by fingerprint). Before the synthesizer's first use its ``gate`` is checked:
    below the threshold the build stops. The ``ia_stats`` column holds, per example, the counts of
    :data:`STATS_KEYS`; :meth:`report` sums them and adds the gate's measurement.

    Args:
        pairs_source: A ``.jsonl`` file of ``{"id", "pairs"}`` rows (the synthesizer's output,
            keyed by document id), read on first use; None: pairs only from the batch.
        chain: Documents per training example (1: each on its own), and rounds of synthesis.
        seed: Seed mixed with each document id for every random choice.
        synthesizer: Writes the pairs of documents that have none in the batch or file (a recipe
            gives ``zoo.modules.instruction_synthesizer.PretrainedSynthesizer`` by ``class_path``);
            None: such documents stay raw.
        gate: What the synthesizer must reach on held-out documents before its pairs are used.

    Raises:
        ZooError: for ``chain < 1`` or a ``pairs_source`` that is not an existing file.
    """

    #: Titles are written into the text, since one chained example holds several documents.
    keeps_title = False
    stats_column = "ia_stats"

    def __init__(self, pairs_source: str | None = None, chain: int = 2, seed: int = 0,
                 synthesizer: PairSynthesizer | None = None, gate: QualityGate = QualityGate()):
        if isinstance(chain, bool) or not isinstance(chain, int) or chain < 1:
            raise ZooError(f"chain={chain!r} must be an integer >= 1; pass 1 to render each document on its own")
        if pairs_source is not None and not Path(pairs_source).is_file():
            raise ZooError(f"pairs file not found: {pairs_source}; pass the .jsonl of synthesized pairs "
                           '(one {"id", "pairs"} object per line) or leave pairs_source unset')
        self.pairs_source = str(pairs_source) if pairs_source is not None else None
        self.chain, self.seed, self.gate = chain, seed, gate
        # Part of the fingerprint: editing a template rebuilds cached augmented data.
        self.version = templates_fingerprint()
        self._pairs: dict[str, list] | None = None
        # Private, so the generic fingerprint skips it: its identity() stands for it there.
        self._synthesizer = synthesizer
        self._quality: dict | None = None

    @property
    def fingerprint(self) -> str:
        """Class, settings, the pairs file's content hash and the synthesizer's identity (a re-synthesized
        file or a retrained synthesizer invalidates caches)."""
        parts = [super().fingerprint]
        if self.pairs_source is not None:
            parts.append(sha256_file(Path(self.pairs_source))[:16])
        if self._synthesizer is not None:
            parts.append(self._synthesizer.identity())
        return ":".join(parts)

    def quality(self) -> dict:
        """The synthesizer's gate record (:meth:`QualityGate.check`), checked once per process.

        Raises:
            ZooError: when the synthesizer is below the gate.
        """
        if self._quality is None:
            self._quality = self.gate.check(self._synthesizer)
        return self._quality

    def pairs_for(self, doc_id: str) -> list:
        """The pairs of ``doc_id`` in ``pairs_source`` (empty when it has none or there is no file)."""
        if self.pairs_source is None:
            return []
        if self._pairs is None:
            self._pairs = _read_pairs(Path(self.pairs_source))
        return self._pairs.get(doc_id, [])

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        ids = [str(doc_id) for doc_id in batch["id"]]
        pair_column = list(batch.get("pairs") or [None] * len(ids))
        pair_column = [list(pairs) if pairs is not None else self.pairs_for(doc_id)
                       for doc_id, pairs in zip(ids, pair_column)]
        # Synthesized documents: the first of each chain -> the documents synthesized with it.
        chains: dict[int, list[int]] = {}
        missing = [i for i, pairs in enumerate(pair_column) if not pairs] if self._synthesizer is not None else []
        if missing:
            self.quality()
            written, groups = synthesize_in_rounds([batch["text"][i] or "" for i in missing], self.chain,
                                                   self._synthesizer.synthesize)
            for i, each in zip(missing, written):
                pair_column[i] = each.pairs
            chains = {missing[group[0]]: [missing[k] for k in group] for group in groups}
        # The title goes into the text: the DataModule drops the title column (keeps_title).
        texts = [document_text(title or "", text or "") for title, text in zip(batch["title"], batch["text"])]
        out = {"id": [], "title": [], "text": [], self.stats_column: []}

        def emit(members: list[int]) -> None:
            chained = [ids[i] for i in members]
            rendered = [render_example(texts[i], pair_column[i], seeded_rng(self.seed, ids[i])) for i in members]
            out["id"].append("+".join(chained))
            out["title"].append("")
            out["text"].append(chain_examples(rendered, seeded_rng(self.seed, "chain\0" + "\0".join(chained))))
            out[self.stats_column].append(_stats([pair_column[i] for i in members]))

        synthesized = {i for members in chains.values() for i in members}
        group: list[int] = []
        for i, pairs in enumerate(pair_column):
            if i in chains:
                emit(chains[i])
            elif i in synthesized:
                continue  # emitted with the first document of its chain
            elif not pairs:
                emit([i])
            else:
                group.append(i)
                if len(group) == self.chain:
                    emit(group)
                    group = []
        if group:
            emit(group)
        return out

    def report(self, transformed) -> dict | None:
        """Totals over the examples: ``{"documents", "with_pairs", "pairs", "mean_pairs_per_document",
        "pool_counts"}`` (the mean over documents with pairs; pool counts are pairs per pool), and with a
        synthesizer its ``quality_gate`` record.

        Args:
            transformed: The transformed ``datasets.Dataset``, or the batch dict ``__call__`` returned.
        """
        columns = transformed.column_names if hasattr(transformed, "column_names") else list(transformed)
        if self.stats_column not in columns:
            return None
        totals = dict.fromkeys(STATS_KEYS, 0)
        for row in transformed[self.stats_column]:
            for key in STATS_KEYS:
                totals[key] += row.get(key) or 0
        report = {"documents": totals["documents"], "with_pairs": totals["with_pairs"], "pairs": totals["pairs"],
                  "mean_pairs_per_document": totals["pairs"] / totals["with_pairs"] if totals["with_pairs"] else 0.0,
                  "pool_counts": {name: totals[name] for name in POOL_NAMES}}
        return report | ({"quality_gate": self.quality()} if self._synthesizer is not None else {})


def _stats(pairs_per_doc: list[list]) -> dict[str, int]:
    """The stats of one example: its documents, those with pairs, its pairs and pairs per pool."""
    stats = dict.fromkeys(STATS_KEYS, 0)
    stats["documents"] = len(pairs_per_doc)
    for pairs in pairs_per_doc:
        stats["with_pairs"] += bool(pairs)
        stats["pairs"] += len(pairs)
        for pair in pairs:
            stats[pair_pool(pair)] += 1
    return stats


def _read_pairs(path: Path) -> dict[str, list]:
    """Document id -> pairs of a ``{"id", "pairs"}`` ``.jsonl`` file (a later row for an id wins)."""
    pairs = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ZooError(f"{path} line {number} is not valid JSON ({error.msg}); write one object per line") \
                    from None
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("pairs"), list):
                raise ZooError(f'{path} line {number} needs "id" and a "pairs" list; '
                               'write {"id": ..., "pairs": [{"question": ..., "answer": ...}]} per line')
            pairs[str(row["id"])] = row["pairs"]
    return pairs
