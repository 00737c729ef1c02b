"""Datasets of the zoo's real zero-shot tasks, read from ``ZOO_DATA_DIR`` or the public hub sets.

Called by lm-eval as ``custom_dataset(**metadata, **dataset_kwargs)`` (the task YAMLs pass
``name``) and returns ``{"test": Dataset}``. The records are llm-foundry's
(``scripts/eval/local_data``), the slices that ``ZOO_DATA_DIR/zeroshot/*.jsonl`` holds:

* multiple choice: ``{"query": str, "choices": [str, ...], "gold": int}``;
* partial scoring (winogrande, wsc): ``{"context_options": [str, str], "continuation": str,
  "gold": int}``, one context per option and the shared continuation.

Without ``ZOO_DATA_DIR`` the set is loaded from the Hugging Face hub and every upstream row is
converted into that record format, so the prompts (rendered by ``utils.py`` and the YAMLs) do not
depend on the source. The hub sets are the splits llm-foundry sliced. Where the original
repository still holds a loading script, which ``datasets>=4`` no longer runs (``ybisk/piqa``,
``allenai/social_i_qa``, ``winograd_wsc``), the script-free copy that lm-eval 0.4.13's own task
reads stands in:

=============== ======================= ============== ==========
set             hub id                  config         split
=============== ======================= ============== ==========
copa            aps/super_glue          copa           validation
piqa            baber/piqa              -              validation
openbookqa      allenai/openbookqa      main           test
arc_easy        allenai/ai2_arc         ARC-Easy       test
arc_challenge   allenai/ai2_arc         ARC-Challenge  test
boolq           google/boolq            -              validation
winogrande      allenai/winogrande      winogrande_xl  validation
siqa            lighteval/siqa          -              validation
commonsense_qa  tau/commonsense_qa      -              validation
wsc             lighteval/winograd_wsc  wsc273         test
=============== ======================= ============== ==========

``google/boolq`` rather than SuperGLUE's BoolQ: SuperGLUE puts a ``"Title -- "`` prefix in front
of each passage, which llm-foundry's passages and ``google/boolq``'s lack.

llm-foundry's SIQA and CommonsenseQA slices drop one distractor per question (2 and 4 options,
see its EVAL_GAUNTLET.md); which one is not recoverable from the hub rows, so those two hub sets
keep all 3 and 5 options: their scores are comparable only between runs on the same source.

The source plumbing here (``data_dir``, ``local_data``, ``hub_rows``, ``read_jsonl``, ``as_test_split``) is shared
with ``benchmarks/tasks/real_biomed/loaders.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple, TypeVar

import datasets

T = TypeVar("T")


# NamedTuples, not dataclasses: lm-eval runs this file before it is in sys.modules, which
# dataclasses need.
class HubSource(NamedTuple):
    """Where a set lives on the Hugging Face hub.

    Args:
        path: Hub dataset id.
        name: Config name (None for a single-config dataset).
        split: The upstream split that holds the evaluation rows.
    """

    path: str
    name: str | None
    split: str

    def __str__(self) -> str:
        config = f" ({self.name})" if self.name else ""
        return f"{self.path}{config} {self.split}"


def data_dir() -> Path | None:
    """The local data folder from ``ZOO_DATA_DIR``, or None to load from the hub."""
    root = os.environ.get("ZOO_DATA_DIR")
    return Path(root) if root else None


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file (blank lines skipped).

    Args:
        path: The file.
    """
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def local_data(dataset: str, folder: str, read: Callable[[Path], T], hub: object) -> T:
    """A set read from its folder under ``ZOO_DATA_DIR``, a missing file reported as that folder's.

    Args:
        dataset: The set's name, for the error message.
        folder: Its folder under ``ZOO_DATA_DIR``.
        read: Reads the folder's upstream files.
        hub: Its hub copy (``HubSource`` or a hosted file), the alternative the message offers.

    Raises:
        FileNotFoundError: A file of the set is not there; one line naming the folder under
            ``ZOO_DATA_DIR``, the missing file and the hub copy.
    """
    root = data_dir()
    try:
        return read(root / folder)
    except FileNotFoundError as err:
        # The bare OS message names a path, not which set needs it or what else would do.
        missing = os.path.relpath(err.filename, root) if err.filename else folder
        raise FileNotFoundError(
            f"{dataset}: needs ZOO_DATA_DIR/{folder}/ but {missing} is not in ZOO_DATA_DIR={root}; put the "
            f"set's upstream files in {root / folder}, or unset ZOO_DATA_DIR to load the hub copy {hub}"
        ) from err


