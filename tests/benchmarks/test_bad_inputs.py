"""Bad inputs of the benchmark layer (issue 11), one table per kind: suite references that would leave
``benchmarks/suites``, malformed suite files, pins of unknown tasks, bad ``evaluate()`` arguments, a
``ZOO_HOME`` that cannot hold the results cache, corrupt cache files, a leaderboard ``--out`` that is a
file. Each is one ``ZooError`` line naming the thing and the fix, and nothing is written but what the
user named. Also what is welcome: a suite file of one's own, given by its path."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

import benchmarks.harness as harness
from benchmarks import leaderboard
from benchmarks.suites import SUITES_DIR, load_suite, pin
from tests.benchmarks.suite_kit import CLOZE, write_suite
from zoo.errors import ZooError
from zoo.sweep import SweepResult

#: The repository's own suites folder (tests patch ``benchmarks.suites.SUITES_DIR``, never this).
SHIPPED = SUITES_DIR


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes), to show that nothing was written."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def one_error_line(err: str) -> str:
    """The CLI's stderr must be exactly one ``zoo: error:`` line; returns it."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), err
    return lines[0]


# --- Suite references that would reach outside benchmarks/suites --------------------------------------


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A checkout: its suites folder (patched in), a valid suite file at ``SUITES_DIR/../../x.yaml``
    (what ``--pin ../../x`` used to rewrite), the checkout's root as the working folder."""
    root = tmp_path / "repo"
    suites = shutil.copytree(SHIPPED, root / "benchmarks" / "suites")
    monkeypatch.setattr("benchmarks.suites.SUITES_DIR", suites)
    data = yaml.safe_load((SHIPPED / "tinyworld-general.yaml").read_text())
    (root / "x.yaml").write_text("# a file outside benchmarks/suites\n" + yaml.safe_dump({**data, "name": "x"}))
    monkeypatch.chdir(root)
    return root


#: Reference, what the message names, and the fix it gives.
LEAVING = [
    ("../../x", "suite '../../x' is a file path (suite names have no '/'), but not a .yaml file",
     "pass a shipped suite's name (`zoo suites` lists them) or the path of a suite .yaml file"),
    ("suites/../../../x", "suite 'suites/../../../x' is a file path", "or the path of a suite .yaml file"),
    # A path is a path: relative to the working folder, never to benchmarks/suites.
    ("../../x.yaml", "x.yaml: cannot read it (No such file or directory)",
     "pass the path of a readable suite .yaml file"),
    ("..", "unknown suite '..': choose one of collapse,", "a suite file of your own goes by its path"),
    # x.yaml is in the checkout, but a name is looked up in benchmarks/suites only.
    ("x", "unknown suite 'x'", "a suite file of your own goes by its path, e.g. ./my-suite.yaml"),
]


@pytest.mark.parametrize(("reference", "names", "fix"), LEAVING, ids=[case[0] for case in LEAVING])
def test_a_suite_reference_never_reaches_outside_the_suites_folder(repo, run_zoo, reference, names, fix):
    before, shipped = snapshot(repo), snapshot(SHIPPED)
    for call in (lambda: load_suite(reference), lambda: pin(reference),
                 lambda: harness.evaluate("local-dir:/nowhere", reference)):
        with pytest.raises(ZooError) as raised:
            call()
        assert names in str(raised.value) and fix in str(raised.value)
    for argv in (["suites", "--pin", reference], ["eval", "local-dir:/nowhere", "--suite", reference]):
        code, _, err = run_zoo(*argv)
        assert code == 2 and names in one_error_line(err)
    assert snapshot(repo) == before and snapshot(SHIPPED) == shipped, "nothing was written"


# --- A suite file of one's own --------------------------------------------------------------------------


@pytest.fixture
def own_suite(tmp_path, monkeypatch):
    """The folder of a user's own suite files, as the working folder."""
    folder = tmp_path / "mine"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_a_suite_file_of_ones_own_is_evaluated_and_keyed_by_its_content(tiny_folder, calls, own_suite, run_zoo):
    write_suite(own_suite, "my-suite", [{"task": "counted", "metrics": ["calls"], "evaluator": "count_calls"}])
    path = own_suite / "my-suite.yaml"
    for reference in ("./my-suite.yaml", "my-suite.yaml", str(path), path):
        assert (load_suite(reference).name, load_suite(reference).path) == ("my-suite", path)
    reference = f"local-dir:{tiny_folder}"
    rows = harness.evaluate(reference, "./my-suite.yaml")
    assert (rows[0]["suite"], rows[0]["value"]) == ("my-suite", 1.0)
    assert harness.evaluate(reference, str(path)) == rows and len(calls) == 1, "served from the cache"

    # An edited file is another suite: scored afresh, never served the old rows.
    path.write_text(path.read_text().replace("description: my-suite", "description: edited"))
    assert harness.evaluate(reference, "./my-suite.yaml")[0]["value"] == 2.0

    # The CLI passes the path through as it is.
    code, out, err = run_zoo("eval", reference, "--suite", "./my-suite.yaml")
    assert code == 0, err
    assert "on my-suite" in out and len(calls) == 2


