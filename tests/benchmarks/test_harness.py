"""Suites, the cached evaluate() (identity, kinds, absent data, device and dtype), and the zoo eval verb."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml

import benchmarks.harness as harness
from benchmarks.evaluators import Score, evaluator, register
from benchmarks.suites import load_suite, suite_hash, suite_names
from tests.benchmarks.suite_kit import CLOZE, write_suite
from zoo.errors import ZooError


def test_shipped_suites_load_and_their_pins_match_the_data(task_manager):
    from lm_eval.tasks import get_task_dict

    from benchmarks.suites import task_docs_sha256

    for name in ("tinyworld-general", "tinyworld-biomed"):
        suite = load_suite(name)
        tasks = get_task_dict([t.task for t in suite.tasks], task_manager)
        for spec in suite.tasks:
            assert spec.data_sha256 == task_docs_sha256(tasks[spec.task]), f"{name}/{spec.task}: re-pin the suite"
    assert {"tinyworld-general", "tinyworld-biomed"} <= set(suite_names())


@pytest.mark.parametrize("edit", [
    lambda d: d["tasks"][0].update(metrics=["bits_per_byte"]),
    lambda d: d["tasks"][1].update(num_fewshot=3),
    lambda d: d["tasks"][1].update(data_sha256="0" * 64),
    lambda d: d.update(version=2),
    lambda d: d["tasks"].pop(),
])
def test_suite_hash_changes_with_any_part(edit, suite_copy):
    before = load_suite("tinyworld-general").hash
    path = suite_copy / "tinyworld-general.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    assert load_suite("tinyworld-general").hash != before, "an edited file is read afresh"


def test_suite_hash_covers_task_prompts(tmp_path, monkeypatch):
    suite = load_suite("tinyworld-general")
    before = suite_hash(suite)
    folder = shutil.copytree(harness.load_suite("tinyworld-general").path.parents[1] / "tasks" / "tinyworld",
                             tmp_path / "tinyworld")
    (folder / "_cloze.yaml").write_text((folder / "_cloze.yaml").read_text() + "\n# changed prompt\n")
    monkeypatch.setattr("benchmarks.suites.task_files", lambda task: [folder / "_cloze.yaml"])
    assert suite_hash(suite) != before


def test_unknown_suite_names_close_ones():
    with pytest.raises(ZooError, match="did you mean tinyworld-general"):
        load_suite("tinyworld-generl")


def test_changed_data_is_refused(tiny_folder, suite_copy):
    path = suite_copy / "tinyworld-general.yaml"
    data = yaml.safe_load(path.read_text())
    data["tasks"][1]["data_sha256"] = "f" * 64
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ZooError, match="data of task zoo_tinyworld_general_cloze changed"):
        harness.evaluate(f"local-dir:{tiny_folder}", "tinyworld-general", limit=2)


def test_rows_are_complete_cached_and_invalidated_by_new_weights(tiny_folder, tmp_path, monkeypatch):
    from zoo.resolve import model_identity

    reference = f"local-dir:{tiny_folder}"
    rows = harness.evaluate(reference, "tinyworld-general", limit=8)
    assert {r["metric"] for r in rows} == {"word_perplexity", "bits_per_byte", "acc", "acc_norm", "exact_match"}
    assert [r["task"] for r in rows] == sorted((r["task"] for r in rows), key=[
        t.task for t in load_suite("tinyworld-general").tasks].index), "rows follow the suite's task order"
    for row in rows:
        assert set(harness.ROW_FIELDS) <= set(row) and row["error"] is None
        assert row["model_identity"] == model_identity(reference) and row["kind"] == "causal-lm"
        assert row["weights_sha256"] == json.loads((tiny_folder / "zoo_card.json").read_text())[
            "files_sha256"]["model.safetensors"]
        assert row["suite_hash"] == load_suite("tinyworld-general").hash
        assert row["versions"]["lm_eval"] and row["git_commit"] and row["date"]
        assert (row["device"], row["dtype"]) == ("cpu", "float32")
    # Second call: served from the cache, no model is run, and its kind is the card's (no module is imported).
    monkeypatch.setattr(harness.LoadedModel, "lm", lambda *a, **k: pytest.fail("cached rows must not re-run the model"))
    monkeypatch.setattr(harness, "module_class", lambda *a: pytest.fail("the card says the kind"))
    assert harness.evaluate(reference, "tinyworld-general", limit=8) == rows
    monkeypatch.undo()

    # Retrained (different weights): a new identity, so it is evaluated afresh.
    import zoo
    from zoo.checkpoint import export_module

    module = zoo.load(reference)
    with torch.no_grad():
        module.net.model.norm.weight += 0.5
    retrained = export_module(module, tmp_path / "retrained")
    fresh = harness.evaluate(f"local-dir:{retrained}", "tinyworld-general", limit=8)
    assert fresh[0]["model_identity"] != rows[0]["model_identity"]
    assert fresh[0]["weights_sha256"] != rows[0]["weights_sha256"]
    assert [r["value"] for r in fresh] != [r["value"] for r in rows]


def _rewrite(path, edit) -> None:
    """Change a JSON file's bytes (an added key, or the same data laid out anew), keeping it loadable."""
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(edit(data), indent=1), encoding="utf-8")


