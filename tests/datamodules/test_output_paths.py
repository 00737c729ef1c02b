"""Output paths of the data writers (``zoo synth rc --out``, ``zoo world --out``): bad paths are one-line
errors that write nothing, and what a killed run left is removed by the next run (issue 11, item 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datamodules.tinyworld import generate_world
from datamodules.transforms.reading_comprehension import convert_file
from zoo.errors import ZooError


def convert_rc(tmp_path: Path, out: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "d0", "text": "A short document. It has two sentences."}) + "\n")
    convert_file(source, out, domain="none")


def write_world(tmp_path: Path, out: Path) -> None:
    generate_world(n_entities=4).write_jsonl(out)


WRITERS = {"synth rc": (convert_rc, "out.jsonl"), "world": (write_world, "world")}


def killed_writer(target: Path) -> None:
    """A process killed while writing ``target`` through ``zoo.paths.atomic_file``: its temporary stays behind."""
    script = ("import os, signal, sys\nfrom zoo.paths import atomic_file\n"
              "with atomic_file(sys.argv[1]) as handle:\n"
              "    handle.write('half')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)")
    assert subprocess.run([sys.executable, "-c", script, str(target)]).returncode == -9


def hidden(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def one_line_error(call) -> str:
    with pytest.raises(ZooError) as error:
        call()
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize("writer", WRITERS)
def test_an_output_under_a_file_is_a_one_line_error(tmp_path, writer):
    write, name = WRITERS[writer]
    (tmp_path / "file").write_text("mine")
    message = one_line_error(lambda: write(tmp_path, tmp_path / "file" / name))
    assert "a file is in the way" in message and "pick another output path" in message
    assert (tmp_path / "file").read_text() == "mine"


def test_an_rc_output_that_is_a_folder_is_a_one_line_error(tmp_path):
    (tmp_path / "out.jsonl").mkdir()
    (tmp_path / "out.jsonl" / "notes.txt").write_text("mine")
    assert "it is a folder; pass a file path" in one_line_error(lambda: convert_rc(tmp_path, tmp_path / "out.jsonl"))
    assert [p.name for p in (tmp_path / "out.jsonl").iterdir()] == ["notes.txt"]


def test_a_world_output_that_is_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "world").write_text("mine")
    assert "a file is in the way" in one_line_error(lambda: write_world(tmp_path, tmp_path / "world"))
    assert (tmp_path / "world").read_text() == "mine"


@pytest.mark.parametrize("writer", WRITERS)
def test_a_read_only_output_folder_is_a_one_line_error(tmp_path, writer, monkeypatch):
    write, name = WRITERS[writer]
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # Root ignores permission bits: the folder reads as read-only to the writers' check whoever runs the tests.
    real_access = os.access
    monkeypatch.setattr("zoo.paths.os.access", lambda path, mode: real_access(path, mode) and
                        not (Path(path) == locked and mode & os.W_OK))
    try:
        target = locked / name / "x" if writer == "world" else locked / name
        message = one_line_error(lambda: write(tmp_path, target))
        assert "pick a writable path" in message and list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_killed_runs_temporary_is_removed_by_the_next_run(tmp_path, writer):
    write, name = WRITERS[writer]
    out = tmp_path / name
    target = out / "documents.jsonl" if writer == "world" else out
    killed_writer(target)
    left = target.parent
    assert len(hidden(left)) == 1 and hidden(left)[0].startswith(f".{target.name}.tmp-")
    write(tmp_path, out)
    assert hidden(left) == [] and target.is_file()


def test_a_world_keeps_the_other_files_of_its_folder(tmp_path):
    (tmp_path / "world").mkdir()
    (tmp_path / "world" / "notes.txt").write_text("mine")
    write_world(tmp_path, tmp_path / "world")
    assert (tmp_path / "world" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "world" / "world.json").is_file() and hidden(tmp_path / "world") == []