def test_pin_rewrites_only_the_file_it_is_given(suite_copy, own_suite):
    write_suite(own_suite, "my-suite", [{key: value for key, value in CLOZE.items() if key != "data_sha256"}])
    path = own_suite / "my-suite.yaml"
    path.write_text("# my own suite\n" + path.read_text())
    copied, shipped = snapshot(suite_copy), snapshot(SHIPPED)
    assert pin("./my-suite.yaml") == path
    assert load_suite(path).tasks[0].data_sha256 == CLOZE["data_sha256"]
    assert path.read_text().startswith("# my own suite\n"), "the header comment is kept"
    assert snapshot(suite_copy) == copied and snapshot(SHIPPED) == shipped, "no other suite file was written"
    assert sorted(p.name for p in own_suite.iterdir()) == ["my-suite.yaml"], "no temporary file is left"


@pytest.mark.parametrize(("task", "message"), [
    ({"task": "zoo_tinyworld_general_clozee", "metrics": ["acc"]},
     "unknown lm-eval task 'zoo_tinyworld_general_clozee': no YAML under benchmarks/tasks defines it "
     "(did you mean zoo_tinyworld_general_cloze"),
    ({"task": "drift", "metrics": ["js"], "evaluator": "ngram_shfit"},
     "unknown evaluator 'ngram_shfit'; registered: ngram_shift, ood, synthesis_quality"),
], ids=["task", "evaluator"])
@pytest.mark.parametrize("where", ["shipped", "own"])
def test_pin_of_a_suite_with_an_unknown_task_is_one_line(suite_copy, own_suite, run_zoo, task, message, where):
    folder = suite_copy if where == "shipped" else own_suite
    write_suite(folder, "broken", [CLOZE, task])
    path = folder / "broken.yaml"
    reference = "broken" if where == "shipped" else str(path)
    before = path.read_bytes()
    with pytest.raises(ZooError) as raised:
        pin(reference)
    assert str(raised.value).startswith(f"suite broken ({path}): {message}")
    assert str(raised.value).endswith("; correct the task in the suite file")
    code, _, err = run_zoo("suites", "--pin", reference)
    assert code == 2 and message in one_error_line(err)
    assert path.read_bytes() == before


# --- Malformed suite files ------------------------------------------------------------------------------

BASE = {"name": "mine", "version": 1, "description": "mine",
        "tasks": [{"task": "t", "metrics": ["m"], "evaluator": "e"}]}


def edited(edit) -> str:
    """BASE with ``edit`` applied, as YAML."""
    data = copy.deepcopy(BASE)
    edit(data)
    return yaml.safe_dump(data)


MALFORMED = {
    "a list": ("- just\n- a list\n", "the file is not a mapping of name, version, description, tasks"),
    "no tasks": (edited(lambda d: d.pop("tasks")), "the file has no tasks"),
    "unknown field": (edited(lambda d: d.update(owner="me")), "the file has unknown field owner"),
    "version text": (edited(lambda d: d.update(version="one")), "the file: version must be int, not 'one'"),
    "version bool": (edited(lambda d: d.update(version=True)), "the file: version must be int, not True"),
    "empty tasks": (edited(lambda d: d.update(tasks=[])), "it lists no tasks"),
    "task not a mapping": (edited(lambda d: d.update(tasks=["t"])), "task 1 is not a mapping of task, metrics"),
    "metrics text": (edited(lambda d: d["tasks"][0].update(metrics="m")), "task 1: metrics must be list, not 'm'"),
    "metrics empty": (edited(lambda d: d["tasks"][0].update(metrics=[])),
                      "task t: metrics must be a non-empty list of metric names"),
    "task field": (edited(lambda d: d["tasks"][0].update(shots=3)), "task 1 has unknown field shots"),
    "negative shots": (edited(lambda d: d["tasks"][0].update(num_fewshot=-1)), "task t: num_fewshot must be 0 or more"),
    "listed twice": (edited(lambda d: d["tasks"].append(d["tasks"][0])), "task t is listed twice"),
    "bad name": (edited(lambda d: d.update(name="My Suite")),
                 "name 'My Suite' is not lowercase letters, digits, '-' and '_'"),
    "shipped name": (edited(lambda d: d.update(name="tinyworld-general")),
                     "name 'tinyworld-general' is a shipped suite's; give your suite a name of its own"),
    "not yaml": ("name: mine\ntasks: [\n", "not UTF-8 YAML"),
    "not text": (b"\xff\xfe\x00binary", "not UTF-8 YAML"),
}


