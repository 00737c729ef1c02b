"""AdaptLLM's reading-comprehension transform: a raw document followed by tasks mined from it.

Cheng et al., "Adapting Large Language Models via Reading Comprehension" (ICLR 2024); see
``shared/specs/adaptllm.md`` and upstream's ``adaptllm/utils/read.py`` (microsoft/LMOps). For
each document:

1. The body is truncated to ``max_tokens`` whitespace-separated words and split into sentences
   (:func:`split_sentences`, a regex splitter; see there for its rules).
2. Tasks are mined (case-insensitive):

   * **Pair tasks**: sentence A, then sentence B opening with ``connector,``; A and B each hold
     >= 50 characters (without the final punctuation) and end in ``.``/``!``/``?``. One pair
     feeds every subcategory that lists its connector (NLI entail/contradict/neutral,
     commonsense cause->effect, paraphrase similar/different).
   * **Commonsense effect->cause**: within one sentence, ``EFFECT due to|on account of|owing to
     CAUSE``, the connector joined by whitespace, effect and cause >= 50 characters each.
   * **Word-to-text**: definition (one word >= 10 characters + ``is defined as`` /
     ``'s definition is`` + >= 20 characters), topic (>= 20 characters from the sentence start
     + ``is about`` / ``talks about`` / ``was about`` / ``'s topic is`` + >= 20 characters), and
     keywords (the first 2 sentences, in a seeded order, of <= 100 distinct pieces holding >= 3
     domain keywords, see :func:`domain_keywords`; the sentence's first three keywords are the
     question).
   * **Summarization** (the title is the answer) and **completion** (>= 4 sentences, cut at a
     seeded sentence, the rest is the answer), chosen by the wrapper probabilities below.

   ``patterns="upstream"`` (the default) keeps upstream's character classes: the sentences of
   NLI and cause->effect pairs, and effect and cause, hold no comma (effect and cause no
   semicolon either), a topic's subject holds no comma or semicolon, and no mined sentence,
   definition or topic holds a sentence end before its final punctuation (so "2.5 mg" or "e.g."
   inside a sentence keeps it out, as upstream's ``[^.!?]`` does); paraphrase sentences may hold
   commas, as upstream's may. ``patterns="loose"`` drops these character rules (this transform's
   first reading, which mines more from comma-rich prose).

3. At most 2 examples per subcategory (a seeded sample), each rendered with one seeded template
   of its pool (:mod:`.rc_templates`; NLI picks a generate template with p=.2, else a classify
   one); question and answer are joined by one space.
4. Examples are grouped by family, the family blocks shuffled, each block opened by a seeded
   intro, and the blocks appended to the document after a blank line. The document is the
   (truncated) body verbatim, or, when the completion task is drawn, the body cut at a seeded
   sentence with the completion question around its first part and the rest of the body as the
   answer, as upstream's completion templates print the article once. Summarization/completion by
   what the document has: title and a completable body (>= 4 sentences): summarize / complete /
   both / neither with p = .4/.1/.4/.1; title only: .5/.5 summarize / neither; completable body
   only: .5/.5. The :data:`CONTEXT_COLUMN` column holds the document's length in characters: a
   packer that must split a long RC text repeats that much in front of its later tasks
   (``TextCorpusDataModule(packing="documents")``).
5. All randomness comes from one ``random.Random`` per document, seeded by a blake2b hash of
   ``seed`` and the document id: the same document always gives the same text, in any process.

Deviations from upstream, on purpose: effect->cause is mined inside one sentence ("... due to
...") rather than upstream's "sentence. Due to sentence." reading (which real prose almost never
has); long documents are truncated, not chunked; the summarization question follows the text
("the text above") instead of wrapping it; the keyword tokenizers are BPEs in sentencepiece's
word-start convention trained here (upstream: LLaMA's and a domain sentencepiece model); the
spec's wrapper row "title and >= 2 sentences" needs a completable body here (completion needs
>= 4 sentences), so a titled 1-3 sentence body takes the title-only row, and an empty body gets
no task at all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice, pairwise
from pathlib import Path
from typing import NamedTuple

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from tqdm import tqdm

from datamodules.base import load_documents
from datamodules.checks import check_int
from datamodules.tinyworld import DOMAINS
from datamodules.transforms import LONE_SURROGATE, DocumentTransform
from datamodules.transforms.rc_templates import INTROS, POOLS, templates_fingerprint
from zoo.errors import ZooError
from zoo.hashing import fingerprint
from zoo.paths import atomic_dir, atomic_file, cache_dir

log = logging.getLogger(__name__)

#: Bump when mining or keyword extraction changes, so cached keyword sets and RC data are rebuilt.
RC_VERSION = 2
#: Minimum characters of each sentence of a connector pair (and of effect and cause).
MIN_PAIR_CHARS = 50
#: Minimum characters of a defined term / of a definition, topic subject and topic.
MIN_TERM_CHARS, MIN_CLAUSE_CHARS = 10, 20
#: Examples kept per subcategory.
MAX_PER_SUBCATEGORY = 2
#: Sentences a body needs for the completion task.
MIN_COMPLETION_SENTENCES = 4
#: Keywords a sentence needs for the keyword task, and the most distinct pieces such a sentence may have
#: (upstream counts the set of its domain-tokenizer pieces).
MIN_KEYWORDS, MAX_KEYWORD_SENTENCE_PIECES = 3, 100
#: Shortest keyword, in characters after the word-start mark (upstream: pieces longer than 10 with the mark).
MIN_KEYWORD_CHARS = 10
#: Sentencepiece's word-start mark, which the keyword tokenizers put on the first piece of every word.
WORD_START = "\u2581"
#: Words whose domain-tokenizer pieces a transform keeps in memory (the cache starts over when full).
WORD_CACHE_SIZE = 1 << 18
#: Column holding each output's document length in characters (the text the tasks are about).
CONTEXT_COLUMN = "context_chars"
#: Probability of a generate (vs classify) template for an NLI example.
NLI_GENERATE_P = 0.2

# ---------------------------------------------------------------------------------------------
# Sentence splitting
# ---------------------------------------------------------------------------------------------
_TERMINAL = ".!?"
_CLOSERS = "\"'”’)]"
# A candidate boundary: terminal punctuation (+ closing quotes/brackets) then whitespace, or a newline.
_BOUNDARY_RE = re.compile(r"([.!?]+[\"'”’)\]]*)\s+|\n\s*")
# A period after these words (lower-cased) never ends a sentence ("Dr. Smith", "approx. 5").
_ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "rev", "gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep",
     "hon", "fig", "figs", "eq", "eqs", "vol", "vols", "pp", "ch", "sec", "approx", "ca", "cf", "vs", "viz", "et", "ed",
     "eds", "resp", "dept", "univ", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
     "dec"]
)
# ... these end a sentence only before a capital ("etc. The" vs "etc. and"; "Acme Inc. The").
_ABBREVIATIONS_UNLESS_CAPITAL = frozenset(["etc", "inc", "ltd", "co", "corp", "al"])
# ... and these are abbreviations only before a number ("No. 5", "p. 12"); "the answer was no. Then" ends.
_ABBREVIATIONS_BEFORE_NUMBER = frozenset(["no", "nos", "p", "art"])
_WORD_OPENERS = "(\"'“‘["


# Abbreviations are short: a longer word before a period is never one, so look back this far only.
_ABBREVIATION_WINDOW = 8


def _is_abbreviation(text: str, dot: int, after: int) -> bool:
    """Whether the period at ``dot`` (next sentence would start at ``after``) belongs to an abbreviation."""
    before = text[max(0, dot - _ABBREVIATION_WINDOW) : dot].rsplit(None, 1)
    if not before or (len(before[-1]) == _ABBREVIATION_WINDOW and dot > _ABBREVIATION_WINDOW):
        return False  # nothing before the period, or a word longer than any abbreviation
    word = before[-1].lstrip(_WORD_OPENERS)
    lower = word.lower()
    following = text[after : after + 1]
    if lower in _ABBREVIATIONS:
        return True
    if lower in _ABBREVIATIONS_UNLESS_CAPITAL:
        return not following.isupper()
    if lower in _ABBREVIATIONS_BEFORE_NUMBER:
        return following.isdigit()
    if len(word) == 1:
        return word.isupper()  # an initial ("J. Smith"); "plan b. Then" still ends
    # Dotted acronyms: "U.S", "e.g", "i.e", "Ph.D" (the last dot is the one at `dot`).
    return "." in word and all(part.isalpha() and len(part) <= 2 for part in word.split("."))


def sentences_with_starts(text: str) -> tuple[list[str], list[int]]:
    """The sentences of ``text`` (stripped, non-empty) and their start offsets; see :func:`split_sentences`."""
    sentences, starts = [], []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        end_mark = match.group(1)
        if end_mark == "." and _is_abbreviation(text, match.start(), match.end()) and "\n" not in match.group():
            continue
        end = match.start() + len(end_mark) if end_mark else match.start()
        if end > start:
            sentences.append(text[start:end])
            starts.append(start)
        start = match.end()
    if start < len(text):
        sentences.append(text[start:])
        starts.append(start)
    # Only the first piece (leading whitespace) and pieces before a newline (trailing spaces) need a strip.
    for index, sentence in enumerate(sentences):
        if sentence[0].isspace() or sentence[-1].isspace():
            stripped = sentence.strip()
            starts[index] += len(sentence) - len(sentence.lstrip())
            sentences[index] = stripped
    if "" in sentences:
        kept = [i for i, sentence in enumerate(sentences) if sentence]
        sentences, starts = [sentences[i] for i in kept], [starts[i] for i in kept]
    return sentences, starts


def split_sentences(text: str) -> list[str]:
    """Split English prose into sentences with a few regex rules (a fast stand-in for pysbd).

    A sentence ends at ``.``/``!``/``?`` (runs like ``?!`` or ``...`` included, closing quotes and
    brackets kept with it) followed by whitespace, and at every newline. A period does not end a
    sentence after: a known abbreviation (``Dr.``, ``Fig.``, ``approx.``, ``vs.``, months...); a
    dotted acronym (``e.g.``, ``i.e.``, ``U.S.``, ``Ph.D.``); a capital initial (``J. Smith``);
    ``etc.``/``Inc.``/``al.`` unless a capital follows; ``No.``/``p.`` when a digit follows.
    Decimals (``3.5``) never split as no whitespace follows the point. A lower-case word after a
    period does start a new sentence (so connectors match case-insensitively); the price is a
    split after an unknown abbreviation ("sp. nov."), which only costs a mining opportunity.

    Args:
        text: The text to split.

    Returns:
        The sentences, stripped, in order.
    """
    return sentences_with_starts(text)[0]


_NON_SPACE_RE = re.compile(r"\S+")


def truncate_words(text: str, max_words: int) -> str:
    """The prefix of ``text`` holding its first ``max_words`` whitespace-separated words.

    Whitespace words are the token count of this transform: free to compute and close enough
    for a window margin (English prose runs about 1.3 LLaMA tokens per word, so 1848 words are
    about 2400 LLaMA tokens; lower ``max_tokens`` for a hard window).

    Args:
        text: The text.
        max_words: Words to keep.
    """
    # n words need at least 2n - 1 characters, so shorter texts cannot be over the limit.
    if len(text) < 2 * max_words + 1:
        return text
    last = next(islice(_NON_SPACE_RE.finditer(text), max_words - 1, None), None)
    return text if last is None else text[: last.end()]


# ---------------------------------------------------------------------------------------------
# Task families
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subcategory:
    """One kind of mined example and how it is rendered.

    Attributes:
        family: Task family; examples of one family form one block.
        name: Subcategory within the family.
        roles: Template field names of the mined parts, in the order the miner stores them.
        pools: ``(pool name, probability)`` choices of template pool.
        answers: Constant template fields (the NLI label verbalisations).
    """

    family: str
    name: str
    roles: tuple[str, ...]
    pools: tuple[tuple[str, float], ...]
    answers: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """Name of the subcategory in the stats column, e.g. ``nli_entail``."""
        return f"{self.family}_{self.name}"


def _nli(name: str, verdict: str, relation: str, link: str) -> Subcategory:
    return Subcategory("nli", name, ("premise", "hypothesis", "connector"),
                       ((f"nli_generate_{name}", NLI_GENERATE_P), ("nli_classify", 1 - NLI_GENERATE_P)),
                       (("verdict", verdict), ("relation", relation), ("link", link)))


SUBCATEGORIES: tuple[Subcategory, ...] = (
    _nli("entail", "Yes", "Entailment", "Therefore"),
    _nli("contradict", "No", "Contradiction", "However"),
    _nli("neutral", "Maybe", "Neutral", "Moreover"),
    Subcategory("commonsense", "cause_effect", ("cause", "effect", "connector"), (("cause_effect", 1.0),)),
    Subcategory("commonsense", "effect_cause", ("effect", "cause", "connector"), (("effect_cause", 1.0),)),
    Subcategory("paraphrase", "similar", ("sentence1", "sentence2", "connector"), (("similar", 1.0),)),
    Subcategory("paraphrase", "different", ("sentence1", "sentence2", "connector"), (("different", 1.0),)),
    Subcategory("word2text", "definition", ("term", "definition", "marker", "lead"), (("definition", 1.0),)),
    Subcategory("word2text", "topic", ("subject", "topic", "marker", "lead"), (("topic", 1.0),)),
    Subcategory("word2text", "keywords", ("words", "sentence"), (("keywords", 1.0),)),
    Subcategory("summarization", "title", ("title",), (("summarization", 1.0),)),
    # Not a task block: the completion example prints the document itself (see ReadingComprehension.render).
    Subcategory("completion", "continuation", ("first", "rest"), (("completion", 1.0),)),
)
SUBCATEGORY = {sub.key: sub for sub in SUBCATEGORIES}
#: Keys of the stats column, in a fixed order.
STATS_KEYS: tuple[str, ...] = tuple(SUBCATEGORY)
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(sub.family for sub in SUBCATEGORIES))

# Connector -> subcategories of a sentence pair it opens (the spec's lists; a connector may feed several).
_PAIR_CONNECTORS: dict[str, tuple[str, ...]] = {
    "nli_entail": ("Yes", "Therefore", "Thus", "Accordingly", "Hence", "For this reason"),
    "nli_contradict": ("No", "However", "But", "On the contrary", "In contrast", "Whereas"),
    "nli_neutral": ("Maybe", "Also", "Furthermore", "Secondly", "Additionally", "Moreover", "In addition"),
    "commonsense_cause_effect": ("Thus", "Therefore", "Accordingly", "Hence", "For this reason"),
    "paraphrase_similar": ("In other words", "Namely", "That is to say", "i.e.", "Similarly", "Equally"),
    "paraphrase_different": ("No", "However", "But", "On the contrary", "In contrast", "Whereas"),
}
_CONNECTOR_TARGETS: dict[str, tuple[str, tuple[str, ...]]] = {}
for _key, _connectors in _PAIR_CONNECTORS.items():
    for _connector in _connectors:
        _canonical, _keys = _CONNECTOR_TARGETS.get(_connector.lower(), (_connector, ()))
        _CONNECTOR_TARGETS[_connector.lower()] = (_canonical, (*_keys, _key))
_CONNECTOR_GROUPS = {f"c{index}": target for index, target in enumerate(_CONNECTOR_TARGETS.values())}
# One named group per connector: case-insensitive matches such as "ſimilarly" (long s) do not
# lower-case back to the table key, so the group name says which connector matched.
_CONNECTOR_RE = re.compile(
    "(?:" + "|".join(f"(?P<{group}>{re.escape(canonical)})" for group, (canonical, _) in _CONNECTOR_GROUPS.items())
    + r")\s*,\s+",
    re.IGNORECASE,
)
_CAUSAL = r"due to|on account of|owing to"
_EFFECT_CAUSE_RE = re.compile(rf"(.{{{MIN_PAIR_CHARS},}}?)\s+({_CAUSAL})\s+(.+)", re.IGNORECASE | re.DOTALL)
_DEFINITION_RE = re.compile(
    rf"(?:^|(?<=\s))([^\s.!?,;:\"“”()\[\]]{{{MIN_TERM_CHARS},}}?)(\s+is defined as|['’]s definition is)\s+(.+)",
    re.IGNORECASE | re.DOTALL,
)
_TOPIC_RE = re.compile(
    rf"(.{{{MIN_CLAUSE_CHARS},}}?)(\s+is about|\s+talks about|\s+was about|['’]s topic is)\s+(.+)",
    re.IGNORECASE | re.DOTALL,
)
# Lower-case substrings that the three in-sentence regexes above need: a cheap filter before them.
_MARKERS = ("due to", "on account of", "owing to", "is defined as", "s definition is", "is about", "talks about",
            "was about", "s topic is")
_WORD_RE = re.compile(r"\w+")

# Upstream's character classes (adaptllm/utils/read.py), newlines aside (a sentence here never holds one): what
# a mined part may not contain before its final punctuation. Keys: subcategories, or the part of one.
_SENTENCE_END, _NO_COMMA, _NO_COMMA_OR_SEMICOLON = re.compile(r"[.!?]"), re.compile(r"[.!?,]"), re.compile(r"[.!?,;]")
_RULES: dict[str, dict[str, re.Pattern]] = {
    "upstream": {"nli_entail": _NO_COMMA, "nli_contradict": _NO_COMMA, "nli_neutral": _NO_COMMA,
                 "commonsense_cause_effect": _NO_COMMA, "commonsense_effect_cause": _NO_COMMA_OR_SEMICOLON,
                 "paraphrase_similar": _SENTENCE_END, "paraphrase_different": _SENTENCE_END,
                 "definition": _SENTENCE_END, "topic_subject": _NO_COMMA_OR_SEMICOLON, "topic": _SENTENCE_END},
    "loose": {},
}
#: Readings of the mining rules (see the module docstring).
PATTERNS: tuple[str, ...] = tuple(_RULES)


def _rules(patterns: str) -> dict[str, re.Pattern]:
    """The character rules of a reading, or a one-line ZooError naming the readings."""
    if patterns not in _RULES:
        raise ZooError(f"patterns={patterns!r} is not a reading of the mining rules; use one of {', '.join(PATTERNS)}")
    return _RULES[patterns]


def _content(sentence: str) -> str:
    """The sentence before its final punctuation and closing quotes."""
    return sentence.rstrip(_TERMINAL + _CLOSERS)


def _allowed(rules: Mapping[str, re.Pattern], key: str, *parts: str) -> bool:
    """Whether no part breaks the reading's character rule for ``key`` (parts without final punctuation)."""
    rule = rules.get(key)
    return rule is None or not any(rule.search(part) for part in parts)


