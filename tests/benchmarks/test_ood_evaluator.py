"""The ``ood`` evaluator through the harness: one AUROC and one FPR95 row per OOD set, equal to the metrics of the
module's own scores computed directly, Mahalanobis rows, the histogram, and error rows for bad sets."""

from __future__ import annotations

import pytest
import torch
import yaml

from benchmarks.harness import evaluate
from zoo.checkpoint import export_module
from zoo.modules import MaskedLMEncoder, SequenceClassifier
from zoo.modules.ood import Mahalanobis, ood_metrics
from zoo.paths import zoo_home
from zoo.resolve import resolve

ID_TEXTS = ["a charming film", "a dull and tired film", "the best movie of the year", "bleak and desperate",
            "it is funny", "an ordinary comedy"]
OOD_TEXTS = ["parliament dismissed the motion on the amendment", "the minister was sentenced in court",
             "do mitochondria play a role in leaf remodelling?"]


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ood_sets")
    (folder / "id.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(ID_TEXTS)),
                                   encoding="utf-8")
    (folder / "news.txt").write_text("\n".join(OOD_TEXTS[:2]) + "\n", encoding="utf-8")
    (folder / "questions.txt").write_text(OOD_TEXTS[2] + "\n" + ID_TEXTS[0] + "\n", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    return folder


def suite_file(folder, tmp_path, ood) -> str:
    sets = {"in_distribution": {"name": "id", "source": str(folder / "id.tsv"), "label_field": "label"},
            "train": {"name": "id-train", "source": str(folder / "id.tsv"), "label_field": "label"},
            "ood": ood, "max_length": 32, "batch_size": 4}
    names = [each["name"] for each in ood]
    metrics = [f"{metric}_{name}" for metric in ("auroc", "fpr95") for name in names]
    suite = {"name": "ood-test", "version": 1, "description": "test", "tasks": [
        {"task": "ood", "evaluator": "ood", "metrics": metrics, "args": {**sets, "score": "own"}},
        {"task": "ood_mahalanobis", "evaluator": "ood", "metrics": metrics, "args": {**sets, "score": "mahalanobis"}}]}
    path = tmp_path / "ood-test.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module", params=["mlm", "msp"])
def folder(request, tmp_path_factory):
    torch.manual_seed(0)
    tokenizer = str(resolve("minilm-l6-v2"))
    module = (MaskedLMEncoder(net="bert-test", tokenizer=tokenizer) if request.param == "mlm"
              else SequenceClassifier(net="bert-test", tokenizer=tokenizer))
    return export_module(module.eval(), tmp_path_factory.mktemp(request.param) / "folder"), module.eval()


def own_scores(module, texts) -> torch.Tensor:
    with torch.no_grad():
        encoded = module.tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt",
                                   return_token_type_ids=False)
        return next(iter(module.score_batch(dict(encoded)).values()))


