"""13-gram contamination: lm-eval's normalisation, planted items flagged, by-design overlaps, skipped suites,
the report in every built card, and the instruction synthesizer's training text."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from benchmarks.contamination import N, load_task, contamination_report, item_ngrams, item_text, seen_tasks, words
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT

SUITE = "tinyworld-general"
TASKS = {part: f"zoo_tinyworld_general_{part}" for part in ("heldout", "cloze", "question", "short_answer")}
FILLER = "the weather was mild and nothing else happened that day in the village by the river"


def counts(report: dict) -> dict[str, tuple[int, int]]:
    """(seen, items) of each tinyworld-general task, by part."""
    tasks = report["suites"][SUITE]
    return {part: (tasks[task]["seen"], tasks[task]["items"]) for part, task in TASKS.items()}


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
    assert clean["training_words"] == len(FILLER.split()) and counts(clean)["question"] == (0, 500)

    # A short item must occur whole; a long one is caught by any 13 of its words in a row.
    planted = contamination_report([f"{FILLER} {question.upper()} {FILLER}",
                                    f"{FILLER} {' '.join(document_words[40:40 + N])}"], [SUITE])
    assert counts(planted)["question"] == (1, 500) and counts(planted)["heldout"][0] == 1
    assert counts(planted)["short_answer"] == (1, 500), "the same question, with its answer after the prompt"
    assert seen_tasks(planted)[(SUITE, TASKS["question"])] == (1, 500)

    # A question without its answer, 12 words of the document, and 13 words cut across two documents are no match.
    partial = contamination_report([question.rsplit(" ", 1)[0], " ".join(document_words[40:40 + N - 1]),
                                    " ".join(document_words[40:47]), " ".join(document_words[47:40 + N])], [SUITE])
    assert counts(partial)["question"][0] == 0 and counts(partial)["heldout"][0] == 0


def test_facts_taught_by_design_are_counted_but_not_flagged():
    doc = load_task(TASKS["question"]).eval_docs[0]
    # The fact in a document's wording is the cloze item (by design); it is not the question item.
    fact = f"{FILLER}. {first_item('cloze')}. {FILLER}"
    report = contamination_report([fact], [SUITE])
    assert report["suites"][SUITE][TASKS["cloze"]] == {"items": 500, "seen": 1, "expected": True}
    assert counts(report)["question"] == (0, 500) and doc["answer"] in fact
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


def test_the_instruction_synthesizers_training_text(monkeypatch):
    """instruct-synth-tiny's data (its recipe's SynthesizerDataModule) against the general tinyworld's items.

    It holds held-out documents whole: its contexts are the synthesizer entities' documents, the
    DataModule's test documents among them. It holds no question item, though it is trained on the
    very question templates the suite asks: the suite asks about the other (eval) entities, whose
    questions never occur, so an exact-item check cannot see the template overlap.
    """
    from datamodules.instruction import SynthesizerDataModule
    from datamodules.tinyworld import generate_world

    recipe = yaml.safe_load((PROJECT_ROOT / "configs/instruction_pretrain/instruct-synth-tiny.yaml").read_text())
    assert recipe["data"]["class_path"] == "datamodules.instruction.SynthesizerDataModule"
    texts = list(SynthesizerDataModule(**recipe["data"]["init_args"]).training_texts())
    report = contamination_report(texts, [SUITE])
    flagged = seen_tasks(report)
    assert flagged[(SUITE, TASKS["heldout"])][0] > 0
    assert counts(report)["question"] == (0, 500) and counts(report)["short_answer"] == (0, 500)

    world = generate_world(domain="general", **recipe["data"]["init_args"]["world"])
    names = re.compile("|".join(re.escape(e["name"]) for e in world.entities))
    trained = {" ".join(words(names.sub("X", q))) for text in texts for q in re.findall(r"<QUE> (.*?) <ANS>", text)}
    asked = {" ".join(words(names.sub("X", q["question"]))).removeprefix("question ").removesuffix(" answer")
             for q in world.questions}
    assert asked <= trained, "every template the suite asks is one the synthesizer trains on"


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