def _is_complete(sentence: str) -> bool:
    """Whether the sentence ends in terminal punctuation (possibly inside quotes/brackets)."""
    return sentence.rstrip(_CLOSERS)[-1:] in (".", "!", "?")


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


@functools.lru_cache(maxsize=16)
def _keyword_index(keywords: frozenset[str]) -> tuple[re.Pattern, int, frozenset[str], tuple[int, ...]]:
    """What :func:`_may_hold_keywords` looks up, cached (a transform passes the same set for every document):
    a regex of the words as long as the shortest keyword, that length, every keyword's first that many
    characters, and the keywords' lengths."""
    shortest = min(len(keyword) for keyword in keywords)
    return (re.compile(rf"(?<!\S)\S{{{shortest},}}"), shortest, frozenset(keyword[:shortest] for keyword in keywords),
            tuple(sorted({len(keyword) for keyword in keywords})))


def _may_hold_keywords(sentence: str, keywords: frozenset[str]) -> bool:
    """Whether enough of the sentence's words start with a keyword for the keyword task.

    A word-start piece of the domain tokenizer starts a whitespace-separated word of the
    normalised text, so a sentence that fails this needs no tokenizing (most fail: it is cheap).
    """
    long_word, shortest, heads, lengths = _keyword_index(keywords)
    text = sentence if sentence.isascii() else unicodedata.normalize("NFKC", sentence)
    words = {word for word in long_word.findall(text) if word[:shortest] in heads}
    return len(words) >= MIN_KEYWORDS and sum(
        any(word[:n] in keywords for n in lengths if n <= len(word)) for word in words) >= MIN_KEYWORDS


