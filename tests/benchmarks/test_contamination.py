"""13-gram contamination: lm-eval's normalisation, planted items flagged, the 70 % share rule, question templates,
by-design overlaps, skipped suites, the report in every built card, and the real training texts of a document LM
and of the instruction synthesizer."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from benchmarks.contamination import (
    MAX_GAP,
    ItemIndex,
    N,
    contamination_report,
    item_ngrams,
    item_template,
    item_text,
    load_task,
    seen_tasks,
    without_format,
    words,
)
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT

SUITE = "tinyworld-general"
TASKS = {part: f"zoo_tinyworld_general_{part}" for part in ("heldout", "cloze", "question", "short_answer")}
FILLER = "the weather was mild and nothing else happened that day in the village by the river"


def counts(report: dict) -> dict[str, tuple[int, int, int]]:
    """(seen, any_ngram, items) of each tinyworld-general task, by part."""
    tasks = report["suites"][SUITE]
    return {part: (tasks[task]["seen"], tasks[task]["any_ngram"], tasks[task]["items"]) for part, task in TASKS.items()}


def templates(report: dict) -> dict[str, tuple[int, int]]:
    """(templates_seen, templates) of the tinyworld-general tasks that declare template fields, by part."""
    tasks = report["suites"][SUITE]
    return {part: (tasks[task]["templates_seen"], tasks[task]["templates"]) for part, task in TASKS.items()
            if "templates" in tasks[task]}


def first_item(part: str) -> str:
    """The text of the first item of a tinyworld-general task, as the check reads it."""
    task = load_task(TASKS[part])
    return item_text(task, task.eval_docs[0])


def test_normalisation_and_ngrams_are_lm_evals():
    from lm_eval.decontamination.janitor import Janitor, word_ngrams

    text = "Madanolol ACTS on TNF-alpha; it's (mostly) harmless.  Élan, ÉTÉ & co!\nNext line -- done."
    assert words(text) == ["madanolol", "acts", "on", "tnfalpha", "its", "mostly", "harmless", "Élan", "ÉtÉ",
                           "co", "next", "line", "done"]
    assert words(text) == Janitor().normalize_string(text).split()
    assert item_ngrams(text) == {" ".join(words(text))}, "13 words: one n-gram"
    longer = text + " And two more."
    assert item_ngrams(longer) == set(word_ngrams(Janitor().normalize_string(longer), N))
    assert len(item_ngrams(longer)) == 4
    assert item_ngrams("Born in Osaka.") == {"born in osaka"}, "a short item is one n-gram of all its words"
    assert item_ngrams("?! --") == set()


def test_planted_items_are_flagged_and_paraphrases_are_not():
    question, document = first_item("question"), first_item("heldout")
    assert len(words(question)) < N < len(words(document))
    document_words = document.split()
    clean = contamination_report([FILLER], [SUITE])
    assert clean["training_words"] == len(FILLER.split()) and counts(clean)["question"] == (0, 0, 500)
    assert clean["version"] == 2 and clean["seen_share"] == 0.7

    # A short item must occur whole; 13 words of a long one are one n-gram of many: lm-eval's rule only.
    planted = contamination_report([f"{FILLER} {question.upper()} {FILLER}",
                                    f"{FILLER} {' '.join(document_words[40:40 + N])}"], [SUITE])
    assert counts(planted)["question"] == (1, 1, 500) and counts(planted)["heldout"][:2] == (0, 1)
    assert counts(planted)["short_answer"] == (1, 1, 500), "the same question, with its answer after the prompt"
    assert seen_tasks(planted)[(SUITE, TASKS["question"])] == ("1 of 500 test items and 1 of 10 templates in the "
                                                                "training text"), "the item holds its template"
    assert (SUITE, TASKS["heldout"]) not in seen_tasks(planted)
    # The whole document is seen, in any case and punctuation; it shares a 13-gram (a sentence template filled in
    # alike) with another held-out document, which lm-eval's rule counts too.
    whole = contamination_report([f"{FILLER} {document.upper().replace('.', ' ;')}"], [SUITE])
    assert counts(whole)["heldout"] == (1, 2, 25)

    # A question without its answer, 12 words of the document, and 13 words cut across two documents are no match.
    partial = contamination_report([question.rsplit(" ", 1)[0], " ".join(document_words[40:40 + N - 1]),
                                    " ".join(document_words[40:47]), " ".join(document_words[47:40 + N])], [SUITE])
    assert counts(partial)["question"][:2] == (0, 0) and counts(partial)["heldout"][:2] == (0, 0)


def test_an_item_is_seen_when_70_percent_of_its_ngrams_are():
    """By hand: items of 22 words (10 n-grams each), of which the training text holds 9, 7 and 5 n-grams."""
    items = [" ".join(f"{letter}{i}" for i in range(22)) for letter in "abc"]
    index = ItemIndex()
    assert index.add("task", items) == 3 and index.sizes == {("task", 0): 10, ("task", 1): 10, ("task", 2): 10}
    # 13 + k - 1 words in a row hold k n-grams.
    hits, _, total = index.scan([" ".join(items[0].split()[:21]), " ".join(items[1].split()[:19]),
                                 " ".join(items[2].split()[:17])])
    assert (hits, total) == ({("task", 0): 9, ("task", 1): 7, ("task", 2): 5}, 21 + 19 + 17)
    assert index.counts(hits, set())["task"] == {"any_ngram": 3, "seen": 2}, "9 and 7 of 10 are seen, 5 is not"
    # N-grams 0-4 in one document and 4-8 in another: 9 distinct n-grams of the item, the shared one counted once.
    first = items[0].split()
    hits, _, _ = index.scan([" ".join(first[:17]), " ".join(first[4:21])])
    assert hits == {("task", 0): 9}
    # A document read three times counts its words three times and its n-grams once.
    hits, _, total = index.scan([" ".join(first[:17]), "filler words", " ".join(first[:17]), " ".join(first[:17])])
    assert (hits, total) == ({("task", 0): 5}, 3 * 17 + 2)


def test_templates_are_the_items_without_their_fields_and_the_tasks_prompt_format():
    text = "Question: What protein is Madanolol aimed at?\nAnswer: TNF-alpha"
    template = item_template(text, ["Madanolol", "TNF-alpha"])
    assert template == ("question", "what", "protein", "is", None, "aimed", "at", "answer", None)
    other = item_template("Question: Who audits Tacepricorp Holdings?\nAnswer: Grant and Sons", ["Tacepricorp Holdings",
                                                                                            "Grant and Sons"])
    assert other == ("question", "who", "audits", None, "answer", None)
    assert without_format({template, other}) == {("what", "protein", "is", None, "aimed", "at"), ("who", "audits", None)}
    assert without_format({template}) == {template}, "one template alone: nothing tells its format from its wording"
    with pytest.raises(ValueError, match="'Osaka' does not occur"):
        item_template(text, ["Madanolol", "Osaka"])


def test_question_templates_around_other_entities_are_seen_and_their_words_elsewhere_are_not():
    # Another entity, another answer, another format: the wording is the template.
    other = contamination_report(["<QUE> In which city was Zorbo Quillan born? <ANS> Lima </END>"], [SUITE])
    assert templates(other) == {"question": (1, 10), "short_answer": (1, 10)}
    assert counts(other)["question"] == (0, 0, 500)
    assert seen_tasks(other)[(SUITE, TASKS["question"])] == "1 of 10 templates in the training text"
    assert contamination_report([f"In which city was {' '.join(['x'] * MAX_GAP)} born"], [SUITE]) == other | {
        "training_words": 4 + MAX_GAP + 1}, "a cut-out stands for up to MAX_GAP words"

    # Reordered, too far apart, cut across documents, or without the words where the entity was: not the template.
    for texts in (["Born in which city was Zorbo Quillan?"], ["Which city was Zorbo Quillan born in?"],
                  [f"In which city was {' '.join(['x'] * (MAX_GAP + 1))} born"], ["In which city was", "Zorbo born"],
                  ["In which city was born Zorbo Quillan"]):
        assert templates(contamination_report(texts, [SUITE])) == {"question": (0, 10), "short_answer": (0, 10)}, texts


def test_facts_taught_by_design_are_counted_but_not_flagged():
    doc = load_task(TASKS["question"]).eval_docs[0]
    # The fact in a document's wording is the cloze item (by design); it is not the question item.
    fact = f"{FILLER}. {first_item('cloze')}. {FILLER}"
    report = contamination_report([fact], [SUITE])
    assert report["suites"][SUITE][TASKS["cloze"]] == {"items": 500, "any_ngram": 1, "seen": 1, "expected": True}
    assert counts(report)["question"] == (0, 0, 500) and doc["answer"] in fact
    assert seen_tasks(report) == {}
    expected = {task for suite in report["suites"].values() for task, c in suite.items() if c["expected"]}
    assert expected == {TASKS["cloze"]}, "held-out documents and questions are never by design"


def test_real_suites_without_their_data_and_evaluator_tasks_are_skipped(monkeypatch, tmp_path):
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    report = contamination_report(["some text"], ["real-general", "synthesis-general"])
    assert report["suites"] == {"real-general": {}, "synthesis-general": {}}
    assert "ZOO_DATA_DIR" in report["skipped"]["real-general/zoo_copa"]
    assert len([key for key in report["skipped"] if key.startswith("real-general/")]) == 10
    assert "no test items" in report["skipped"]["synthesis-general/synthesis_quality"]

    # A suite that claims to need no real data must load every task.
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"name": "mine", "version": 1, "description": "x",
                                    "tasks": [{"task": "zoo_copa", "metrics": ["acc"]}]}))
    with pytest.raises(ZooError, match="suite mine: task zoo_copa cannot load its data"):
        contamination_report([], [str(mine)])


def recipe_texts(path: str) -> tuple[dict, list[str]]:
    """The data settings of a recipe and the training text its DataModule gives."""
    from lightning import LightningDataModule
    from lightning.pytorch.cli import LightningArgumentParser

    data = yaml.safe_load((PROJECT_ROOT / path).read_text())["data"]
    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_lightning_class_args(LightningDataModule, "data", subclass_mode=True)
    return data, list(parser.instantiate(parser.parse_object({"data": data})).data.training_texts())


def test_a_document_lms_training_text_flags_nothing():
    """base-lm-tiny's data: the general tinyworld's training documents, the held-out ones left out.

    Every held-out document shares some 13-grams with them (the world's sentence templates filled in
    with other entities), so lm-eval's rule counts all; none is near the 70 % of a document trained on.
    The documents never word a question as the suite does (tinyworld keeps question wording out of
    its document templates), so no question template is seen either.
    """
    _, texts = recipe_texts("configs/base_lm/base-lm-tiny.yaml")
    report = contamination_report(texts, [SUITE])
    assert counts(report)["heldout"] == (0, 25, 25)
    assert templates(report) == {"question": (0, 10), "short_answer": (0, 10)}
    assert seen_tasks(report) == {}


def test_the_instruction_synthesizers_training_text():
    """instruct-synth-tiny's data (its recipe's SynthesizerDataModule) against the general tinyworld's items.

    The synthesizer used to train on the suite's world and on the very question wordings the suite asks (10 of 10
    templates seen, found by this check). It now trains on a world of its own with wordings of its own: the check
    finds nothing, and the wordings, read off the text independently, share none with the suite's.
    """
    from datamodules.tinyworld import generate_world

    data, texts = recipe_texts("configs/instruction_pretrain/instruct-synth-tiny.yaml")
    assert data["class_path"] == "datamodules.instruction.SynthesizerDataModule"
    report = contamination_report(texts, [SUITE])
    assert counts(report)["heldout"][0] == 0 and counts(report)["question"] == (0, 0, 500)
    assert templates(report) == {"question": (0, 10), "short_answer": (0, 10)}
    assert seen_tasks(report) == {}

    own, suites = (generate_world(domain="general", **world) for world in (data["init_args"]["world"], {}))
    own_names, suite_names = (re.compile("|".join(re.escape(e["name"]) for e in w.entities)) for w in (own, suites))
    wordings = {" ".join(words(own_names.sub("X", q))) for text in texts for q in re.findall(r"<QUE> (.*?) <ANS>", text)}
    asked = {" ".join(words(suite_names.sub("X", q["question"]))).removeprefix("question ").removesuffix(" answer")
             for q in suites.questions}
    assert len(asked) == 10 and wordings and not asked & wordings


@pytest.fixture(scope="module")
def smoke_build():
    """base-lm-tiny built at preset smoke (shared with the build tests when they run in the session)."""
    from zoo.builder import build

    return build("base-lm-tiny", preset="smoke")


def test_a_build_records_its_report_and_an_older_folder_gets_it_without_changing(smoke_build):
    from zoo.builder import record_contamination
    from zoo.resolve import CARD_FILE, read_card, verify_folder

    folder, card = smoke_build
    report = card["contamination"]
    assert report["n"] == N and report["training_words"] > 10_000 and set(report["suites"]) >= {SUITE, "collapse"}
    assert report["suites"][SUITE][TASKS["cloze"]]["expected"] and report["suites"][SUITE][TASKS["cloze"]]["seen"]
    readme = (folder / "README.md").read_text()
    assert "## Contamination" in readme and f"{TASKS['cloze']} " in readme and "(by design)" in readme

    # A folder built before the check: its card and README without the report.
    written = (folder / CARD_FILE).read_text()
    older = {key: value for key, value in card.items() if key != "contamination"}
    (folder / CARD_FILE).write_text(json.dumps(older, indent=2, sort_keys=True) + "\n")
    (folder / "README.md").write_text(readme.split("## Contamination")[0])
    assert record_contamination("base-lm-tiny", "smoke") == report
    assert (folder / CARD_FILE).read_text() == written, "the card a build writes today"
    section = readme[readme.index("## Contamination"):readme.index("## Metrics")]
    assert section in (folder / "README.md").read_text()
    verify_folder(folder, read_card(folder))

    with pytest.raises(ZooError, match="no built folder with a recorded recipe"):
        record_contamination("dapt-law-tiny", "smoke")
