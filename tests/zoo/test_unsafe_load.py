"""Nothing unsafe is loaded: remote or pickled checkpoints are refused, and runs that would do nothing say so."""

from __future__ import annotations

import pathlib

import pytest
import torch

from tests.conftest import TINY
from zoo.paths import PROJECT_ROOT

RECIPE = str(PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml")


class Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("zoo: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("subcommand", ["fit", "validate", "test", "predict"])
def test_remote_checkpoint_is_refused_before_anything_runs(subcommand, run_zoo, tmp_path):
    code, _, err = run_zoo(subcommand, "-c", RECIPE, *TINY, "--trainer.default_root_dir", tmp_path,
                           "--ckpt_path", "http://127.0.0.1:9/x.ckpt")
    assert code == 2
    assert "remote checkpoints are refused" in one_error_line(err) and "pass the local file" in err
    assert not (tmp_path / "checkpoints").exists()


def test_a_pickle_payload_never_runs(run_zoo, tmp_path):
    marker, ckpt = tmp_path / "code-ran", tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Payload(marker)}, ckpt)
    code, _, err = run_zoo("test", "-c", RECIPE, *TINY, "--trainer.default_root_dir", tmp_path, "--ckpt_path", ckpt)
    assert code == 2 and "checkpoint refused" in one_error_line(err)
    assert not marker.exists(), "unpickling ran the payload"


def test_weights_only_false_needs_the_explicit_trust_switch(run_zoo, tmp_path, monkeypatch):
    monkeypatch.delenv("ZOO_TRUST_PICKLE", raising=False)
    code, _, err = run_zoo("fit", "-c", RECIPE, *TINY, "--trainer.default_root_dir", tmp_path, "--weights_only", "false")
    assert code == 2 and "set ZOO_TRUST_PICKLE=1" in one_error_line(err)


def test_export_after_fit_holds_the_final_step(run_zoo, tmp_path):
    """last.ckpt was written every 3 steps; a 5-step fit must still export step 5, and the card says so."""
    from zoo.resolve import read_card

    code, _, err = run_zoo("fit", "-c", RECIPE, *TINY, "--trainer.max_steps", "5", "--checkpoint.every_n_train_steps",
                           "3", "--trainer.default_root_dir", tmp_path)
    assert code == 0, err
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 5
    code, _, err = run_zoo("export", tmp_path / "checkpoints" / "last.ckpt", tmp_path / "out")
    assert code == 0, err
    assert read_card(tmp_path / "out")["steps"] == 5


@pytest.mark.parametrize("subcommand, args, expected", [
    ("fit", ["--trainer.max_steps", "0"], "--trainer.max_steps 0: the fit would train nothing"),
    ("fit", ["--ckpt_path", "last"], "--ckpt_path last: no earlier run in"),
    ("test", ["--ckpt_path", "last"], "--ckpt_path last: no earlier run in"),
    ("predict", ["--ckpt_path", "last"], "--ckpt_path last: no earlier run in"),
    ("test", ["--ckpt_path", "best"], "--ckpt_path best: zoo runs keep only last.ckpt"),
    ("fit", ["--ckpt_path", "/nonexistent/x.ckpt"], "--ckpt_path /nonexistent/x.ckpt: no such checkpoint file"),
    ("validate", ["--ckpt_path", "{tensors}"], "a torch file but not a Lightning checkpoint"),
    ("test", ["--ckpt_path", "{text}"], "not a readable checkpoint"),
])
def test_runs_that_would_do_nothing_or_the_wrong_thing_say_so(subcommand, args, expected, run_zoo, tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "tensors.pt")
    (tmp_path / "text.ckpt").write_text("not a checkpoint\n")
    args = [str(tmp_path / f"{a[1:-1]}{'.pt' if a == '{tensors}' else '.ckpt'}") if a.startswith("{") else a
            for a in args]
    code, _, err = run_zoo(subcommand, "-c", RECIPE, *TINY, "--trainer.default_root_dir", tmp_path, *args)
    assert code == 2 and expected in one_error_line(err)
    assert not (tmp_path / "checkpoints").exists()


def test_bad_input_reaches_a_terminal_as_exactly_one_line(tmp_path):
    """Out of process, nothing else reaches stderr before the error (no Lightning warnings repeating the command)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "ZOO_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "zoo", "fit", "-c", RECIPE, "--trainer.max_steps", "0",
                             "--trainer.default_root_dir", str(tmp_path)], capture_output=True, text=True, env=env,
                            cwd=PROJECT_ROOT, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "zoo: error: --trainer.max_steps 0: the fit would train nothing and save nothing; give a positive number of "
        "steps, or use `zoo test` to evaluate the starting weights"]


def test_a_text_file_given_to_export_is_one_line(run_zoo, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    code, _, err = run_zoo("export", text, tmp_path / "out")
    assert code == 2 and "not a readable Lightning checkpoint" in one_error_line(err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target", ["file", "user folder"])
def test_export_never_replaces_what_is_not_a_zoo_folder(target, run_zoo, tiny_folder, tmp_path):
    out = tmp_path / "out"
    if target == "file":
        out.write_text("precious\n")
    else:
        out.mkdir()
        (out / "thesis.tex").write_text("precious\n")
    ckpt = tiny_folder.parent / "checkpoints" / "last.ckpt"
    code, _, err = run_zoo("export", ckpt, out)
    assert code == 2 and "pass --force to replace it" in one_error_line(err)
    assert (out.read_text() if target == "file" else (out / "thesis.tex").read_text()) == "precious\n"
    code, _, err = run_zoo("export", ckpt, out, "--force")
    assert code == 0, err
    assert (out / "zoo_card.json").is_file()