def _keyword_candidates(sentence: str, word_pieces: Callable[[str], Sequence[str]] | None) -> tuple[list[str], int]:
    """A sentence's keyword candidates in order, and how many distinct pieces it has.

    With the domain tokenizer (upstream's domain sentencepiece model) the candidates are its
    word-start pieces without the mark, and all its pieces count; without one, its words. The
    tokenizer splits the normalised text at spaces before its BPE, so a sentence's pieces are
    its words' pieces.
    """
    if word_pieces is None:
        words = _WORD_RE.findall(sentence)
        return words, len(set(words))
    pieces = [piece for word in unicodedata.normalize("NFKC", sentence).split() for piece in word_pieces(word)]
    return [piece[1:] for piece in pieces if piece.startswith(WORD_START)], len(set(pieces))


def mine_tasks(sentences: Sequence[str], keywords: frozenset[str] | set[str] = frozenset(),
               rng: random.Random | None = None, word_pieces: Callable[[str], Sequence[str]] | None = None,
               patterns: str = "upstream") -> dict[str, list[tuple[str, ...]]]:
    """The pair and word-to-text examples of a document.

    Every pair, effect->cause, definition and topic match is returned (the transform samples at
    most 2 per subcategory); keyword sentences are searched in a random order (document order
    without ``rng``) and the search stops at 2, like upstream's shuffle-and-break.

    Args:
        sentences: The document's sentences (see :func:`split_sentences`).
        keywords: Domain keywords for the keyword task; empty turns it off.
        rng: Random stream for the keyword search order.
        word_pieces: The domain tokenizer's pieces of one whitespace-separated word, whose word-start
            pieces are matched against the keywords (see :func:`keyword_folder` and
            :meth:`ReadingComprehension.word_pieces`); ``None`` matches whole words.
        patterns: ``upstream`` (upstream's character classes) or ``loose``; see the module docstring.

    Returns:
        Subcategory key -> mined parts, in the order of that subcategory's ``roles``.
    """
    rules = _rules(patterns)
    mined: dict[str, list[tuple[str, ...]]] = {}
    for first, second in pairwise(sentences):
        match = _CONNECTOR_RE.match(second)
        if match is None:
            continue
        rest = second[match.end():]
        premise, hypothesis = _content(first), _content(rest)
        if (len(premise) < MIN_PAIR_CHARS or len(hypothesis) < MIN_PAIR_CHARS
                or not _is_complete(first) or not _is_complete(rest)):
            continue
        connector, keys = _CONNECTOR_GROUPS[match.lastgroup]
        for key in keys:
            if _allowed(rules, key, premise, hypothesis):
                mined.setdefault(key, []).append((first, _capitalize(rest), connector))
    # One scan of the whole text first: most documents hold none of the in-sentence markers.
    whole = " ".join(sentences).lower()
    present = [marker for marker in _MARKERS if marker in whole]
    if present:
        for sentence in sentences:
            lower = sentence.lower()
            if any(marker in lower for marker in present):
                _mine_markers(sentence, mined, rules)
    if keywords:
        order = rng.sample(range(len(sentences)), len(sentences)) if rng else range(len(sentences))
        found_sentences = []
        keywords = frozenset(keywords)
        for index in order:
            if word_pieces is not None and not _may_hold_keywords(sentences[index], keywords):
                continue
            candidates, distinct = _keyword_candidates(sentences[index], word_pieces)
            if distinct > MAX_KEYWORD_SENTENCE_PIECES:
                continue
            # Sets iterate in a per-process hash order: take the keywords in sentence order instead.
            found = [word for word in dict.fromkeys(candidates) if word in keywords]
            if len(found) < MIN_KEYWORDS:
                continue
            found_sentences.append((", ".join(found[:MIN_KEYWORDS]), sentences[index]))
            if len(found_sentences) == MAX_PER_SUBCATEGORY:
                break
        if found_sentences:
            mined["word2text_keywords"] = found_sentences
    return mined