def hub_rows(dataset: str, source: HubSource) -> datasets.Dataset:
    """The upstream rows of a set from the Hugging Face hub (or the local hub cache).

    Args:
        dataset: The set's name, for the error message.
        source: Where it lives on the hub.

    Raises:
        ConnectionError: The hub cannot be reached (offline, no network) and the set is not
            cached; one line that names the set and says to set ``ZOO_DATA_DIR``.
    """
    try:
        return datasets.load_dataset(source.path, source.name, split=source.split)
    except ConnectionError as err:
        # datasets' message names neither the task nor the fix that works without network.
        message = " ".join(str(err).split())
        raise ConnectionError(
            f"{dataset}: ZOO_DATA_DIR is not set and the hub copy {source} cannot be loaded "
            f"({message}); set ZOO_DATA_DIR to the folder of the local data sets"
        ) from err


def as_test_split(records: Iterable[dict]) -> datasets.DatasetDict:
    """Records as the ``{"test": Dataset}`` that lm-eval's ``custom_dataset`` must return.

    Args:
        records: The evaluation records, in order.
    """
    # In memory: nothing is written to a cache, in the repository or elsewhere.
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(list(records))})


# Upstream hub rows -> llm-foundry records, one converter per upstream format.


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


#: COPA's question asks for the premise's cause or effect; the query joins them with a connector.
_COPA_CONNECTORS = {"cause": "because", "effect": "therefore"}


def copa_record(row: dict) -> dict:
    """A ``super_glue`` COPA row (premise, choice1, choice2, question, label) as a record.

    Args:
        row: The hub row.
    """
    # llm-foundry's wording: the premise without its final period, a comma and the connector,
    # then the alternative starting in lower case to continue the sentence.
    premise = row["premise"].strip()[:-1]
    return {
        "query": f"{premise}, {_COPA_CONNECTORS[row['question']]}",
        "choices": [_lower_first(row["choice1"]), _lower_first(row["choice2"])],
        "gold": row["label"],
    }


def piqa_record(row: dict) -> dict:
    """A PIQA row (goal, sol1, sol2, label) as a record.

    Args:
        row: The hub row.
    """
    return {
        "query": f"Question: {row['goal']}\n",
        "choices": [row["sol1"], row["sol2"]],
        "gold": row["label"],
    }


def _labelled_choices(row: dict) -> tuple[list[str], int]:
    """Option texts and gold index of a row with ``choices: {text, label}`` and ``answerKey``."""
    # OpenBookQA has keys with stray spaces (lm-eval strips them too).
    return row["choices"]["text"], row["choices"]["label"].index(row["answerKey"].strip())


def openbookqa_record(row: dict) -> dict:
    """An OpenBookQA row (question_stem, choices, answerKey) as a record.

    Args:
        row: The hub row.
    """
    choices, gold = _labelled_choices(row)
    return {"query": row["question_stem"], "choices": choices, "gold": gold}


def arc_record(row: dict) -> dict:
    """An ARC row (question, choices, answerKey) as a record.

    Args:
        row: The hub row.
    """
    choices, gold = _labelled_choices(row)
    return {"query": f"Question: {row['question']}", "choices": choices, "gold": gold}


def boolq_record(row: dict) -> dict:
    """A ``google/boolq`` row (question, answer, passage) as a record.

    Args:
        row: The hub row.
    """
    # BoolQ questions are lower-case search queries without a question mark.
    return {
        "query": f"Passage: {row['passage']}\nQuestion: {row['question']}?",
        "choices": ["no", "yes"],
        "gold": int(row["answer"]),
    }


def _lettered(header: str, options: list[str]) -> dict:
    """A record whose query lists the options as ``A. ...`` lines and whose choices are the letters."""
    letters = [chr(ord("A") + i) for i in range(len(options))]
    listed = "".join(f"{letter}. {option}\n" for letter, option in zip(letters, options))
    return {"query": f"{header}\nChoices:\n{listed}Answer:", "choices": letters}


def siqa_record(row: dict) -> dict:
    """A Social IQa row (context, question, answerA-C, label "1"-"3") as a record.

    Args:
        row: The hub row.
    """
    header = f"Context: {row['context']}\nQuestion: {row['question']}"
    options = [row["answerA"], row["answerB"], row["answerC"]]
    return {**_lettered(header, options), "gold": int(row["label"]) - 1}


def commonsense_qa_record(row: dict) -> dict:
    """A CommonsenseQA row (question, choices, answerKey) as a record.

    Args:
        row: The hub row.
    """
    options, gold = _labelled_choices(row)
    return {**_lettered(f"Question: {row['question']}", options), "gold": gold}


