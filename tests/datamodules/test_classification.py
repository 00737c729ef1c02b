"""TextClassificationDataModule and its sets: every file format, patterns and limits, tinyworld sentences,
the loaders' order, and a clear error for each bad set."""

from __future__ import annotations

import json

import pytest
import torch

from datamodules.classification import NO_LABEL, TextClassificationDataModule, TextSet, tinyworld_sentences
from zoo.errors import ZooError


@pytest.fixture
def files(tmp_path):
    (tmp_path / "id.tsv").write_text("sentence\tlabel\na fine film\t1\na dull film\t0\nso so\t1\n", encoding="utf-8")
    (tmp_path / "ood.txt").write_text("first line\n\nsecond line\n", encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps({"query": f"Question: q{i}?\nAnswer:", "x": i})
                                                   for i in range(3)), encoding="utf-8")
    (tmp_path / "keyed.json").write_text(json.dumps({"11": {"QUESTION": "why?"}, "12": {"QUESTION": "how?"}}),
                                         encoding="utf-8")
    return tmp_path


def test_every_format_reads_texts_and_labels(files):
    assert TextSet("id", str(files / "id.tsv"), label_field="label").read() == (
        ["a fine film", "a dull film", "so so"], [1, 0, 1])
    assert TextSet("ood", str(files / "ood.txt")).read() == (["first line", "second line"], [NO_LABEL, NO_LABEL])
    assert TextSet("keyed", str(files / "keyed.json"), text_field="QUESTION").read()[0] == ["why?", "how?"]
    questions = TextSet("q", str(files / "rows.jsonl"), text_field="query", pattern=r"^Question: (.*?)\n", limit=2)
    assert questions.read() == (["q0?", "q1?"], [NO_LABEL, NO_LABEL])
    # A .txt file of JSON lines (ChemProt's) says so.
    (files / "lines.txt").write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    assert TextSet("c", str(files / "lines.txt"), format="jsonl").read()[0] == ["a", "b"]


def test_zoo_data_sources_read_under_zoo_data_dir(files, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(files))
    assert TextSet("id", "zoo-data:id.tsv").read()[0][0] == "a fine film"
    monkeypatch.delenv("ZOO_DATA_DIR")
    with pytest.raises(ZooError, match="ZOO_DATA_DIR"):
        TextSet("id", "zoo-data:id.tsv").read()


@pytest.mark.parametrize("make, problem", [
    (lambda d: TextSet("gone", str(d / "missing.txt")), "file not found"),
    (lambda d: TextSet("empty", str(d / "empty.txt")), "has no texts"),
    (lambda d: TextSet("blank", str(d / "blank.txt")), "has no texts"),
    (lambda d: TextSet("q", str(d / "rows.jsonl"), text_field="query", pattern="^(Nothing)"), "matching its pattern"),
    (lambda d: TextSet("f", str(d / "rows.jsonl"), text_field="question"), "has no field 'question'"),
    (lambda d: TextSet("l", str(d / "id.tsv"), label_field="sentence"), "is not an integer class index"),
    (lambda d: TextSet("j", str(d / "id.tsv"), format="jsonl"), "is not valid jsonl"),
    (lambda d: TextSet("s", str(d / "x.csv")), "file not found"),
    (lambda d: TextSet("bad name", str(d / "ood.txt")), "use letters, digits"),
    (lambda d: TextSet("p", str(d / "ood.txt"), pattern="(a)(b)"), "exactly one group"),
    (lambda d: TextSet("p", str(d / "ood.txt"), pattern="(a"), "is not a regular expression"),
    (lambda d: TextSet("z", str(d / "ood.txt"), limit=0), "limit=0 must be an integer >= 1"),
    (lambda d: TextSet("z", str(d / "ood.txt"), format="csv"), "format='csv'"),
], ids=["missing", "empty", "blank", "pattern", "field", "label", "json", "suffix", "name", "groups", "regex",
        "limit", "format"])