def _mine_markers(sentence: str, mined: dict[str, list[tuple[str, ...]]], rules: Mapping[str, re.Pattern]) -> None:
    """The in-sentence tasks: effect->cause, definition, topic."""
    if not _is_complete(sentence):
        return
    match = _EFFECT_CAUSE_RE.match(sentence)
    if match:
        effect, connector, cause = match.groups()
        cause_content = _content(cause)
        if len(cause_content) >= MIN_PAIR_CHARS and _allowed(rules, "commonsense_effect_cause", effect, cause_content):
            mined.setdefault("commonsense_effect_cause", []).append(
                (effect.rstrip(",;: ") + ".", _capitalize(cause), connector.lower()))
    match = _DEFINITION_RE.search(sentence)
    if match:
        term, marker, definition = match.groups()
        if len(_content(definition)) >= MIN_CLAUSE_CHARS and _allowed(rules, "definition", _content(definition)):
            mined.setdefault("word2text_definition", []).append(
                (term, definition, marker.strip(), sentence[match.start(): match.start(3)].rstrip()))
    match = _TOPIC_RE.match(sentence)
    if match:
        subject, marker, topic = match.groups()
        if (len(_content(topic)) >= MIN_CLAUSE_CHARS and _allowed(rules, "topic_subject", subject)
                and _allowed(rules, "topic", _content(topic))):
            mined.setdefault("word2text_topic", []).append(
                (subject, topic, marker.strip(), sentence[: match.start(3)].rstrip()))


