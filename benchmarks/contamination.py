"""13-gram contamination: which test items of the shipped suites a build's training text holds.

As lm-eval's decontamination (``lm_eval/decontamination/janitor.py``): a text is normalised by
lower-casing ASCII letters and deleting ASCII punctuation, then split on whitespace into words, and
an item's n-grams are its distinct 13-word windows. An item shorter than 13 words has no 13-gram: it
is one n-gram of all its words, which must occur contiguously, as the GPT-3 paper checked short
items. N-grams never cross training documents. Per task the report keeps two counts:

- ``any_ngram``: items of which at least one n-gram occurs in the training text (lm-eval's rule);
- ``seen``: items of which at least ``SEEN_SHARE`` (70 %) of the n-grams do (PaLM's rule).

``seen`` is what flags a task. A generated corpus repeats its sentence templates with other names
and values, so a long item shares some 13-grams with training text it was never part of: every
held-out tinyworld document has some of its 13-grams in the other documents (2-28 %, median 13 %,
for base-lm-tiny; at most 47 % in any domain), while a document trained on has 95 % or more of them.
Any single 13-gram would flag all of them; a share tells the two apart. A short item, one n-gram, is
seen whole or not.

The text of an item is what lm-eval would decontaminate: ``task.doc_to_decontamination_query(doc)``
for a task that sets ``should_decontaminate``, otherwise the prompt followed by its gold target (for
multiple choice, the gold option's text), over the task's evaluation documents.

The items' n-grams (small) are indexed first; the training text is then streamed once and only the
windows that start with the first word of some item n-gram are looked up, so no set of the
training n-grams is ever built.

Template overlap: a task whose items are a few fixed wordings filled in with other values (tinyworld's
questions: "Question: What protein is {entity} aimed at?\\nAnswer: {answer}") can be learnt from training
text that never holds one of its items: the same wordings about other entities. Its lm-eval YAML names
the fields filled in (``metadata: template_fields: [entity, answer]``). An item's template is its
normalised words with each field's value cut out; the words that all of the task's distinct templates
share at their start and end are the task's prompt format ("question" ... "answer"), which QA text
writes its own way (the instruction synthesizer's "<QUE> ... <ANS>") and which tells nothing about what
is asked, so they are dropped (a task of one template keeps it whole: there is nothing to tell the
format by). A template is seen when a training document holds its words in order, with 1 to
``MAX_GAP`` words wherever a value was cut out; the report counts the task's distinct ``templates``
and ``templates_seen``.

Some tasks test the closed-book recall of facts the training corpus teaches by design (tinyworld's
cloze items are fact sentences of its documents). Their lm-eval YAML says so in its ``metadata``
(``training_overlap: expected`` and a ``training_overlap_reason``); the report keeps their counts
and marks them ``expected``, so the board shows them as by design instead of flagging them.
"""

from __future__ import annotations

import os
import re
import string
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from tqdm import tqdm

from benchmarks.suites import load_suite, suite_names
from zoo.errors import ZooError

#: Words per n-gram, as lm-eval's decontamination and the GPT-3 paper.
N = 13
#: The share of an item's n-grams that must occur in the training text for it to be seen (PaLM's 70 %).
SEEN_SHARE = 0.7
#: The most words a template's cut-out may stand for in training text (tinyworld's values have 1 to 4).
MAX_GAP = 4
#: Bump when what is counted changes: reports of another version are not comparable.
VERSION = 2
#: lm-eval's Janitor normalisation: ASCII upper case to lower case, ASCII punctuation deleted.
_NORMALISE = str.maketrans(string.ascii_uppercase, string.ascii_lowercase, string.punctuation)
#: The task metadata value that declares an overlap with training text to be by design.
EXPECTED = "expected"