@pytest.mark.parametrize("changed", ["tokenizer.json", "config.json"])
@pytest.mark.parametrize("carded", [True, False], ids=["zoo-folder", "plain-folder"])
def test_cache_identity_covers_tokenizer_and_config(tiny_folder, tmp_path, calls, changed, carded):
    from zoo.hashing import identity_of
    from zoo.resolve import folder_files_sha256

    first, second = (shutil.copytree(tiny_folder, tmp_path / name) for name in ("first", "second"))
    # Same weights, another tokenizer or config: a config key the net ignores, the tokenizer laid out anew.
    _rewrite(second / changed, lambda data: {**data, "zoo_note": "second"} if changed == "config.json" else data)
    for folder in (first, second):
        if not carded:
            (folder / "zoo_card.json").unlink()
    if carded:  # a zoo folder exported with these files would carry their digests
        card = json.loads((second / "zoo_card.json").read_text())
        card["files_sha256"] = folder_files_sha256(second)
        card["identity"] = identity_of(card["files_sha256"])
        (second / "zoo_card.json").write_text(json.dumps(card))

    rows_first = harness.evaluate(f"local-dir:{first}", "counted")
    rows_second = harness.evaluate(f"local-dir:{second}", "counted")
    assert rows_first[0]["weights_sha256"] == rows_second[0]["weights_sha256"]
    assert rows_first[0]["model_identity"] != rows_second[0]["model_identity"]
    suite = load_suite("counted")
    assert harness.cache_path(rows_first[0]["model_identity"], suite, None, {}) \
        != harness.cache_path(rows_second[0]["model_identity"], suite, None, {})
    # Each folder was scored itself (the second was not served the first's row)...
    assert len(calls) == 2 and [rows_first[0]["value"], rows_second[0]["value"]] == [1.0, 2.0]
    # ...and each is served its own row afterwards.
    assert harness.evaluate(f"local-dir:{first}", "counted") == rows_first
    assert harness.evaluate(f"local-dir:{second}", "counted") == rows_second
    assert len(calls) == 2


def test_plain_hf_folder_goes_through_hflm(tiny_folder, tmp_path):
    plain = shutil.copytree(tiny_folder, tmp_path / "plain")
    (plain / "zoo_card.json").unlink()
    zoo_rows = harness.evaluate(f"local-dir:{tiny_folder}", "tinyworld-general", limit=8)
    # The same output-shaping files: the same identity, so only a fresh run goes through HFLM.
    rows = harness.evaluate(f"local-dir:{plain}", "tinyworld-general", limit=8, use_cache=False)
    assert rows[0]["model_identity"] == zoo_rows[0]["model_identity"]
    assert rows[0]["weights_sha256"] == zoo_rows[0]["weights_sha256"]
    for a, b in zip(rows, zoo_rows):
        assert (a["task"], a["metric"], a["kind"], a["device"], a["dtype"]) == \
            (b["task"], b["metric"], b["kind"], b["device"], b["dtype"])
        assert a["value"] == pytest.approx(b["value"], rel=1e-5)