# Wrapper choices by (has title, has a completable body): (families added, probability).
_WRAPPERS: dict[tuple[bool, bool], tuple[tuple[tuple[str, ...], float], ...]] = {
    (True, True): ((("summarization",), 0.4), (("completion",), 0.1), (("summarization", "completion"), 0.4),
                   ((), 0.1)),
    (True, False): ((("summarization",), 0.5), ((), 0.5)),
    (False, True): ((("completion",), 0.5), ((), 0.5)),
    (False, False): (((), 1.0),),
}


def _weighted(rng: random.Random, choices: Sequence[tuple[object, float]]):
    """One draw from ``(value, probability)`` choices (always one ``rng.random()`` call)."""
    draw = rng.random()
    for value, probability in choices:
        draw -= probability
        if draw < 0:
            return value
    return choices[-1][0]


# ---------------------------------------------------------------------------------------------
# Domain keywords
# ---------------------------------------------------------------------------------------------
def _texts_digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _train_piece_bpe(texts: Sequence[str], vocab_size: int) -> str:
    """A BPE in sentencepiece's convention: text NFKC-normalised with every whitespace run one space
    (sentencepiece's ``nmt_nfkc``), the first piece of every word carrying :data:`WORD_START`, and
    punctuation and digits split from letters (sentencepiece splits by character class), so
    "(pharmacology)." gives no word-start piece and "patients." gives "▁patients"."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " "),
                                                 normalizers.Strip()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(replacement=WORD_START), pre_tokenizers.Punctuation(), pre_tokenizers.Digits()])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer.to_str()


def keyword_folder(domain_texts: Iterable[str], general_texts: Iterable[str], vocab_size: int = 8000,
                   min_chars: int = MIN_KEYWORD_CHARS) -> Path:
    """Train (once) the two keyword tokenizers and derive the domain keywords, as upstream does with
    its two sentencepiece models: the word-start pieces of the domain tokenizer that the general one
    lacks, at least ``min_chars`` characters after the mark (upstream: ``len(piece) > 10`` with it).

    The folder, ``ZOO_HOME/cache/rc_keywords/<hash of the texts and settings>``, holds
    ``domain_tokenizer.json`` (which finds the keywords in a sentence: a sentence holds a keyword
    when one of its word-start pieces is that keyword, as upstream intersects the sentence's
    pieces), ``general_tokenizer.json`` and ``keywords.json`` (the keywords without the mark).

    Args:
        domain_texts: The domain corpus.
        general_texts: The general-language corpus.
        vocab_size: Vocabulary size of both tokenizers (upstream: 32k sentencepiece models).
        min_chars: Shortest keyword.

    Returns:
        The folder.
    """
    domain_texts, general_texts = list(domain_texts), list(general_texts)
    key = fingerprint(RC_VERSION, _texts_digest(domain_texts), _texts_digest(general_texts), vocab_size, min_chars)
    folder = cache_dir("rc_keywords") / key
    if not (folder / "keywords.json").exists():
        domain_json = _train_piece_bpe(domain_texts, vocab_size)
        general_json = _train_piece_bpe(general_texts, vocab_size)
        general_vocab = json.loads(general_json)["model"]["vocab"]
        keywords = sorted(piece[1:] for piece in json.loads(domain_json)["model"]["vocab"]
                          if piece.startswith(WORD_START) and len(piece) > min_chars and piece not in general_vocab)
        with atomic_dir(folder) as tmp:
            (tmp / "domain_tokenizer.json").write_text(domain_json, encoding="utf-8")
            (tmp / "general_tokenizer.json").write_text(general_json, encoding="utf-8")
            (tmp / "keywords.json").write_text(json.dumps(keywords, ensure_ascii=False), encoding="utf-8")
    return folder


def read_keywords(folder: Path) -> frozenset[str]:
    """The keywords of a :func:`keyword_folder`."""
    return frozenset(json.loads((folder / "keywords.json").read_text(encoding="utf-8")))


def domain_keywords(domain_texts: Iterable[str], general_texts: Iterable[str], vocab_size: int = 8000,
                    min_chars: int = MIN_KEYWORD_CHARS) -> frozenset[str]:
    """The domain keywords of :func:`keyword_folder` (same arguments)."""
    return read_keywords(keyword_folder(domain_texts, general_texts, vocab_size, min_chars))


def corpus_keyword_folder(domain_source: str, general_source: str, vocab_size: int = 8000,
                          min_chars: int = MIN_KEYWORD_CHARS, world: dict | None = None) -> Path:
    """:func:`keyword_folder` of two document sources (``tinyworld:<domain>``, a file or folder).

    Args:
        domain_source: Source of the domain corpus.
        general_source: Source of the general corpus.
        vocab_size: Vocabulary size of both tokenizers.
        min_chars: Shortest keyword.
        world: ``WorldConfig`` fields for ``tinyworld:`` sources.
    """
    texts = []
    for source in (domain_source, general_source):
        documents, _ = load_documents(source, world=world)
        texts.append([f"{title}\n\n{text}" if title else text
                      for title, text in zip(documents["title"], documents["text"])])
    return keyword_folder(texts[0], texts[1], vocab_size=vocab_size, min_chars=min_chars)


def corpus_keywords(domain_source: str, general_source: str, vocab_size: int = 8000,
                    min_chars: int = MIN_KEYWORD_CHARS, world: dict | None = None) -> frozenset[str]:
    """The domain keywords of :func:`corpus_keyword_folder` (same arguments)."""
    return read_keywords(corpus_keyword_folder(domain_source, general_source, vocab_size, min_chars, world))


# ---------------------------------------------------------------------------------------------
# The transform
# ---------------------------------------------------------------------------------------------
class RCText(NamedTuple):
    """One reading-comprehension text.

    Attributes:
        text: The document, then the task blocks.
        stats: Examples kept per subcategory (keys :data:`STATS_KEYS`).
        context_chars: Length of the document part: the body, or the completion example that prints it.
    """

    text: str
    stats: dict[str, int]
    context_chars: int


class ReadingComprehension(DocumentTransform):
    """Turn each document into its AdaptLLM reading-comprehension text (the document, then tasks).

    The output ``text`` starts with the document: the (truncated) body verbatim, or the completion
    example that prints it once around its cut (see the module docstring); ``id``, ``title`` and
    any other column pass through, :data:`CONTEXT_COLUMN` holds the document's length in
    characters, and ``stats_column`` holds the examples kept per subcategory (a dict over
    :data:`STATS_KEYS`; sum them with :func:`aggregate_stats`).

    Args:
        domain: Domain name: shown in summarization/completion questions, and the tinyworld
            domain whose keywords are used when neither ``keywords`` nor ``keyword_corpora`` is set.
        max_tokens: Body budget in whitespace-separated words (upstream keeps 1848 of a 2048-token
            window; English runs ~1.3 LLaMA tokens per word, so use ~1400 for a hard 2048 window).
        seed: Seed mixed with each document id for every random choice.
        keywords: Explicit domain keywords, matched as whole words (overrides ``keyword_corpora``;
            empty turns the keyword task off).
        keyword_corpora: ``(domain source, general source)`` to derive keywords from, each
            ``tinyworld:<domain>`` or a ``.jsonl``/``.txt`` file or folder (see
            :func:`keyword_folder`). Default: the tinyworld world of ``domain`` against
            ``tinyworld:general``; other domains get no keyword task.
        keyword_vocab_size: Vocabulary size of the two keyword tokenizers.
        min_keyword_chars: Shortest keyword, in characters (upstream: 10).
        patterns: ``upstream`` (upstream's character rules: no comma in NLI and cause/effect
            sentences...) or ``loose`` (no character rules); see the module docstring.
        stats_column: Column for the per-document counts; ``None`` leaves it out.
    """

    #: The title is the answer of the summarization task; printed above the text it would give it away.
    keeps_title = False

    def __init__(self, domain: str = "biomed", max_tokens: int = 1848, seed: int = 0,
                 keywords: list[str] | None = None, keyword_corpora: tuple[str, str] | None = None,
                 keyword_vocab_size: int = 8000, min_keyword_chars: int = MIN_KEYWORD_CHARS,
                 patterns: str = "upstream", stats_column: str | None = "rc_stats"):
        check_int("max_tokens", max_tokens, 1, "words of each document kept")
        _rules(patterns)
        self.domain, self.max_tokens, self.seed, self.patterns = domain, max_tokens, seed, patterns
        self.keywords = sorted(set(keywords)) if keywords is not None else None
        self.keyword_corpora = tuple(keyword_corpora) if keyword_corpora else None
        self.keyword_vocab_size, self.min_keyword_chars = keyword_vocab_size, min_keyword_chars
        self.stats_column = stats_column
        # Part of the fingerprint: editing a template or the miner rebuilds cached RC data.
        self.version = f"{RC_VERSION}-{templates_fingerprint()}"
        self._keyword_set: frozenset[str] | None = frozenset(self.keywords) if self.keywords is not None else None
        # Explicit keywords are matched as words; derived ones through the domain tokenizer (keyword_set loads it),
        # whose pieces are memoised per word: a corpus repeats its words, and one encode call costs ~20 us.
        self._keyword_tokenizer: Tokenizer | None = None
        self._word_pieces: dict[str, tuple[str, ...]] = {}

    def report(self, transformed) -> dict | None:
        """Totals of the mined examples per subcategory and family (see :func:`aggregate_stats`)."""
        if not self.stats_column or self.stats_column not in transformed.column_names:
            return None
        return aggregate_stats(transformed[self.stats_column])

    def keyword_set(self) -> frozenset[str]:
        """The domain keywords in use, derived (and cached on disk) on first use with their domain tokenizer."""
        if self._keyword_set is None:
            corpora = self.keyword_corpora
            if corpora is None:
                if self.domain in DOMAINS and self.domain != "general":
                    corpora = (f"tinyworld:{self.domain}", "tinyworld:general")
                else:
                    log.warning("reading comprehension: no keyword corpora for domain %r; the keyword task is off "
                                "(pass keyword_corpora=(domain source, general source) or keywords)", self.domain)
            if corpora:
                folder = corpus_keyword_folder(*corpora, vocab_size=self.keyword_vocab_size,
                                               min_chars=self.min_keyword_chars)
                self._keyword_tokenizer = Tokenizer.from_file(str(folder / "domain_tokenizer.json"))
                self._keyword_set = read_keywords(folder)
            else:
                self._keyword_set = frozenset()
        return self._keyword_set

    def word_pieces(self, word: str) -> tuple[str, ...]:
        """The domain tokenizer's pieces of one whitespace-separated word (call :meth:`keyword_set` first).

        Args:
            word: The word, NFKC-normalised.
        """
        pieces = self._word_pieces.get(word)
        if pieces is None:
            if len(self._word_pieces) >= WORD_CACHE_SIZE:
                self._word_pieces.clear()
            pieces = tuple(self._keyword_tokenizer.encode(word, add_special_tokens=False).tokens)
            self._word_pieces[word] = pieces
        return pieces

    def document_rng(self, doc_id: str) -> random.Random:
        """The random stream of one document: blake2b of seed and id (Python's ``hash`` is salted per process)."""
        digest = hashlib.blake2b(f"{self.seed}\0{doc_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    # The three stages, separate so the benchmark can time them on the real code path.
    def split(self, text: str) -> tuple[str, list[str], list[int]]:
        """Stage 1: the truncated body, its sentences and their start offsets."""
        body = truncate_words(text, self.max_tokens)
        return (body, *sentences_with_starts(body))

    def mine(self, sentences: Sequence[str], rng: random.Random) -> dict[str, list[tuple[str, ...]]]:
        """Stage 2: the mined examples (see :func:`mine_tasks`)."""
        keywords = self.keyword_set()  # first: it loads the domain tokenizer
        word_pieces = self.word_pieces if self._keyword_tokenizer is not None else None
        return mine_tasks(sentences, keywords, rng, word_pieces, self.patterns)

    def render(self, title: str, body: str, sentences: Sequence[str], starts: Sequence[int],
               mined: Mapping[str, list[tuple[str, ...]]], rng: random.Random) -> RCText:
        """Stage 3: the RC text, the examples kept per subcategory and the document's length."""
        title = title.strip()
        completable = len(sentences) >= MIN_COMPLETION_SENTENCES
        wrapper = _weighted(rng, _WRAPPERS[bool(title) and bool(sentences), completable])
        chosen = {}
        for key, items in mined.items():
            chosen[key] = rng.sample(items, MAX_PER_SUBCATEGORY) if len(items) > MAX_PER_SUBCATEGORY else items
        if "summarization" in wrapper:
            chosen["summarization_title"] = [(title,)]
        document, completed = body, "completion" in wrapper
        if completed:
            # The article is printed once, its second part as the answer (upstream's completion templates).
            cut = rng.randint(1, len(sentences) - 1)
            parts = (body[:starts[cut]].rstrip(), body[starts[cut]:].rstrip())
            document = self._fill(SUBCATEGORY["completion_continuation"], parts, rng)
        blocks: dict[str, list[str]] = {}
        for sub in SUBCATEGORIES:  # table order, so the draws do not depend on dict order
            for parts in chosen.get(sub.key, ()):
                blocks.setdefault(sub.family, []).append(self._fill(sub, parts, rng))
        families = list(blocks)
        rng.shuffle(families)
        pieces = [document]
        # Distinct intros within a document (5 families at most, 18 intros).
        for family, intro in zip(families, rng.sample(INTROS, len(families))):
            examples = blocks[family]
            rng.shuffle(examples)
            pieces.append(intro + "\n" + "\n\n".join(examples))
        stats = {key: len(chosen.get(key, ())) for key in STATS_KEYS}
        stats["completion_continuation"] = int(completed)
        return RCText("\n\n".join(pieces), stats, len(document))

    def _fill(self, sub: Subcategory, parts: tuple[str, ...], rng: random.Random) -> str:
        pool = _weighted(rng, sub.pools) if len(sub.pools) > 1 else sub.pools[0][0]
        question, answer = rng.choice(POOLS[pool])
        fields = {"domain": self.domain, **dict(sub.answers), **dict(zip(sub.roles, parts))}
        return f"{question.format_map(fields)} {answer.format_map(fields)}"

    def convert(self, doc_id: str, title: str, text: str) -> RCText:
        """The RC text of one document, its stats and its document's length.

        Args:
            doc_id: Document id (seeds every random choice).
            title: Title, possibly empty.
            text: Body.
        """
        rng = self.document_rng(doc_id)
        body, sentences, starts = self.split(text)
        return self.render(title, body, sentences, starts, self.mine(sentences, rng), rng)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        converted = [self.convert(str(doc_id), title or "", text or "")
                     for doc_id, title, text in zip(batch["id"], batch["title"], batch["text"])]
        out = {**batch, "text": [rc.text for rc in converted],
               CONTEXT_COLUMN: [rc.context_chars for rc in converted]}
        if self.stats_column:
            out[self.stats_column] = [rc.stats for rc in converted]
        return out


# ---------------------------------------------------------------------------------------------
# Stats for model cards
# ---------------------------------------------------------------------------------------------
def aggregate_stats(rows: Iterable[Mapping[str, int] | str]) -> dict:
    """Sum per-document stats (dicts or their JSON) into corpus totals for a model card.

    Args:
        rows: The stats column, e.g. ``dataset["rc_stats"]`` or the ``rc_stats`` of an output file.

    Returns:
        ``{"documents", "documents_with_tasks", "examples", "examples_per_document",
        "subcategories": {key: {"examples", "documents"}}, "families": {family: {...}}}``.
    """
    totals = {key: {"examples": 0, "documents": 0} for key in STATS_KEYS}
    families = {family: {"examples": 0, "documents": 0} for family in FAMILIES}
    n_documents = with_tasks = 0
    for row in rows:
        counts = json.loads(row) if isinstance(row, str) else row
        n_documents += 1
        seen_families = set()
        for key in STATS_KEYS:
            count = counts.get(key) or 0
            if count:
                totals[key]["examples"] += count
                totals[key]["documents"] += 1
                families[SUBCATEGORY[key].family]["examples"] += count
                seen_families.add(SUBCATEGORY[key].family)
        for family in seen_families:
            families[family]["documents"] += 1
        with_tasks += bool(seen_families)
    examples = sum(entry["examples"] for entry in totals.values())
    return {"documents": n_documents, "documents_with_tasks": with_tasks, "examples": examples,
            "examples_per_document": examples / n_documents if n_documents else 0.0,
            "subcategories": totals, "families": families}


def stats_table(summary: Mapping) -> str:
    """A Markdown table of :func:`aggregate_stats` output (examples and share of documents)."""
    n = max(summary["documents"], 1)
    lines = [(f"{summary['documents']} documents, {summary['examples']} examples "
             f"({summary['examples_per_document']:.2f} per document)"), "",
             "| subcategory | examples | documents |", "|---|---:|---:|"]
    for key, entry in summary["subcategories"].items():
        lines.append(f"| {key} | {entry['examples']} | {entry['documents'] / n:.1%} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# File conversion (zoo synth rc)
# ---------------------------------------------------------------------------------------------
def _check_characters(record: dict, where: str) -> None:
    """Raise a one-line ZooError naming the field when a string field holds a lone surrogate (a
    ``"\\ud800"`` JSON escape), which the UTF-8 output could not hold."""
    for field in ("id", "title", "text"):
        value = record.get(field)
        if isinstance(value, str) and (match := LONE_SURROGATE.search(value)):
            raise ZooError(f'{where}: "{field}" holds the lone surrogate escape \\u{ord(match.group()):04x} (half '
                           "of a UTF-16 pair), which is not text; fix the file's writer or drop the escape")


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ZooError(f"{where} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                       "re-encode it, e.g. iconv -f latin1 -t utf-8") from None


def read_documents(path: str | os.PathLike) -> Iterator[tuple[dict, int]]:
    """Documents of a ``.jsonl`` file (``text``, optional ``title`` and ``id``) or of a folder of
    ``.txt`` files (line 1 the title, the rest the body, the id the relative path without suffix).

    Args:
        path: The file or folder.

    Yields:
        ``({"id", "title", "text"}, input bytes)`` per document.

    Raises:
        ZooError: for a missing path, another format, non-UTF-8 bytes, bad JSON, a missing ``text`` or
            a lone surrogate escape (``\\ud800``) in a ``.jsonl`` string.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise ZooError(f"{path}: folder has no .txt files; pass a .jsonl file or a folder of .txt documents")
        for file in files:
            data = file.read_bytes()
            title, _, body = _decode(data, str(file)).partition("\n")
            doc_id = file.relative_to(path).with_suffix("").as_posix()
            yield {"id": doc_id, "title": title.strip(), "text": body}, len(data)
    elif path.suffix == ".jsonl" and path.is_file():
        with open(path, "rb") as handle:
            index = 0
            for number, raw in enumerate(handle, 1):
                where = f"{path} line {number}"
                line = _decode(raw, where)
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ZooError(f"{where} is not valid JSON ({error.msg}); write one object per line") from None
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise ZooError(f'{where} has no "text" string; each line needs {{"text": ...}}')
                _check_characters(record, where)
                doc_id = record.get("id")
                yield {"id": str(doc_id) if doc_id is not None else f"doc{index:08d}",
                       "title": str(record.get("title") or ""), "text": record["text"]}, len(raw)
                index += 1
    elif not path.exists():
        raise ZooError(f"input not found: {path}; pass a .jsonl file or a folder of .txt files")
    else:
        raise ZooError(f"{path}: unsupported input; pass a .jsonl file or a folder of .txt files")


def _input_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.txt")) if path.is_dir() else path.stat().st_size


def convert_file(in_path: str | os.PathLike, out_path: str | os.PathLike, domain: str = "biomed",
                 max_tokens: int = 1848, seed: int = 0, keyword_corpora: tuple[str, str] | None = None,
                 batch_size: int = 512) -> dict:
    """Convert a document file or folder into RC texts (``zoo synth rc``).

    The output ``.jsonl`` has one ``{"id", "title", "text", "rc_stats"}`` object per document and
    is written to a temporary file first, then moved into place, so it is complete or absent (the
    temporary of a killed run is removed by the next run, see ``zoo.paths.atomic_file``). A
    progress bar appears when a conversion takes more than two seconds.

    Args:
        in_path: A ``.jsonl`` file or a folder of ``.txt`` files (see :func:`read_documents`).
        out_path: The ``.jsonl`` file to write.
        domain: Domain name (see :class:`ReadingComprehension`).
        max_tokens: Body budget in words.
        seed: Seed of the random choices.
        keyword_corpora: ``(domain source, general source)`` for the keywords, e.g.
            ``(in_path, "general.jsonl")``; default as in :class:`ReadingComprehension`.
        batch_size: Documents converted per batch.

    Returns:
        :func:`aggregate_stats` of the output.

    Raises:
        ZooError: for unreadable input (see :func:`read_documents`), an input without documents, a
            ``batch_size`` below 1, or an ``out_path`` that is a folder, lies under a file or in a
            read-only folder.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    check_int("batch_size", batch_size, 1, "documents converted per batch")
    transform = ReadingComprehension(domain=domain, max_tokens=max_tokens, seed=seed, keyword_corpora=keyword_corpora)
    documents = read_documents(in_path)
    first = next(documents, None)  # read errors surface before any output is created
    if first is None:
        raise ZooError(f"{in_path}: no documents; the input is empty")
    with atomic_file(out_path) as handle, \
            tqdm(total=_input_bytes(in_path), unit="B", unit_scale=True, desc="rc", delay=2) as progress:
        # Stats are summed as the batches stream through, so memory stays flat on large inputs.
        return aggregate_stats(_convert_batches(transform, chain([first], documents), batch_size, handle, progress))


def _convert_batches(transform: ReadingComprehension, documents: Iterator[tuple[dict, int]], batch_size: int,
                     handle, progress) -> Iterator[dict[str, int]]:
    """Convert and write documents batch by batch; yields each document's stats."""
    while batch := list(islice(documents, batch_size)):
        out = transform({name: [doc[name] for doc, _ in batch] for name in ("id", "title", "text")})
        for i in range(len(batch)):
            record = {name: out[name][i] for name in ("id", "title", "text", "rc_stats")}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        progress.update(sum(size for _, size in batch))
        yield from out["rc_stats"]