def test_a_bad_set_is_one_line_naming_it(files, make, problem):
    (files / "empty.txt").write_text("", encoding="utf-8")
    (files / "blank.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(ZooError, match=problem) as caught:
        make(files).read()
    assert "\n" not in str(caught.value)


def test_unknown_suffix_asks_for_a_format(files):
    (files / "x.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(ZooError, match="set format to one of"):
        TextSet("s", str(files / "x.csv")).read()


def test_tinyworld_sentences_are_labelled_by_the_facts_they_state():
    rows = tinyworld_sentences("tinyworld:biomed", {"n_entities": 12}, "train")
    held_out = tinyworld_sentences("tinyworld:biomed", {"n_entities": 12}, "test")
    assert rows and held_out and len(held_out) < len(rows) / 4  # the zoo split: 90 % of documents train
    assert {label for _, label in rows} == {0, 1}
    # "Madanolol owes its discovery to the Linwood Laboratories, ..." states the entity's lab.
    assert ("Madanolol owes its discovery to the Linwood Laboratories, which still holds the original patent.", 1) in rows
    assert ("This entry is about Madanolol, a medicine described in the pharmacology literature.", 0) in rows


def test_loaders_hold_the_training_split_then_the_test_sets_in_order(files):
    module = TextClassificationDataModule(
        train={"name": "id", "source": str(files / "id.tsv"), "label_field": "label"},
        test={"name": "id-test", "source": str(files / "id.tsv"), "label_field": "label"},
        ood=[{"name": "news", "source": str(files / "ood.txt")}, {"name": "keyed", "source": str(files / "keyed.json"),
                                                                    "text_field": "QUESTION"}],
        tokenizer="minilm-l6-v2", val_fraction=0.34, batch_size=2)
    module.setup("fit")
    assert module.test_set_names() == ["id-test", "news", "keyed"]
    assert list(module.training_texts()) == ["a fine film", "a dull film"]
    train = next(iter(module.fit_loader()))
    assert train["labels"].tolist() == [1, 0] and train["input_ids"][:, 0].tolist() == [101, 101]
    # A batch is as long as its longest text: no column of padding only.
    assert bool(train["attention_mask"][:, -1].any())
    tests = module.test_dataloader()
    news = next(iter(tests[1]))
    assert news["labels"].tolist() == [NO_LABEL, NO_LABEL] and news["index"].tolist() == [0, 1]
    assert len(list(tests[2])) == 1 and len(module.val_dataloader()) == 1


def test_repeated_set_names_and_bad_numbers_are_refused(files):
    text = {"name": "a", "source": str(files / "ood.txt")}
    with pytest.raises(ZooError, match="set names repeat"):
        TextClassificationDataModule(train=text, test=text, ood=[text], tokenizer="minilm-l6-v2")
    with pytest.raises(ZooError, match="max_length=2 must be an integer >= 3"):
        TextClassificationDataModule(train=text, test=text, tokenizer="minilm-l6-v2", max_length=2)
    with pytest.raises(ZooError, match="fields: name, source"):
        TextClassificationDataModule(train={"name": "a", "path": "x"}, test=text, tokenizer="minilm-l6-v2")


def test_scoring_needs_no_gradient_and_fits_mahalanobis_on_the_training_set(files):
    from zoo.modules import MaskedLMEncoder
    from zoo.resolve import resolve

    module = TextClassificationDataModule(
        train={"name": "id", "source": str(files / "id.tsv"), "label_field": "label"},
        test={"name": "t", "source": str(files / "ood.txt")}, tokenizer="minilm-l6-v2", val_fraction=0.0)
    encoder = MaskedLMEncoder(net="bert-test", tokenizer=str(resolve("minilm-l6-v2"))).eval()
    detector = encoder.fit_mahalanobis(module.fit_loader(), use_labels=True)
    assert detector.means.shape == (2, 32)
    batch = next(iter(module.fit_loader()))
    with torch.no_grad():
        assert detector.score(encoder.features(batch)).shape == (3,)