#: A template: words, with ``None`` where a field's value was cut out.
Template = tuple[str | None, ...]


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (lm-eval's Janitor: lower case, punctuation deleted, split on whitespace)."""
    return text.translate(_NORMALISE).split()


def item_ngrams(text: str, n: int = N) -> set[str]:
    """The n-grams of a test item, each its words joined by one space; an item shorter than ``n`` words is
    one n-gram of all its words (it must occur whole), an item without words has none.

    Args:
        text: The item's text.
        n: Words per n-gram.
    """
    found = words(text)
    if len(found) < n:
        return {" ".join(found)} if found else set()
    return {" ".join(found[i:i + n]) for i in range(len(found) - n + 1)}


def item_text(task, doc: dict) -> str:
    """The text of one evaluation document that lm-eval would decontaminate: its decontamination query,
    or the prompt with its gold target (the gold option of a multiple-choice task; all golds of a
    multi-target one, joined by spaces).

    Args:
        task: An lm-eval task object.
        doc: One of its evaluation documents.
    """
    if task.should_decontaminate():
        return str(task.doc_to_decontamination_query(doc))
    text, target = task.doc_to_text(doc), task.doc_to_target(doc)
    golds = target if isinstance(target, list) else [target]
    if task.OUTPUT_TYPE == "multiple_choice":
        choices = task.doc_to_choice(doc)
        if isinstance(text, int):  # one context per option (winogrande): the prompt is the gold context
            text = choices[text]
        else:
            golds = [choices[gold] if isinstance(gold, int) else gold for gold in golds]
    return f"{text}{task.config.target_delimiter}{' '.join(map(str, golds))}"


def item_template(text: str, values: Iterable[str]) -> Template:
    """An item's normalised words with every occurrence of each value's words cut out (``None`` in its place).

    Args:
        text: The item's text.
        values: The values of its template fields.

    Raises:
        ValueError: A value without words, or one the text does not hold.
    """
    template: list[str | None] = list(words(text))
    for value in values:
        cut = words(value)
        if not cut:
            raise ValueError(f"the value {value!r} has no words")
        rest, template, i = template, [], 0
        while i < len(rest):
            if rest[i:i + len(cut)] == cut:
                template.append(None)
                i += len(cut)
            else:
                template.append(rest[i])
                i += 1
        if template == rest:
            raise ValueError(f"{value!r} does not occur in the item {text!r}")
    return tuple(template)


def without_format(templates: set[Template]) -> set[Template]:
    """A task's templates without the words and cut-outs they all share at their start and end (its prompt format).

    Args:
        templates: The task's distinct templates; one alone is kept whole.
    """
    if len(templates) < 2:
        return templates
    shortest = min(map(len, templates))
    start = next((i for i in range(shortest) if len({t[i] for t in templates}) > 1), shortest)
    end = next((i for i in range(shortest - start) if len({t[-1 - i] for t in templates}) > 1), shortest - start)
    return {t[start:len(t) - end] for t in templates}


def template_pattern(template: Template) -> re.Pattern:
    """The regex of a template over a document's words joined by single spaces and padded with one at each end:
    its words in order, 1 to ``MAX_GAP`` words for each cut-out.

    Args:
        template: A template with at least one word.
    """
    gap = rf"\S+(?: \S+){{0,{MAX_GAP - 1}}}"
    # A leading literal lets the regex engine skip ahead to candidates instead of trying every position.
    return re.compile(" " + " ".join(gap if word is None else re.escape(word) for word in template) + " ")


class ItemIndex:
    """The n-grams of test items, with the items (task, number) that hold each, the templates of the tasks that
    declare them, and a scan of text for both."""

    def __init__(self):
        self.owners: dict[str, set[tuple[str, int]]] = defaultdict(set)
        # The n-gram lengths (N, or a short item's length) that start with each word: the scan looks up only those.
        self.lengths: dict[str, set[int]] = defaultdict(set)
        self.sizes: dict[tuple[str, int], int] = {}
        self.templates: dict[Template, set[str]] = defaultdict(set)

    def add(self, task: str, texts: Iterable[str]) -> int:
        """Index a task's items; returns how many there are.

        Args:
            task: The lm-eval task name.
            texts: Its items' texts (``item_text``).
        """
        texts = list(texts)
        for number, text in enumerate(texts):
            ngrams = item_ngrams(text)
            self.sizes[(task, number)] = len(ngrams)
            for ngram in ngrams:
                self.owners[ngram].add((task, number))
                first, *rest = ngram.split(" ")
                self.lengths[first].add(1 + len(rest))
        return len(texts)

    def add_templates(self, task: str, templates: Iterable[Template]) -> int:
        """Index a task's templates; returns how many distinct ones there are.

        Args:
            task: The lm-eval task name.
            templates: The ``item_template`` of each of its items.

        Raises:
            ValueError: A template left without words (its fields cover the whole item).
        """
        distinct = without_format(set(templates))
        for template in distinct:
            if not any(template):
                raise ValueError("its template fields leave an item without words of its own")
            self.templates[template].add(task)
        return len(distinct)

    def scan(self, texts: Iterable[str]) -> tuple[Counter, set[Template], int]:
        """How many of each item's n-grams the texts hold, which templates they hold, and how many words they have.

        Args:
            texts: Training documents (neither n-grams nor templates cross them).
        """
        seen: set[str] = set()
        pending = {template: template_pattern(template) for template in self.templates}
        found_templates: set[Template] = set()
        total = 0
        owners, lengths = self.owners, self.lengths
        # A document read again (an epoch's repeat, a raw document beside its augmented copy) holds nothing new.
        word_counts: dict[str, int] = {}
        for text in texts:
            if text in word_counts:
                total += word_counts[text]
                continue
            found = words(text)
            word_counts[text] = len(found)
            total += len(found)
            for start, word in enumerate(found):
                for length in lengths.get(word, ()):
                    # A window cut short by the end of the text is still words that occur in a row.
                    if (ngram := " ".join(found[start:start + length])) in owners:
                        seen.add(ngram)
            if pending:
                joined = f" {' '.join(found)} "
                for template in [t for t, pattern in pending.items() if pattern.search(joined)]:
                    found_templates.add(template)
                    del pending[template]
        hits: Counter = Counter(item for ngram in seen for item in owners[ngram])
        return hits, found_templates, total

    def counts(self, hits: Counter, found_templates: set[Template]) -> dict[str, dict[str, int]]:
        """Per task, its items with any n-gram seen, its items seen (``SEEN_SHARE``), and its templates seen.

        Args:
            hits: Seen n-grams per item (``scan``).
            found_templates: The templates seen (``scan``).
        """
        per_task: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (task, number), count in hits.items():
            per_task[task]["any_ngram"] += 1
            per_task[task]["seen"] += count / self.sizes[(task, number)] >= SEEN_SHARE
        for template in found_templates:
            for task in self.templates[template]:
                per_task[task]["templates_seen"] += 1
        return per_task


def load_task(name: str):
    """The lm-eval task object of a zoo task (quietly, as the harness loads it)."""
    from lm_eval.utils import setup_logging

    from benchmarks.tasks import task_manager

    # lm-eval warns on each custom_dataset task about its --metadata flag, which a zoo user cannot act on.
    setup_logging(verbosity="ERROR")
    return task_manager().load([name])["tasks"][name]


def is_expected(task) -> bool:
    """Whether a task declares (YAML ``metadata: training_overlap: expected``) that training text holds its
    items by design."""
    return (task.config.metadata or {}).get("training_overlap") == EXPECTED


def template_fields(task) -> Sequence[str]:
    """The document fields a task's items are filled in with (YAML ``metadata: template_fields``); none if undeclared."""
    return (task.config.metadata or {}).get("template_fields") or ()


def _index_task(index: ItemIndex, name: str, task) -> dict[str, Any]:
    """Index a loaded task's items (and templates, if it declares them); returns its layout in the report.

    Args:
        index: The index of the suites' tasks.
        name: The task's name.
        task: Its lm-eval task object.

    Raises:
        ZooError: Its declared template fields do not give templates.
    """
    texts = [item_text(task, doc) for doc in task.eval_docs]
    layout = {"items": index.add(name, texts), "expected": is_expected(task)}
    if fields := template_fields(task):
        try:
            layout["templates"] = index.add_templates(name, (
                item_template(text, (doc[field] for field in fields)) for text, doc in zip(texts, task.eval_docs)))
        except (KeyError, ValueError) as error:
            raise ZooError(f"task {name}: metadata template_fields {list(fields)}: {error}") from None
    return layout


@lru_cache(maxsize=4)
def _suite_index(suites: tuple[str, ...], data_dir: str | None) -> tuple[ItemIndex, dict, dict[str, str]]:
    """The item index of the suites' tasks, the layout of the report (suite -> task -> items, expected, templates)
    and the skipped tasks with why; built once per process for a data folder (a sweep checks many builds).

    Args:
        suites: Shipped suite names or suite file paths.
        data_dir: ``ZOO_DATA_DIR`` (a key only: the loaders read it themselves).
    """
    index, layout, skipped, counted = ItemIndex(), {}, {}, {}
    for reference in suites:
        suite = load_suite(reference)
        layout[suite.name] = {}
        for spec in suite.tasks:
            if spec.evaluator is not None:
                skipped[f"{suite.name}/{spec.task}"] = (f"evaluator {spec.evaluator} scores the whole corpus, "
                                                        "it has no test items")
                continue
            if spec.task not in counted:
                try:
                    task = load_task(spec.task)
                except OSError as error:
                    if not suite.real_data:
                        raise ZooError(f"suite {suite.name}: task {spec.task} cannot load its data ({error}); "
                                       "check its loader") from None
                    counted[spec.task] = str(error).splitlines()[0]
                else:
                    counted[spec.task] = _index_task(index, spec.task, task)
            if isinstance(counted[spec.task], str):
                skipped[f"{suite.name}/{spec.task}"] = counted[spec.task]
            else:
                layout[suite.name][spec.task] = counted[spec.task]
    return index, layout, skipped


def contamination_report(texts: Iterable[str], suites: Iterable[str] | None = None) -> dict[str, Any]:
    """The overlap between training text and the test items of every suite (the ``contamination`` of a card).

    Args:
        texts: The training documents, as the model trained on them (``ZooDataModule.training_texts``).
        suites: Suite names or suite file paths; default every shipped suite.

    Returns:
        ``{"n", "version", "seen_share", "training_words", "suites": {suite: {task: {"items", "any_ngram",
        "seen", "expected"}}}, "skipped": {"suite/task": reason}}``; a task that declares template fields
        also has ``"templates"`` and ``"templates_seen"``. A real-data task whose data is absent and an
        evaluator task (no items) are skipped.

    Raises:
        ZooError: An unknown suite or task, a task of a suite that needs no real data failing to load, or
            a task whose declared template fields do not give templates.
    """
    names = tuple(suites) if suites is not None else tuple(suite_names())
    index, layout, skipped = _suite_index(names, os.environ.get("ZOO_DATA_DIR"))
    # A bar only past a few seconds (a large corpus): most builds check theirs in about a second.
    hits, found_templates, total = index.scan(tqdm(texts, desc="contamination check", unit=" documents", delay=5,
                                                   leave=False))
    per_task = index.counts(hits, found_templates)

    def task_counts(task: str, layout: dict[str, Any]) -> dict[str, Any]:
        found = per_task.get(task, {})
        counts = {"items": layout["items"], "any_ngram": found.get("any_ngram", 0), "seen": found.get("seen", 0),
                  "expected": layout["expected"]}
        if "templates" in layout:
            counts |= {"templates": layout["templates"], "templates_seen": found.get("templates_seen", 0)}
        return counts

    return {"n": N, "version": VERSION, "seen_share": SEEN_SHARE, "training_words": total,
            "skipped": dict(sorted(skipped.items())),
            "suites": {suite: {task: task_counts(task, layout) for task, layout in tasks.items()}
                       for suite, tasks in layout.items()}}


def seen_tasks(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The tasks whose items or templates the training text holds, not by design, each with a note that reads on
    with " of MODEL": ``{(suite, task): "5 of 500 test items and 10 of 10 templates in the training text"}``.

    Args:
        report: A ``contamination_report`` (a card's ``contamination``; an empty one flags nothing).
    """
    notes = {}
    for suite, tasks in report.get("suites", {}).items():
        for task, counts in tasks.items():
            if counts["expected"]:
                continue
            found = ([f"{counts['seen']} of {counts['items']} test items"] if counts["seen"] else []) + (
                [f"{counts['templates_seen']} of {counts['templates']} templates"]
                if counts.get("templates_seen") else [])
            if found:
                notes[(suite, task)] = " and ".join(found) + " in the training text"
    return notes