@pytest.mark.parametrize(("content", "message"), MALFORMED.values(), ids=MALFORMED)
def test_a_malformed_suite_file_is_one_line_naming_the_file_and_field(tmp_path, content, message):
    path = tmp_path / "mine.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ZooError) as raised:
        load_suite(path)
    assert str(raised.value).startswith(f"suite file {path}: ")
    assert message in str(raised.value)
    assert str(raised.value).endswith("; see benchmarks/suites/tinyworld-general.yaml for the format")


def test_a_shipped_file_must_carry_its_own_name(suite_copy):
    (suite_copy / "renamed.yaml").write_text(edited(lambda d: d.update(name="other")))
    with pytest.raises(ZooError, match="name 'other' is not its file's name 'renamed'"):
        load_suite("renamed")


# --- evaluate()'s own arguments -------------------------------------------------------------------------

BAD_ARGUMENTS = {
    "limit -1": ({"limit": -1}, "limit must be a whole number of 1 or more (documents scored per task; "
                                "None scores them all), not -1"),
    "limit 0": ({"limit": 0}, "limit must be a whole number of 1 or more"),
    "limit bool": ({"limit": True}, "limit must be a whole number of 1 or more"),
    "limit float": ({"limit": 2.5}, "limit must be a whole number of 1 or more"),
    "batch_size 0": ({"batch_size": 0}, "batch_size must be a whole number of 1 or more (requests per forward "
                                        "pass), not 0"),
    "batch_size negative": ({"batch_size": -8}, "batch_size must be a whole number of 1 or more"),
    "batch_size None": ({"batch_size": None}, "batch_size must be a whole number of 1 or more"),
    "reference int": ({"reference": 123}, "model reference must be a registry name, local-dir:/path or "
                                          "hf-hub:org/name, not 123"),
    "reference None": ({"reference": None}, "model reference must be a registry name"),
    "suite int": ({"suite": 123}, "suite must be a suite name or the path of a suite .yaml file, not 123 (int)"),
    "unknown suite": ({"suite": "tinyworld-generl"}, "unknown suite 'tinyworld-generl': did you mean "
                                                     "tinyworld-general"),
}


@pytest.mark.parametrize(("arguments", "message"), BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS)
def test_bad_evaluate_arguments_are_one_line_naming_the_argument_and_range(tmp_path, monkeypatch, arguments,
                                                                          message):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    with pytest.raises(ZooError) as raised:
        harness.evaluate(**{"reference": "local-dir:/nowhere", "suite": "tinyworld-general", **arguments})
    assert message in str(raised.value)
    assert not (tmp_path / "home").exists(), "nothing was written"


# --- The results cache ----------------------------------------------------------------------------------


@pytest.mark.parametrize("blocked", ["file", "read-only"])
def test_a_zoo_home_that_cannot_hold_the_cache_fails_before_the_model_runs(tiny_folder, calls, tmp_path,
                                                                           monkeypatch, blocked):
    home = tmp_path / "blocked_home"
    if blocked == "file":
        home.write_text("not a folder")
        reason = f"a file is in the way of its folder {home / 'cache' / 'results'}"
    else:
        results = home / "cache" / "results"
        results.mkdir(parents=True)
        results.chmod(0o555)
        # root writes into read-only folders anyway: zoo.paths asks os.access, so answer as for a user.
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if Path(path) == results and mode == os.W_OK
                            else real_access(path, mode, **kw))
        reason = f"{results} is read-only"
    monkeypatch.setenv("ZOO_HOME", str(home))
    before = snapshot(home) if home.is_dir() else home.read_bytes()
    try:
        with pytest.raises(ZooError) as raised:
            harness.evaluate(f"local-dir:{tiny_folder}", "counted")
    finally:
        if blocked == "read-only":
            results.chmod(0o755)
    assert reason in str(raised.value)
    assert str(raised.value).endswith(f"(the results cache lives under ZOO_HOME, now {home}: "
                                      "set ZOO_HOME to a writable folder)")
    assert calls == [], "the model was not run for nothing"
    assert (snapshot(home) if home.is_dir() else home.read_bytes()) == before


