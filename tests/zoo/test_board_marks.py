"""The board's contamination marks: a model's own report and those of the entries it was built from."""

from __future__ import annotations

import json

from zoo.board import seen_in_training


def _folder(root, name, report):
    folder = root / name
    folder.mkdir()
    (folder / "zoo_card.json").write_text(json.dumps({"files_sha256": {}, "contamination": report}))
    return folder


def _report(seen=0, templates_seen=0, expected=False):
    task = {"items": 500, "any_ngram": seen, "seen": seen, "expected": expected, "templates": 10,
            "templates_seen": templates_seen}
    return {"n": 13, "version": 2, "suites": {"tinyworld-general": {"zoo_tinyworld_general_question": task}},
            "skipped": {}}


def test_a_model_is_marked_for_what_it_and_its_sources_trained_on(tmp_path):
    # instruct-lm-tiny is built from instruct-synth-tiny's pairs: the synthesizer's templates mark it too.
    folders = {"instruct-synth-tiny": _folder(tmp_path, "instruct-synth-tiny", _report(templates_seen=10)),
               "instruct-lm-tiny": _folder(tmp_path, "instruct-lm-tiny", _report(seen=5)),
               "base-lm-tiny": _folder(tmp_path, "base-lm-tiny", _report())}
    seen = seen_in_training(folders)
    task = ("tinyworld-general", "zoo_tinyworld_general_question")
    assert seen["instruct-synth-tiny"] == {task: "10 of 10 templates in the training text of this model"}
    assert seen["instruct-lm-tiny"][task] == "5 of 500 test items in the training text of this model"
    assert "base-lm-tiny" not in seen


def test_expected_overlap_is_not_marked(tmp_path):
    folders = {"base-lm-tiny": _folder(tmp_path, "base-lm-tiny", _report(seen=200, expected=True))}
    assert seen_in_training(folders) == {}
