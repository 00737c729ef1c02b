"""The Python API's bad input: a ZooError naming the thing and the fix, never a TypeError or KeyError."""

from __future__ import annotations

import pytest

import zoo
from zoo.errors import ZooError


@pytest.mark.parametrize("call, expected", [
    (lambda: zoo.load(None), "model reference must be a registry name, local-dir:/path or hf-hub:org/name, not None"),
    (lambda: zoo.load(123), "not 123"),
    (lambda: zoo.load(""), "not ''"),
    (lambda: zoo.list_models(123), "list_models takes a shell pattern such as 'adaptllm*', not 123"),
    (lambda: zoo.card(None), "a model name is a string such as 'base-lm-tiny', not None"),
    (lambda: zoo.load("base-lm-tiny", preset="bogus"), "unknown preset 'bogus'; use one of full, smoke"),
    (lambda: zoo.build("base-lm-tiny", preset="bogus"), "preset='bogus' is not one of full, smoke"),
    (lambda: zoo.load("package:no_such_package/model"), "unknown model"),
])
def test_api_bad_input_is_a_zoo_error(call, expected):
    with pytest.raises(ZooError) as raised:
        call()
    assert expected in str(raised.value) and "\n" not in str(raised.value)


def test_zoo_home_that_is_a_file_is_one_line(run_zoo, tmp_path, monkeypatch):
    blocker = tmp_path / "home"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv("ZOO_HOME", str(blocker))
    code, _, err = run_zoo("build", "base-lm-tiny", "--preset", "smoke")
    assert code == 2 and err.count("zoo: error:") == 1 and "a file is in the way" in err
    assert blocker.read_text() == "not a folder\n"


def test_a_name_built_only_at_another_preset_says_which_and_how_to_load_it(tmp_path, monkeypatch):
    from zoo.paths import checkpoints_dir
    from zoo.resolve import resolve

    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    smoke = checkpoints_dir("smoke") / "base-lm-tiny"
    smoke.mkdir(parents=True)
    (smoke / "zoo_card.json").write_text("{}")
    with pytest.raises(ZooError) as raised:
        resolve("base-lm-tiny")
    message = str(raised.value)
    assert "not built at preset full" in message and "built at preset smoke" in message
    assert "zoo.load('base-lm-tiny', preset='smoke')" in message and "zoo build base-lm-tiny" in message
    assert resolve("base-lm-tiny", preset="smoke") == smoke


def test_recipes_that_name_each_other_are_one_line(monkeypatch):
    from zoo.builder import build
    from zoo.registry import Entry

    circle = {"base-lm-tiny": ("vanilla-lm-tiny",), "vanilla-lm-tiny": ("base-lm-tiny",)}
    monkeypatch.setattr(Entry, "depends_on", property(lambda entry: circle.get(entry.name, ())))
    with pytest.raises(ZooError, match="recipes name each other in a circle .base-lm-tiny -> vanilla-lm-tiny -> "
                                       "base-lm-tiny.; remove one"):
        build("base-lm-tiny", force=True)


def test_a_killed_writers_temporaries_and_interrupted_swaps_are_cleaned(tmp_path):
    import socket

    from zoo.paths import atomic_write_text

    dead = 2**22 + 1  # above Linux's largest pid: no process has it
    host = socket.gethostname()
    target = tmp_path / "cards.json"
    mine, other_host = tmp_path / f".cards.json.tmp-{dead}@{host}-x", tmp_path / f".cards.json.tmp-{dead}@elsewhere-x"
    mine.write_text("half")
    other_host.write_text("half")
    (tmp_path / ".cards.json.old").write_text("the only good copy")
    atomic_write_text(target, "new\n")
    assert not mine.exists() and other_host.exists(), "only this host's dead writers are reaped"
    assert target.read_text() == "new\n" and not (tmp_path / ".cards.json.old").exists()


def test_an_interrupted_swap_restores_the_old_copy(tmp_path):
    from zoo.paths import clean_stale_temps

    (tmp_path / ".model.old").mkdir()
    (tmp_path / ".model.old" / "weights").write_text("good")
    clean_stale_temps(tmp_path / "model")
    assert (tmp_path / "model" / "weights").read_text() == "good"
