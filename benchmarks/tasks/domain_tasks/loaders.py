"""Datasets of the zoo's domain tasks (AdaptLLM's evaluation sets), from ``ZOO_DATA_DIR`` or the hub.

Called by lm-eval as ``custom_dataset(**metadata, **dataset_kwargs)`` (the task YAMLs pass ``name``)
and returns ``{"test": Dataset}``. As for the real general tasks (``real_general/loaders.py``,
whose source plumbing this reuses), the local files and the hub copy of a set become the same
records, and the task YAMLs render those. ``ZOO_DATA_DIR`` is read at call time, so one
``TaskManager`` serves any data folder.

Records. The classification and multiple-choice sets carry their answer options and the gold
index, ``{..., "choices": [str, ...], "gold": int}``, the options spelled by the tables below (the
one place a verbalizer is written; changing one changes scores). UNFAIR-ToS is multi-label: its
``gold`` is the list of every correct option. ConvFinQA is answered by generation:
``{"context", "history": [[question, answer], ...], "question", "answer"}``.

Local files, under ``ZOO_DATA_DIR/<folder>``, in the upstream formats:

============== ================= ==============================================================
task           folder            files and format
============== ================= ==============================================================
rct            pubmed_rct        ``test.txt`` of PubMed 20k RCT (github Franck-Dernoncourt/
                                 pubmed-rct): a ``###PMID`` line opens each abstract, then one
                                 ``LABEL<TAB>sentence`` line per sentence (BACKGROUND,
                                 OBJECTIVE, METHODS, RESULTS, CONCLUSIONS), a blank line after
usmle          medqa             ``phrases_no_exclude_test.jsonl`` of MedQA
                                 (``data_clean/questions/US/4_options``): JSON lines
                                 ``{question, answer, options: {A..D}, meta_info, answer_idx,
                                 metamap_phrases}``
mqp            mqp               ``mqp.csv`` (github curai/medical-question-pair-dataset): no
                                 header, rows ``dr_id, question_1, question_2, label`` (1:
                                 similar, 0: different)
fiqa_sa        fiqa              ``task1_headline_ABSA_train.json`` and
                                 ``task1_post_ABSA_train.json`` (FiQA 2018 task 1): ``{id:
                                 {sentence, info: [{snippets, target, sentiment_score,
                                 aspects}]}}``, one record per (sentence, target)
fpb            financial_        ``Sentences_AllAgree.txt`` of FinancialPhraseBank-v1.0
               phrasebank        (ISO-8859-1): ``sentence@label`` lines, label negative,
                                 neutral or positive
headline       headline          ``gold-dataset-sinha-khandait.csv`` (Kaggle "gold commodity
                                 news and dimensions"): header, ``News`` and the 0/1 columns
                                 ``Price or Not, Direction Up, Direction Constant, Direction
                                 Down, PastPrice, FuturePrice, PastNews, FutureNews, Asset
                                 Comparision`` (matched ignoring case, spaces and punctuation);
                                 nine yes/no records per headline
finance_ner    finance_ner       ``FIN3.txt`` (Salinas Alvarado et al. 2015, the test half):
                                 CoNLL columns, token first and NER tag last (``I-ORG``,
                                 ``B-PER``, bare ``ORG`` or ``O``), a blank line between
                                 sentences, ``-DOCSTART-`` lines skipped
convfinqa      convfinqa         ``dev.json`` of ConvFinQA (github czyssrs/ConvFinQA; its test
                                 answers are private): a list of ``{pre_text, post_text, table,
                                 annotation: {dialogue_break, exe_ans_list, ...}}``, one record
                                 per turn (1490)
scotus         scotus            ``scotus.jsonl`` of LexGLUE (zenodo 5532997): JSON lines
                                 ``{text, issueArea, data_type}``, issueArea the 0-based SCDB
                                 issue area (as LexGLUE's experiments read it); the
                                 ``data_type == "test"`` rows
casehold       casehold          ``test.csv`` of CaseHOLD (reglab/casehold's split, columns as
                                 its ``casehold.csv``): a header, then by position 1 the citing
                                 excerpt with its ``(<HOLDING>)`` slot, 2-6 the five holdings,
                                 12 the gold index
unfair_tos     unfair_tos        ``unfair_tos.jsonl`` of LexGLUE: JSON lines ``{text, labels:
                                 [type name, ...], data_type}``; the ``test`` rows
============== ================= ==============================================================

Hub copies (without ``ZOO_DATA_DIR``), all usable by ``datasets>=4`` (no loading script runs):

============ ======================================================= ======================
task         hub id (config) split                                   row format
============ ======================================================= ======================
rct          armanc/pubmed-rct20k test                               abstract_id, label
                                                                     (lower case), text
usmle        GBaker/MedQA-USMLE-4-options test                       the local JSON lines
mqp          curaihealth/medical_questions_pairs train (all 3048)    dr_id, question_1,
                                                                     question_2, label
fiqa_sa      TheFinAI/fiqa-sentiment-classification                  sentence, target,
             train+valid+test (all 1173 pairs)                       score, ...
fpb          takala/financial_phrasebank: the upstream archive       the local file
             ``data/FinancialPhraseBank-v1.0.zip`` it hosts (its
             loading script is not run)
headline     FinGPT/fingpt-headline test (20547 = 2283 headlines x9) input, output (Yes/No),
                                                                     instruction
finance_ner  tner/fin: the upstream ``dataset/FIN3.txt`` it hosts     the local file
convfinqa    ChanceFocus/flare-convfinqa test (1490 turns)           query (FLARE's prompt,
                                                                     parsed), answer
scotus       coastalcph/lex_glue (scotus) test                       text, label
casehold     coastalcph/lex_glue (case_hold) test                    context, endings,
                                                                     label
unfair_tos   coastalcph/lex_glue (unfair_tos) test                   text, labels (indices)
============ ======================================================= ======================

Where the two sources differ (the sets have no single official test file):

* RCT: the hub copy is Jin & Szolovits' cleaned PubMed 20k (29578 test sentences, 30135 in
  ``test.txt``);
* MQP, FiQA-SA, FPB: no official split, so every labelled item is evaluated (AdaptLLM
  evaluates a 20% split: 970 FPB sentences of the 50%-agreement file, 235 FiQA items); FPB is
  the all-annotators-agree file, whose labels are unambiguous;
* Headline: the hub copy is FinGPT's test split (20547 questions, as many as AdaptLLM's Headline
  set), the local CSV gives every headline;
* ConvFinQA: FLARE's rows hold a rendered prompt; its context (pre-text, HTML table rendered as
  ``cell | cell`` rows, post-text) is FLARE's linearization, so hub and local prompts differ in
  the table text.

FiQA sentiment scores in [-1, 1] become negative (< -0.1), neutral (< 0.1) or positive, the
thresholds of FinGPT's FiQA benchmark. The finance NER task scores entity typing: one question per
gold PER, ORG or LOC entity of a sentence ("what type of entity is X?"), the MISC entities dropped
as BloombergGPT drops them; AdaptLLM's generative entity-level F1 needs a model that writes entity
lists, which a likelihood score cannot reward.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import datasets
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import LocalEntryNotFoundError

from benchmarks.tasks.real_general.loaders import HubSource, as_test_split, data_dir, hub_rows, local_data, read_jsonl


# NamedTuples, not dataclasses: lm-eval runs this file before it is in sys.modules, which
# dataclasses need.
class HubFile(NamedTuple):
    """An upstream file that a hub dataset repository hosts beside a loading script.

    ``datasets>=4`` no longer runs loading scripts, but the files they read are still there.

    Args:
        repo: Hub dataset id.
        filename: Path of the file in the repository.
        member: Path inside the file when it is a zip archive (None: the file itself).
        encoding: Text encoding of the (member) file.
    """

    repo: str
    filename: str
    member: str | None = None
    encoding: str = "utf-8"

    def __str__(self) -> str:
        member = f" ({self.member})" if self.member else ""
        return f"{self.repo}/{self.filename}{member}"


def hub_text(dataset: str, source: HubFile) -> str:
    """The text of an upstream file hosted on the hub (or in the local hub cache).

    Args:
        dataset: The set's name, for the error message.
        source: The file.

    Raises:
        ConnectionError: The hub cannot be reached and the file is not cached; one line, worded as
            ``real_general.loaders.hub_rows`` words it.
    """
    try:
        path = hf_hub_download(source.repo, source.filename, repo_type="dataset")
    except LocalEntryNotFoundError as err:
        message = " ".join(str(err).split())
        raise ConnectionError(
            f"{dataset}: ZOO_DATA_DIR is not set and the hub copy {source} cannot be loaded "
            f"({message}); set ZOO_DATA_DIR to the folder of the local data sets"
        ) from err
    if source.member is None:
        return Path(path).read_bytes().decode(source.encoding)
    with zipfile.ZipFile(path) as archive:
        return archive.read(source.member).decode(source.encoding)


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """A local text file's content.

    Args:
        path: The file.
        encoding: Its encoding.
    """
    return path.read_text(encoding=encoding)


def read_csv(text: str) -> list[list[str]]:
    """The rows of CSV text (fields may hold quoted newlines).

    Args:
        text: The CSV content.
    """
    return list(csv.reader(io.StringIO(text)))


def _check(name: str, value: Any, known: Iterable) -> None:
    """Raise a ValueError naming ``value`` when it is not one of ``known``."""
    known = list(known)
    if value not in known:
        raise ValueError(f"unknown {name} {value!r}; known: {known}")


# ----------------------------------------------------------------------------- biomedicine

#: PubMed RCT sentence roles, in the upstream order of an abstract; the option words.
RCT_LABELS = ("background", "objective", "methods", "results", "conclusions")


def rct_record(abstract_id: str, label: str, text: str) -> dict:
    """One PubMed RCT sentence as a record.

    Args:
        abstract_id: The abstract's PMID.
        label: Its role, in any case (``test.txt`` upper-cases it, the hub copy does not).
        text: The sentence.

    Raises:
        ValueError: A role outside ``RCT_LABELS``.
    """
    label = label.lower()
    _check("PubMed RCT label", label, RCT_LABELS)
    return {"abstract_id": str(abstract_id), "text": text.strip(), "choices": list(RCT_LABELS),
            "gold": RCT_LABELS.index(label)}


def rct_records(text: str) -> list[dict]:
    """The sentences of a PubMed RCT ``test.txt`` as records.

    Args:
        text: The file's content: ``###PMID`` lines, ``LABEL<TAB>sentence`` lines, blank lines.
    """
    records, abstract_id = [], None
    for line in text.splitlines():
        if line.startswith("###"):
            abstract_id = line[3:].strip()
        elif line.strip():
            label, sentence = line.split("\t", 1)
            records.append(rct_record(abstract_id, label, sentence))
    return records


def rct_hub_record(row: dict) -> dict:
    """An ``armanc/pubmed-rct20k`` row (abstract_id, label, text, sentence_id) as a record.

    Args:
        row: The hub row.
    """
    return rct_record(row["abstract_id"], row["label"], row["text"])


def medqa_record(row: dict) -> dict:
    """A MedQA row (question, options {A..D}, answer_idx; local file and hub alike) as a record.

    Args:
        row: The upstream row.
    """
    # The options come as a JSON object (a struct column on the hub): order them by letter.
    letters = sorted(row["options"])
    return {"question": row["question"], "choices": [row["options"][k] for k in letters],
            "gold": letters.index(row["answer_idx"])}


#: MQP's answers: label 0 is a different question, 1 the same question reworded.
MQP_CHOICES = ("no", "yes")


def mqp_record(row: dict) -> dict:
    """An MQP pair (question_1, question_2, label 0/1) as a record.

    Args:
        row: The hub row, or a ``mqp.csv`` row keyed by ``MQP_COLUMNS``.
    """
    return {"question_1": row["question_1"].strip(), "question_2": row["question_2"].strip(),
            "choices": list(MQP_CHOICES), "gold": int(row["label"])}


#: The columns of ``mqp.csv``, which has no header.
MQP_COLUMNS = ("dr_id", "question_1", "question_2", "label")


# ----------------------------------------------------------------------------- finance

#: Sentiment answers of FiQA-SA and FPB.
SENTIMENTS = ("negative", "neutral", "positive")


def fiqa_label(score: float) -> str:
    """FiQA's sentiment score in [-1, 1] as a class (FinGPT's thresholds).

    Args:
        score: The annotated score.
    """
    if score < -0.1:
        return "negative"
    return "neutral" if score < 0.1 else "positive"


def fiqa_record(sentence: str, target: str, score: float | str) -> dict:
    """One FiQA (sentence, target) pair as a record.

    Args:
        sentence: The headline or post.
        target: The entity the sentiment is about.
        score: Its sentiment score (a string in the upstream JSON).
    """
    return {"sentence": sentence.strip(), "target": target, "choices": list(SENTIMENTS),
            "gold": SENTIMENTS.index(fiqa_label(float(score)))}


def fiqa_records(data: dict) -> list[dict]:
    """The records of one FiQA task 1 JSON file (``{id: {sentence, info: [...]}}``).

    Args:
        data: The parsed file.
    """
    return [fiqa_record(item["sentence"], info["target"], info["sentiment_score"])
            for item in data.values() for info in item["info"]]


def fiqa_hub_record(row: dict) -> dict:
    """A ``TheFinAI/fiqa-sentiment-classification`` row (sentence, target, score, ...) as a record.

    Args:
        row: The hub row.
    """
    return fiqa_record(row["sentence"], row["target"], row["score"])


def fpb_records(text: str) -> list[dict]:
    """The sentences of a FinancialPhraseBank file (``sentence@label`` lines) as records.

    Args:
        text: The file's content.

    Raises:
        ValueError: A label outside ``SENTIMENTS``.
    """
    records = []
    for line in text.splitlines():
        if line.strip():
            # Some sentences contain "@" themselves: the label follows the last one.
            sentence, label = line.rsplit("@", 1)
            _check("FPB label", label.strip(), SENTIMENTS)
            records.append({"sentence": sentence.strip(), "choices": list(SENTIMENTS),
                            "gold": SENTIMENTS.index(label.strip())})
    return records


class HeadlineQuestion(NamedTuple):
    """One of the nine yes/no questions asked of each gold news headline.

    Args:
        column: The 0/1 column of the Kaggle CSV that answers it.
        text: The question, worded as FinGPT's and AdaptLLM's prompts word it.
    """

    column: str
    text: str


#: The questions in the order of the CSV's columns and of FinGPT's nine rows per headline.
HEADLINE_QUESTIONS = (
    HeadlineQuestion("Price or Not", "Does the news headline talk about price?"),
    HeadlineQuestion("Direction Up", "Does the news headline talk about price going up?"),
    HeadlineQuestion("Direction Constant", "Does the news headline talk about price staying constant?"),
    HeadlineQuestion("Direction Down", "Does the news headline talk about price going down?"),
    HeadlineQuestion("PastPrice", "Does the news headline talk about price in the past?"),
    HeadlineQuestion("FuturePrice", "Does the news headline talk about price in the future?"),
    HeadlineQuestion("PastNews", "Does the news headline talk about a general event (apart from prices) in the past?"),
    HeadlineQuestion("FutureNews",
                     "Does the news headline talk about a general event (apart from prices) in the future?"),
    HeadlineQuestion("Asset Comparision", "Does the news headline compare gold with any other asset?"),
)
#: Answers of every headline question (0: no, 1: yes).
HEADLINE_CHOICES = ("no", "yes")


def headline_record(headline: str, question_type: int, answer: int) -> dict:
    """One (headline, question) pair as a record.

    Args:
        headline: The news headline.
        question_type: Index of the question in ``HEADLINE_QUESTIONS``.
        answer: 1 for yes, 0 for no.
    """
    return {"headline": headline.strip(), "question_type": question_type,
            "question": HEADLINE_QUESTIONS[question_type].text, "choices": list(HEADLINE_CHOICES),
            "gold": answer}


def _column_key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def headline_records(text: str) -> list[dict]:
    """The Kaggle gold-news CSV as nine records per headline, in row order.

    Args:
        text: The CSV content (with its header).

    Raises:
        KeyError: A question's column is missing.
    """
    header, *rows = read_csv(text)
    # The published CSV's headers vary in spacing ("PastPrice", "Past Price"): match loosely.
    position = {_column_key(name): i for i, name in enumerate(header)}
    columns = [question.column for question in HEADLINE_QUESTIONS]
    missing = [c for c in ["News", *columns] if _column_key(c) not in position]
    if missing:
        raise KeyError(f"headline CSV lacks the columns {missing}; it has {header}")
    news, answers = position[_column_key("News")], [position[_column_key(c)] for c in columns]
    return [headline_record(row[news], q, int(float(row[at])))
            for row in rows if row for q, at in enumerate(answers)]


def headline_hub_record(row: dict) -> dict:
    """A ``FinGPT/fingpt-headline`` row (input, output Yes/No, instruction) as a record.

    Args:
        row: The hub row; its instruction is the question, then "Please choose an answer from
            {Yes/No}.".

    Raises:
        ValueError: A question or answer that is not one of the nine questions' or yes/no.
    """
    question = row["instruction"][: row["instruction"].index("?") + 1]
    texts = [q.text for q in HEADLINE_QUESTIONS]
    _check("headline question", question, texts)
    answer = row["output"].strip().lower()
    _check("headline answer", answer, HEADLINE_CHOICES)
    return headline_record(row["input"], texts.index(question), HEADLINE_CHOICES.index(answer))


#: The entity types the NER task asks about (MISC is dropped); the option words.
NER_TYPES = {"PER": "person", "ORG": "organization", "LOC": "location"}


def conll_sentences(text: str) -> Iterator[list[tuple[str, str]]]:
    """The (token, tag) sentences of a CoNLL file: token first, tag last, blank-line separated.

    Args:
        text: The file's content.
    """
    sentence = []
    for line in [*text.splitlines(), ""]:
        fields = line.split()
        if fields and not fields[0].startswith("-DOCSTART-"):
            sentence.append((fields[0], fields[-1]))
        elif sentence:
            yield sentence
            sentence = []


def entity_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """The entities of a tag sequence as (start, end, type), end exclusive.

    Reads IOB1 (``I-`` inside, ``B-`` only between adjacent entities of a type), IOB2 and bare
    types alike: a token continues the open entity when its type is the same and its tag does
    not say ``B-``.

    Args:
        tags: One tag per token (``O``, ``B-X``, ``I-X`` or ``X``).
    """
    spans = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        prefix, _, kind = tag.rpartition("-")
        if spans and spans[-1][1] == i and spans[-1][2] == kind and prefix != "B":
            spans[-1] = (spans[-1][0], i + 1, kind)
        else:
            spans.append((i, i + 1, kind))
    return spans


def ner_records(text: str) -> list[dict]:
    """One entity-typing record per PER, ORG or LOC entity of a CoNLL file, in file order.

    Args:
        text: The file's content.
    """
    types = list(NER_TYPES)
    records = []
    for sentence in conll_sentences(text):
        tokens, tags = zip(*sentence)
        for start, end, kind in entity_spans(list(tags)):
            if kind in NER_TYPES:
                records.append({"sentence": " ".join(tokens), "entity": " ".join(tokens[start:end]),
                                "choices": list(NER_TYPES.values()), "gold": types.index(kind)})
    return records


def answer_text(answer: float | str) -> str:
    """A ConvFinQA executed answer as text: at most 5 decimals, no trailing zeros; yes/no as is.

    Args:
        answer: An ``exe_ans_list`` entry.
    """
    if isinstance(answer, str):
        return answer
    return f"{answer:.5f}".rstrip("0").rstrip(".")


def convfinqa_context(entry: dict) -> str:
    """A ConvFinQA filing as text: pre-text, the table as ``cell | cell`` rows, post-text.

    Args:
        entry: An upstream ``dev.json`` entry.
    """
    table = "\n".join(" | ".join(row) for row in entry["table"])
    return f"{' '.join(entry['pre_text'])}\n{table}\n{' '.join(entry['post_text'])}"


def convfinqa_records(entries: list[dict]) -> list[dict]:
    """One record per turn of the ConvFinQA conversations, the earlier turns as its history.

    Args:
        entries: The parsed ``dev.json``.
    """
    records = []
    for entry in entries:
        context = convfinqa_context(entry)
        questions = entry["annotation"]["dialogue_break"]
        answers = [answer_text(a) for a in entry["annotation"]["exe_ans_list"]]
        for turn, question in enumerate(questions):
            records.append({"context": context, "history": [list(qa) for qa in zip(questions[:turn], answers)],
                            "question": question, "answer": answers[turn]})
    return records


#: FLARE's ConvFinQA prompt: instruction, "Context: ...", "Conversations:" with "qN: ... answer: ..."
#: lines, "Question: ...", and maybe a final "Answer:".
_FLARE_QUERY = re.compile(
    r"\nContext: (?P<context>.*)\nConversations: ?\n(?P<history>.*?)Question: (?P<question>.*?)(?:\nAnswer:)?\s*\Z",
    re.S,
)
_FLARE_TURN = re.compile(r"q\d+: (.*?) answer: (.*?)\n")
_HTML_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
_HTML_CELL = re.compile(r"<td>(.*?)</td>", re.S)
_HTML_TABLE = re.compile(r"\s*<table[^>]*>(.*?)</table>\s*", re.S)


def _html_table_rows(match: re.Match) -> str:
    rows = [" | ".join(_HTML_CELL.findall(row)) for row in _HTML_ROW.findall(match.group(1))]
    return "\n" + "\n".join(rows) + "\n"


def convfinqa_hub_record(row: dict) -> dict:
    """A FLARE ``flare-convfinqa`` row (query, answer) as a record, its prompt parsed back.

    Args:
        row: The hub row.

    Raises:
        ValueError: The query is not laid out as FLARE's prompt.
    """
    match = _FLARE_QUERY.search(row["query"])
    if match is None:
        raise ValueError(f"not a FLARE ConvFinQA query (Context/Conversations/Question): {row['query'][:200]!r}")
    # FLARE writes the table as HTML between the pre- and post-text: give it the local rows' form.
    context = _HTML_TABLE.sub(_html_table_rows, match["context"]).strip()
    history = [[q.strip(), a.strip()] for q, a in _FLARE_TURN.findall(match["history"])]
    return {"context": context, "history": history, "question": match["question"].strip(),
            "answer": row["answer"].strip()}


# ----------------------------------------------------------------------------- law

#: The SCDB issue areas, in code order (LexGLUE's label i is code i + 1); the option words.
SCOTUS_ISSUE_AREAS = (
    "criminal procedure", "civil rights", "first amendment", "due process", "privacy", "attorneys",
    "unions", "economic activity", "judicial power", "federalism", "interstate relations",
    "federal taxation", "miscellaneous", "private action",
)


def scotus_record(text: str, label: int) -> dict:
    """A Supreme Court opinion and its issue area as a record.

    Args:
        text: The opinion.
        label: 0-based issue area index.
    """
    _check("SCOTUS issue area", label, range(len(SCOTUS_ISSUE_AREAS)))
    return {"text": text, "choices": list(SCOTUS_ISSUE_AREAS), "gold": label}


#: CaseHOLD's masked holding, in the citing excerpt.
HOLDING_SLOT = "<HOLDING>"


def casehold_record(context: str, endings: list[str], label: int | str) -> dict:
    """A CaseHOLD question as a record.

    Args:
        context: The citing excerpt with its ``(<HOLDING>)`` slot.
        endings: The five candidate holdings.
        label: Index of the right one.

    Raises:
        ValueError: The excerpt has no holding slot.
    """
    if HOLDING_SLOT not in context:
        raise ValueError(f"CaseHOLD excerpt without {HOLDING_SLOT}: {context[:200]!r}")
    return {"context": context, "choices": list(endings), "gold": int(label)}


def casehold_records(text: str) -> list[dict]:
    """The questions of a CaseHOLD CSV (header, then columns by position) as records.

    Args:
        text: The CSV content.
    """
    # Columns 7-11 are unused; both reglab's and LexGLUE's readers take the label from 12.
    return [casehold_record(row[1], row[2:7], row[12]) for row in read_csv(text)[1:] if row]


#: UNFAIR-ToS clause types in LexGLUE's label order.
UNFAIR_TYPES = ("Limitation of liability", "Unilateral termination", "Unilateral change", "Content removal",
                "Contract by using", "Choice of law", "Jurisdiction", "Arbitration")
#: The options: the eight types, then "none" for a fair sentence (AdaptLLM's 8 + 1 classes).
UNFAIR_CHOICES = tuple(t.lower() for t in UNFAIR_TYPES) + ("none",)


def unfair_record(text: str, labels: Iterable[str]) -> dict:
    """A terms-of-service sentence and its unfair clause types (none: fair) as a record.

    Args:
        text: The sentence.
        labels: Its type names (``UNFAIR_TYPES``).
    """
    labels = list(labels)
    for label in labels:
        _check("UNFAIR-ToS type", label, UNFAIR_TYPES)
    gold = sorted(UNFAIR_TYPES.index(label) for label in labels) or [len(UNFAIR_TYPES)]
    return {"text": text.strip(), "choices": list(UNFAIR_CHOICES), "gold": gold}


def lexglue_test_rows(path: Path) -> list[dict]:
    """The test rows of a LexGLUE JSON-lines file (all splits, told apart by ``data_type``).

    Args:
        path: The file.
    """
    return [row for row in read_jsonl(path) if row["data_type"] == "test"]


# ----------------------------------------------------------------------------- the sets


class DomainSet(NamedTuple):
    """One domain task's data: how its local files and its hub copy become records.

    Args:
        folder: Its folder under ``ZOO_DATA_DIR``.
        read_local: Records from that folder (files in the upstream format).
        hub: Where the hub copy lives: a dataset (rows) or an upstream file it hosts.
        read_hub: Records from the hub copy: its rows (``HubSource``) or its text (``HubFile``).
    """

    folder: str
    read_local: Callable[[Path], list[dict]]
    hub: HubSource | HubFile
    read_hub: Callable[[Any], list[dict]]


def each(convert: Callable[[dict], dict]) -> Callable[[Iterable[dict]], list[dict]]:
    """A reader of hub rows that converts each row into one record.

    Args:
        convert: The row converter.
    """
    return lambda rows: [convert(row) for row in rows]


_FPB_FILE = "Sentences_AllAgree.txt"
_FPB_ENCODING = "iso-8859-1"
_FIQA_FILES = ("task1_headline_ABSA_train.json", "task1_post_ABSA_train.json")
_LEX_GLUE = "coastalcph/lex_glue"

# Local readers: the task folder's upstream files as records.


def _medqa_local(folder: Path) -> list[dict]:
    return [medqa_record(row) for row in read_jsonl(folder / "phrases_no_exclude_test.jsonl")]


def _mqp_local(folder: Path) -> list[dict]:
    return [mqp_record(dict(zip(MQP_COLUMNS, row))) for row in read_csv(read_text(folder / "mqp.csv")) if row]


def _fiqa_local(folder: Path) -> list[dict]:
    return [record for file in _FIQA_FILES for record in fiqa_records(json.loads(read_text(folder / file)))]


def _scotus_local(folder: Path) -> list[dict]:
    return [scotus_record(row["text"], int(row["issueArea"])) for row in lexglue_test_rows(folder / "scotus.jsonl")]


def _unfair_local(folder: Path) -> list[dict]:
    return [unfair_record(row["text"], row["labels"]) for row in lexglue_test_rows(folder / "unfair_tos.jsonl")]


SETS: dict[str, DomainSet] = {
    "rct": DomainSet("pubmed_rct", lambda folder: rct_records(read_text(folder / "test.txt")),
                     HubSource("armanc/pubmed-rct20k", None, "test"), each(rct_hub_record)),
    "usmle": DomainSet("medqa", _medqa_local,
                       HubSource("GBaker/MedQA-USMLE-4-options", None, "test"), each(medqa_record)),
    "mqp": DomainSet("mqp", _mqp_local,
                     HubSource("curaihealth/medical_questions_pairs", None, "train"), each(mqp_record)),
    "fiqa_sa": DomainSet("fiqa", _fiqa_local,
                         HubSource("TheFinAI/fiqa-sentiment-classification", None, "train+valid+test"),
                         each(fiqa_hub_record)),
    "fpb": DomainSet("financial_phrasebank", lambda folder: fpb_records(read_text(folder / _FPB_FILE, _FPB_ENCODING)),
                     HubFile("takala/financial_phrasebank", "data/FinancialPhraseBank-v1.0.zip",
                             f"FinancialPhraseBank-v1.0/{_FPB_FILE}", _FPB_ENCODING),
                     fpb_records),
    "headline": DomainSet("headline",
                          lambda folder: headline_records(read_text(folder / "gold-dataset-sinha-khandait.csv")),
                          HubSource("FinGPT/fingpt-headline", None, "test"), each(headline_hub_record)),
    "finance_ner": DomainSet("finance_ner", lambda folder: ner_records(read_text(folder / "FIN3.txt")),
                             HubFile("tner/fin", "dataset/FIN3.txt"), ner_records),
    "convfinqa": DomainSet("convfinqa", lambda folder: convfinqa_records(json.loads(read_text(folder / "dev.json"))),
                           HubSource("ChanceFocus/flare-convfinqa", None, "test"), each(convfinqa_hub_record)),
    "scotus": DomainSet("scotus", _scotus_local, HubSource(_LEX_GLUE, "scotus", "test"),
                        each(lambda row: scotus_record(row["text"], row["label"]))),
    "casehold": DomainSet("casehold", lambda folder: casehold_records(read_text(folder / "test.csv")),
                          HubSource(_LEX_GLUE, "case_hold", "test"),
                          each(lambda row: casehold_record(row["context"], row["endings"], row["label"]))),
    "unfair_tos": DomainSet("unfair_tos", _unfair_local, HubSource(_LEX_GLUE, "unfair_tos", "test"),
                            each(lambda row: unfair_record(row["text"], [UNFAIR_TYPES[i] for i in row["labels"]]))),
}


def domain(name: str, **metadata) -> datasets.DatasetDict:
    """The evaluation records of one domain set as ``{"test": Dataset}``.

    Args:
        name: The set, a key of ``SETS``.
        **metadata: lm-eval passes the task metadata (version...) here; unused.

    Raises:
        KeyError: Unknown set.
        FileNotFoundError: ``ZOO_DATA_DIR`` is set but lacks the set's files.
        ConnectionError: ``ZOO_DATA_DIR`` is not set and the hub cannot be reached.
    """
    spec = SETS[name]
    if data_dir() is not None:
        records = local_data(name, spec.folder, spec.read_local, spec.hub)
    elif isinstance(spec.hub, HubFile):
        records = spec.read_hub(hub_text(name, spec.hub))
    else:
        records = spec.read_hub(hub_rows(name, spec.hub))
    return as_test_split(records)