def test_evaluator_rows_have_the_same_schema(tiny_folder, suite_copy, registry):
    @register("vocab_size")
    @evaluator(version="3", kinds=("causal-lm",))
    def vocab_size(module, args, limit):
        return [Score("vocab", float(len(module.tokenizer)) * args["scale"], None, higher_is_better=False)]

    write_suite(suite_copy, "toy", [{"task": "vocabulary", "metrics": ["vocab"], "evaluator": "vocab_size",
                                     "args": {"scale": 2}}])
    rows = harness.evaluate(f"local-dir:{tiny_folder}", "toy")
    assert len(rows) == 1 and rows[0]["value"] == 2 * 1536 and rows[0]["task_version"] == "3"
    assert set(harness.ROW_FIELDS) <= set(rows[0]) and rows[0]["higher_is_better"] is False
    assert (rows[0]["kind"], rows[0]["device"], rows[0]["dtype"]) == ("causal-lm", "cpu", "float32")


@pytest.mark.parametrize(("device", "dtype", "recorded"), [
    ("cpu", torch.bfloat16, ("cpu", "bfloat16")),
    pytest.param("cuda", torch.float32, ("cuda:0", "float32"),
                 marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")),
])
def test_rows_record_the_device_and_dtype_that_ran(tiny_folder, monkeypatch, device, dtype, recorded):
    import zoo

    module = zoo.load(f"local-dir:{tiny_folder}").to(device=device, dtype=dtype)
    monkeypatch.setattr(harness.LoadedModel, "module", property(lambda self: module))
    rows = harness.evaluate(f"local-dir:{tiny_folder}", "tinyworld-general", limit=2, use_cache=False)
    assert {(r["device"], r["dtype"]) for r in rows} == {recorded}
    assert all(r["error"] is None and r["value"] is not None for r in rows)


def test_placement_reads_the_parameters():
    meta = torch.nn.Linear(2, 2, device="meta", dtype=torch.float16)
    assert harness.placement(meta.parameters()) == {"device": "meta", "dtype": "float16"}


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory):
    """A tiny random encoder (kind ``encoder``) exported as a zoo folder."""
    from zoo.checkpoint import export_module
    from zoo.modules import MaskedLMEncoder
    from zoo.resolve import resolve

    torch.manual_seed(0)
    module = MaskedLMEncoder(net="bert-test", tokenizer=f"local-dir:{resolve('minilm-l6-v2')}").eval()
    return export_module(module, tmp_path_factory.mktemp("encoder") / "folder")


def test_the_model_kind_decides_how_each_task_is_scored(tiny_folder, encoder_folder, suite_copy, registry):
    @register("mean_logit")
    @evaluator(version="1", kinds=("encoder", "bi-encoder"))
    def mean_logit(module, args, limit):
        batch = module.tokenizer(["the heart pumps blood"], return_tensors="pt")
        with torch.no_grad():
            return [Score("mean", float(module(batch["input_ids"], batch["attention_mask"]).float().mean()))]

    write_suite(suite_copy, "mixed", [
        CLOZE, {"task": "encoding", "metrics": ["mean"], "evaluator": "mean_logit"}])
    encoder_rows = harness.evaluate(f"local-dir:{encoder_folder}", "mixed", limit=4)
    lm_rows = harness.evaluate(f"local-dir:{tiny_folder}", "mixed", limit=4)

    # The encoder: its evaluator task scored, the lm-eval task an error row saying which kinds it scores.
    by_task = {r["task"]: r for r in encoder_rows}
    assert [r["task"] for r in encoder_rows] == ["zoo_tinyworld_general_cloze", "encoding"]
    assert by_task["encoding"]["kind"] == "encoder" and by_task["encoding"]["error"] is None
    assert isinstance(by_task["encoding"]["value"], float)
    cloze = by_task["zoo_tinyworld_general_cloze"]
    assert cloze["metric"] == "error" and cloze["value"] is None
    assert cloze["error"] == (f"ZooError: zoo_tinyworld_general_cloze is an lm-eval task, which scores causal-lm "
                              f"models; local-dir:{encoder_folder} is of kind encoder")

    # The causal LM: the other way round.
    assert [(r["task"], r["metric"]) for r in lm_rows] == [
        ("zoo_tinyworld_general_cloze", "acc"), ("zoo_tinyworld_general_cloze", "acc_norm"), ("encoding", "error")]
    assert lm_rows[-1]["error"] == (f"ZooError: encoding (evaluator mean_logit) scores encoder, bi-encoder models; "
                                    f"local-dir:{tiny_folder} is of kind causal-lm")


RCT = {"task": "zoo_rct", "metrics": ["acc", "acc_norm"]}