def winogrande_record(row: dict) -> dict:
    """A WinoGrande row (sentence with one ``_``, option1, option2, answer "1"/"2") as a record.

    Args:
        row: The hub row.
    """
    blank = row["sentence"].index("_")
    prefix = row["sentence"][:blank]
    return {
        "context_options": [prefix + row["option1"], prefix + row["option2"]],
        "continuation": row["sentence"][blank + 1 :].strip(),
        "gold": int(row["answer"]) - 1,
    }


#: Options that open with one of these are lower-cased inside a sentence (as lm-eval's wsc273 does).
_CAPITALISED_OPENERS = {"A", "An", "The", "She", "He", "It", "They", "My", "His", "Her", "Their"}
#: Pronouns whose replacement needs a possessive "'s".
_POSSESSIVES = {"my", "his", "her", "our", "their"}


def _wsc_option(option: str, pronoun: str, starts_sentence: bool) -> str:
    """An answer option worded to replace ``pronoun`` in the sentence."""
    if pronoun.lower() in _POSSESSIVES:
        option += "'s"
    first = option.split()[0]
    if not starts_sentence and first in _CAPITALISED_OPENERS:
        option = first.lower() + option[len(first) :]
    return option


def wsc_record(row: dict) -> dict:
    """A ``winograd_wsc`` wsc273 row (text, pronoun, pronoun_loc, options, label) as a record.

    The pronoun is replaced by each option (the context) and the rest of the text is the shared
    continuation, with the options normalised the way lm-eval's wsc273 task does.

    Args:
        row: The hub row.
    """
    text, at, pronoun = row["text"], row["pronoun_loc"], row["pronoun"]
    starts_sentence = at < 2 or text[at - 2] == "."
    options = [_wsc_option(option, pronoun, starts_sentence) for option in row["options"]]
    return {
        "context_options": [text[:at] + option for option in options],
        "continuation": text[at + len(pronoun) :].strip(),
        "gold": row["label"],
    }


class ZeroShotSet(NamedTuple):
    """One zero-shot set: its local file and its hub source.

    Args:
        file: File name under ``ZOO_DATA_DIR/zeroshot``.
        hub: Where the upstream set lives on the hub.
        convert: Turns one upstream hub row into a record.
    """

    file: str
    hub: HubSource
    convert: Callable[[dict], dict]


SETS: dict[str, ZeroShotSet] = {
    "copa": ZeroShotSet("copa.jsonl", HubSource("aps/super_glue", "copa", "validation"), copa_record),
    "piqa": ZeroShotSet("piqa.jsonl", HubSource("baber/piqa", None, "validation"), piqa_record),
    "openbookqa": ZeroShotSet(
        "openbook_qa.jsonl", HubSource("allenai/openbookqa", "main", "test"), openbookqa_record
    ),
    "arc_easy": ZeroShotSet("arc_easy.jsonl", HubSource("allenai/ai2_arc", "ARC-Easy", "test"), arc_record),
    "arc_challenge": ZeroShotSet(
        "arc_challenge.jsonl", HubSource("allenai/ai2_arc", "ARC-Challenge", "test"), arc_record
    ),
    "boolq": ZeroShotSet("boolq.jsonl", HubSource("google/boolq", None, "validation"), boolq_record),
    "winogrande": ZeroShotSet(
        "winogrande.jsonl", HubSource("allenai/winogrande", "winogrande_xl", "validation"), winogrande_record
    ),
    "siqa": ZeroShotSet("siqa.jsonl", HubSource("lighteval/siqa", None, "validation"), siqa_record),
    "commonsense_qa": ZeroShotSet(
        "commonsense_qa.jsonl", HubSource("tau/commonsense_qa", None, "validation"), commonsense_qa_record
    ),
    "wsc": ZeroShotSet(
        "winograd_wsc.jsonl", HubSource("lighteval/winograd_wsc", "wsc273", "test"), wsc_record
    ),
}


def zeroshot(name: str, **metadata) -> datasets.DatasetDict:
    """The evaluation records of one zero-shot set as ``{"test": Dataset}``.

    Args:
        name: The set, a key of ``SETS``.
        **metadata: lm-eval passes the task metadata (version...) here; unused.

    Raises:
        KeyError: Unknown set.
        FileNotFoundError: ``ZOO_DATA_DIR`` is set but lacks the set's file.
        ConnectionError: ``ZOO_DATA_DIR`` is not set and the hub cannot be reached.
    """
    spec = SETS[name]
    if data_dir() is not None:
        records = local_data(name, "zeroshot", lambda folder: read_jsonl(folder / spec.file), spec.hub)
    else:
        records = [spec.convert(row) for row in hub_rows(name, spec.hub)]
    return as_test_split(records)