@pytest.mark.parametrize("corrupt", [
    lambda text: text[:len(text) // 2],  # a truncated write
    lambda text: "",
    lambda text: "[]",
    lambda text: '{"rows": "none"}',
    lambda text: '{"rows": [1, 2]}',
    lambda text: json.dumps({"rows": [{"task": "counted"}]}),  # rows without the row fields
    lambda text: "\udcff",  # not UTF-8 once written (surrogateescape)
], ids=["truncated", "empty", "list", "rows-text", "rows-numbers", "rows-partial", "binary"])
def test_a_corrupt_cache_file_is_a_miss(tiny_folder, calls, corrupt):
    reference = f"local-dir:{tiny_folder}"
    rows = harness.evaluate(reference, "counted")
    path = harness.cache_path(rows[0]["model_identity"], load_suite("counted"), None, {})
    path.write_bytes(corrupt(path.read_text()).encode("utf-8", "surrogateescape"))
    again = harness.evaluate(reference, "counted")
    assert again[0]["value"] == 2.0 and len(calls) == 2, "scored afresh"
    assert json.loads(path.read_text())["rows"] == again, "and the cache file is whole again"


def test_changed_data_of_an_unpinned_task_is_not_served_old_rows(tiny_folder, suite_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "zoo_home"))
    write_suite(suite_copy, "unpinned", [{"task": CLOZE["task"], "metrics": ["acc"]}])
    reference = f"local-dir:{tiny_folder}"
    rows = harness.evaluate(reference, "unpinned", limit=2)

    def ran(*args, **kwargs):
        raise RuntimeError("the model ran")

    monkeypatch.setattr(harness.LoadedModel, "lm", ran)
    assert harness.evaluate(reference, "unpinned", limit=2) == rows, "the same data: served from the cache"
    # The documents change (the suite file does not): their sha256 is part of the cache key.
    monkeypatch.setattr(harness, "task_docs_sha256", lambda task: "0" * 64)
    with pytest.raises(RuntimeError, match="the model ran"):
        harness.evaluate(reference, "unpinned", limit=2)


# --- The leaderboard ------------------------------------------------------------------------------------

ROWS = [{"model": "m", "suite": "toy", "task": "t", "metric": "acc", "value": 0.5, "stderr": None,
         "higher_is_better": True, "error": None}]
PRIMARY = {("toy", "t"): "acc"}


@pytest.mark.parametrize(("place", "message"), [
    ("file", "a file is in the way of its folder {out}; pick another output path"),
    ("under-file", "a file is in the way of its folder {out}; pick another output path"),
])
def test_leaderboard_out_that_is_a_file_is_one_line(tmp_path, place, message):
    blocker = tmp_path / "board"
    blocker.write_text("keep me")
    out = blocker if place == "file" else blocker / "sub"
    with pytest.raises(ZooError) as raised:
        leaderboard.write(leaderboard.Board(ROWS, PRIMARY), out)
    assert f"cannot write {out / 'LEADERBOARD.md'}" in str(raised.value)
    assert message.format(out=out) in str(raised.value)
    assert blocker.read_text() == "keep me" and snapshot(tmp_path) == {"board": b"keep me"}


def test_leaderboard_cli_out_that_is_a_file_is_one_line(tmp_path, monkeypatch, run_zoo):
    monkeypatch.setattr("zoo.sweep.sweep", lambda *a, **k: SweepResult(ROWS, {}, {}, []))
    monkeypatch.setattr("benchmarks.harness.primary_metrics", lambda rows: PRIMARY)
    (tmp_path / "board").write_text("keep me")
    code, _, err = run_zoo("leaderboard", "--out", tmp_path / "board")
    assert code == 2 and "a file is in the way of its folder" in one_error_line(err)
    assert (tmp_path / "board").read_text() == "keep me"


def test_a_board_that_fails_to_render_leaves_the_old_one_whole(tmp_path, monkeypatch):
    leaderboard.write(leaderboard.Board(ROWS, PRIMARY), tmp_path)
    before = snapshot(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("no figure")

    monkeypatch.setattr(leaderboard, "render_png", broken)
    with pytest.raises(RuntimeError, match="no figure"):
        leaderboard.write(leaderboard.Board([{**ROWS[0], "value": 0.9}], PRIMARY), tmp_path)
    assert snapshot(tmp_path) == before, "no file was rewritten, no temporary file is left"