def test_a_task_without_its_data_is_an_error_row_and_the_others_run(tiny_folder, suite_copy, tmp_path, monkeypatch):
    write_suite(suite_copy, "biomed-mixed", [CLOZE, RCT])
    reference = f"local-dir:{tiny_folder}"

    # ZOO_DATA_DIR without pubmed_rct/: the row names the folder and the hub copy.
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("ZOO_DATA_DIR", str(empty))
    rows = harness.evaluate(reference, "biomed-mixed", limit=4)
    assert [(r["task"], r["metric"]) for r in rows] == [
        ("zoo_tinyworld_general_cloze", "acc"), ("zoo_tinyworld_general_cloze", "acc_norm"), ("zoo_rct", "error")]
    assert all(isinstance(r["value"], float) for r in rows[:2])
    assert rows[2]["error"] == (f"FileNotFoundError: rct: needs ZOO_DATA_DIR/pubmed_rct/ but pubmed_rct/test.txt is not "
                                f"in ZOO_DATA_DIR={empty}; put the set's upstream files in {empty / 'pubmed_rct'}, "
                                f"or unset ZOO_DATA_DIR to load the hub copy armanc/pubmed-rct20k test")
    assert rows[2]["value"] is None and rows[2]["model_identity"] == rows[0]["model_identity"]

    # No ZOO_DATA_DIR and the hub offline: the row names the hub id. The scored task comes from the
    # cache; only the failed one is tried again.
    with monkeypatch.context() as patch:
        patch.delenv("ZOO_DATA_DIR")
        patch.setattr(harness.LoadedModel, "lm", lambda *a, **k: pytest.fail("the scored task must come from the cache"))
        again = harness.evaluate(reference, "biomed-mixed", limit=4)
    assert again[:2] == rows[:2] and again[2]["error"].startswith(
        "ConnectionError: rct: ZOO_DATA_DIR is not set and the hub copy armanc/pubmed-rct20k test cannot be loaded")

    # The data arrives: the task is scored, never served its old error.
    (empty / "pubmed_rct").mkdir()
    (empty / "pubmed_rct" / "test.txt").write_text(
        "###1\nBACKGROUND\tAspirin is widely used.\nMETHODS\tWe enrolled 40 adults.\n\n"
        "###2\nRESULTS\tPain fell by half.\nCONCLUSIONS\tAspirin helps.\n")
    rows = harness.evaluate(reference, "biomed-mixed", limit=4)
    assert [(r["task"], r["metric"]) for r in rows][2:] == [("zoo_rct", "acc"), ("zoo_rct", "acc_norm")]
    assert all(r["error"] is None and isinstance(r["value"], float) for r in rows)


def test_eval_verb_prints_a_table_and_bad_input_exits_2(tiny_folder, run_zoo):
    code, out, err = run_zoo("eval", f"local-dir:{tiny_folder}", "--suite", "tinyworld-general", "--limit", "8")
    assert code == 0, err
    assert "| zoo_tinyworld_general_cloze" in out and "acc ↑" in out
    code, _, err = run_zoo("eval", "base-lm-tny", "--suite", "tinyworld-general")
    assert code == 2 and "did you mean base-lm-tiny" in err
    code, _, err = run_zoo("eval", f"local-dir:{tiny_folder}", "--suite", "nope")
    assert code == 2 and "unknown suite 'nope'" in err


def test_items_are_cached_with_the_rows_and_give_back_each_value(tiny_folder):
    from benchmarks.stats import metric_value

    reference = f"local-dir:{tiny_folder}"
    evaluation = harness.evaluate_with_items(reference, "tinyworld-general", limit=8)
    for row in evaluation.rows:
        items = evaluation.items[row["task"]]
        outcomes = items["outcomes"][row["metric"]]
        assert len(outcomes) == len(items["doc_hash"]) == row["n_items"] > 0
        # The board's intervals and paired tests resample these items: they must aggregate to the row's value.
        assert metric_value(row["metric"], outcomes) == pytest.approx(row["value"], rel=1e-9)
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
    cloze = evaluation.items["zoo_tinyworld_general_cloze"]
    assert cloze["n_choices"] == [4] * 8 and set(cloze["gold"]) <= {0, 1, 2, 3}
    assert [float(p == g) for p, g in zip(cloze["pred"], cloze["gold"])] == cloze["outcomes"]["acc"]
    assert "pred" not in evaluation.items["zoo_tinyworld_general_heldout"]
    assert harness.evaluate_with_items(reference, "tinyworld-general", limit=8) == evaluation, "served from the cache"