def test_rows_are_the_metrics_of_the_modules_own_scores(folder, sets, tmp_path):
    path, module = folder
    ood = [{"name": "news", "source": str(sets / "news.txt")}, {"name": "questions", "source": str(sets / "questions.txt")}]
    rows = evaluate(f"local-dir:{path}", suite_file(sets, tmp_path, ood), use_cache=False)
    values = {(row["task"], row["metric"]): row["value"] for row in rows}
    assert not [row for row in rows if row.get("error")]
    assert set(values) == {(task, f"{metric}_{name}") for task in ("ood", "ood_mahalanobis")
                           for metric in ("auroc", "fpr95") for name in ("news", "questions")}
    in_scores = own_scores(module, ID_TEXTS)
    for name, texts in (("news", OOD_TEXTS[:2]), ("questions", [OOD_TEXTS[2], ID_TEXTS[0]])):
        expected = ood_metrics(in_scores, own_scores(module, texts))
        assert values[("ood", f"auroc_{name}")] == pytest.approx(expected["auroc"], abs=1e-6)
        assert values[("ood", f"fpr95_{name}")] == pytest.approx(expected["fpr95"], abs=1e-6)
    with torch.no_grad():
        encode = lambda texts: module.features(dict(module.tokenizer(  # noqa: E731
            texts, padding=True, truncation=True, max_length=32, return_tensors="pt", return_token_type_ids=False)))
        detector = Mahalanobis.fit(encode(ID_TEXTS), torch.tensor([i % 2 for i in range(len(ID_TEXTS))]))
        expected = ood_metrics(detector.score(encode(ID_TEXTS)), detector.score(encode(OOD_TEXTS[:2])))
    assert values[("ood_mahalanobis", "auroc_news")] == pytest.approx(expected["auroc"], abs=1e-6)
    # By hand: the share of (OOD, in-distribution) pairs whose distances are ordered right.
    in_distances, out_distances = detector.score(encode(ID_TEXTS)), detector.score(encode(OOD_TEXTS[:2]))
    ordered = sum(float(o > i) + 0.5 * float(o == i) for o in out_distances for i in in_distances)
    assert values[("ood_mahalanobis", "auroc_news")] == pytest.approx(ordered / (len(in_distances) * 2), abs=1e-6)
    # A sentence of the in-distribution set among the "OOD" ones scores as in-distribution: AUROC below 1.
    assert values[("ood", "auroc_questions")] < 1.0
    assert (zoo_home() / "results" / "ood" / f"local-dir:{path}" / "own.png").is_file()


def test_a_limit_bounds_the_mahalanobis_fit_as_well_as_the_scored_sets(folder, sets, tmp_path):
    """A smoke board's limit: the detector fits on the first ``limit`` training sentences, and scores the first
    ``limit`` of each set."""
    path, module = folder
    rows = evaluate(f"local-dir:{path}", suite_file(sets, tmp_path, [{"name": "news", "source": str(sets / "news.txt")}]),
                    limit=4, use_cache=False)
    value = {(row["task"], row["metric"]): row["value"] for row in rows}[("ood_mahalanobis", "auroc_news")]
    with torch.no_grad():
        encode = lambda texts: module.features(dict(module.tokenizer(  # noqa: E731
            texts, padding=True, truncation=True, max_length=32, return_tensors="pt", return_token_type_ids=False)))
        detector = Mahalanobis.fit(encode(ID_TEXTS[:4]), torch.tensor([0, 1, 0, 1]))
        expected = ood_metrics(detector.score(encode(ID_TEXTS[:4])), detector.score(encode(OOD_TEXTS[:2])))
        on_every_sentence = Mahalanobis.fit(encode(ID_TEXTS), torch.tensor([i % 2 for i in range(len(ID_TEXTS))]))
    assert value == pytest.approx(expected["auroc"], abs=1e-6)
    assert not torch.allclose(detector.score(encode(OOD_TEXTS[:2])), on_every_sentence.score(encode(OOD_TEXTS[:2])))


def test_an_empty_or_missing_ood_file_is_an_error_row_naming_it(folder, sets, tmp_path):
    path, _ = folder
    for ood, problem in (([{"name": "gone", "source": str(sets / "missing.txt")}], "file not found"),
                         ([{"name": "empty", "source": str(sets / "empty.txt")}], "has no texts")):
        rows = evaluate(f"local-dir:{path}", suite_file(sets, tmp_path, ood), use_cache=False)
        errors = {row["task"]: row["error"] for row in rows if row.get("error")}
        assert set(errors) == {"ood", "ood_mahalanobis"} and all(problem in error for error in errors.values())


def test_the_tinyworld_suite_runs_offline(folder):
    path, _ = folder
    rows = evaluate(f"local-dir:{path}", "tinyworld-ood", limit=24, use_cache=False)
    assert not [row for row in rows if row.get("error")]
    assert {(row["task"], row["metric"]) for row in rows} == {
        (task, f"{metric}_{name}") for task in ("ood", "ood_mahalanobis") for metric in ("auroc", "fpr95")
        for name in ("finance", "law", "general")}
    assert all(0.0 <= row["value"] <= 1.0 for row in rows)