def test_rows_record_the_machine_that_ran_them(tiny_folder):
    import torch

    (row, *_) = harness.evaluate(f"local-dir:{tiny_folder}", "tinyworld-general", limit=2)
    assert row["isa"] == torch.backends.cpu.get_cpu_capability() and row["threads"] == torch.get_num_threads()
    assert row["cpu"] and row["cpu"] == harness.machine()["cpu"]
    if torch.backends.mkl.is_available():
        assert "blas=mkl" in row["math_kernels"]


def test_compare_verb_pairs_a_zoo_folder_with_a_plain_one(tiny_folder, tmp_path, run_zoo):
    import torch

    import zoo
    from zoo.checkpoint import export_module

    module = zoo.load(f"local-dir:{tiny_folder}")
    with torch.no_grad():
        module.net.model.norm.weight *= 3.0
    plain = export_module(module, tmp_path / "other")
    (plain / "zoo_card.json").unlink()  # a plain HF folder: scored through HFLM
    code, out, err = run_zoo("compare", f"local-dir:{tiny_folder}", f"local-dir:{plain}", "--suite",
                             "tinyworld-general", "--limit", "8")
    assert code == 0, err
    first = harness.evaluate_with_items(f"local-dir:{tiny_folder}", "tinyworld-general", limit=8)
    second = harness.evaluate_with_items(f"local-dir:{plain}", "tinyworld-general", limit=8)
    acc_first, acc_second = (next(r["value"] for r in e.rows if r["task"].endswith("cloze") and r["metric"] == "acc")
                             for e in (first, second))
    from benchmarks.stats import mcnemar_exact

    expected_p = mcnemar_exact(first.items["zoo_tinyworld_general_cloze"]["outcomes"]["acc"],
                               second.items["zoo_tinyworld_general_cloze"]["outcomes"]["acc"])
    line = next(line for line in out.splitlines() if "zoo_tinyworld_general_cloze" in line and "acc ↑" in line)
    assert f"{acc_first:.4f}" in line and f"{acc_second:.4f}" in line and f"{expected_p:.4f}" in line
    assert f"{acc_first - acc_second:+.4f} [" in line
    code, _, err = run_zoo("compare", f"local-dir:{tiny_folder}", "base-lm-tny", "--suite", "tinyworld-general")
    assert code == 2 and "did you mean base-lm-tiny" in err


def test_a_model_evaluated_at_a_preset_resolves_the_names_it_uses_at_that_preset(monkeypatch, tiny_folder):
    """UPRISE's evaluation loads its scoring and transfer LMs by name: on a smoke board, their smoke builds."""
    import benchmarks.harness as harness
    from zoo.paths import current_preset

    seen = []
    monkeypatch.setattr(harness, "_lm_eval_rows", lambda *args: ([], {}))
    monkeypatch.setattr(harness, "_evaluator_rows", lambda *args: seen.append(current_preset()) or [])
    harness.evaluate_with_items(f"local-dir:{tiny_folder}", "uprise-tinyworld", preset="smoke", use_cache=False)
    assert seen == ["smoke"] and current_preset() == "full"


def test_a_process_makes_each_task_once_and_hashes_its_documents_at_every_use(tiny_folder, monkeypatch):
    from benchmarks.tasks import task_manager

    made, hashed = [], []
    manager = task_manager()
    real_load, real_hash = manager.load, harness.task_docs_sha256
    monkeypatch.setattr(manager, "load", lambda names: made.append(names) or real_load(names))
    monkeypatch.setattr(harness, "task_docs_sha256", lambda task: hashed.append(task) or real_hash(task))
    harness._task_object.cache_clear()
    first = harness.evaluate(f"local-dir:{tiny_folder}", "tinyworld-general", limit=2, use_cache=False)
    again = harness.evaluate(f"local-dir:{tiny_folder}", "tinyworld-general", limit=2, use_cache=False)
    lm_tasks = [spec.task for spec in load_suite("tinyworld-general").tasks if spec.evaluator is None]
    # (lm-eval passes the task objects themselves back through load: those make nothing)
    assert sorted(name for names in made for name in names if isinstance(name, str)) == sorted(lm_tasks), \
        "each task made once"
    assert len(hashed) == 2 * len(lm_tasks), "its documents hashed at each evaluation"
    assert [(r["task"], r["value"]) for r in again] == [(r["task"], r["value"]) for r in first]
