"""The main job end to end at the smoke preset (the slow CI job): every recipe entry built from an empty
``ZOO_HOME`` by two worker processes, evaluated on its suites and written to one board; a cached rerun in one
process regenerates the same bytes."""

from __future__ import annotations

import json

import pytest

from zoo.registry import entries


@pytest.mark.slow
def test_the_smoke_board_shows_every_system_beside_its_baselines(run_zoo, tmp_path):
    out = tmp_path / "board"
    # Two worker processes, as a newcomer's quick check would run it; the rerun below runs alone.
    code, printed, err = run_zoo("leaderboard", "--preset", "smoke", "--out", out, "--profile", "--jobs", "2")
    assert code == 0, err
    board = json.loads((out / "leaderboard.json").read_text())
    # Every entry with suites that needs no network: the recipes' builds and the model a package ships (entries
    # without suites are built as what those continue from).
    expected = {name for name, entry in entries().items() if entry.suites and not entry.needs_hub}
    shown = {row["model"] for row in board["rows"] if row["error"] is None and row["value"] is not None}
    assert shown == expected, f"missing from the board: {sorted(expected - shown)}"
    assert not [row for row in board["rows"] if row["error"]]
    systems = {entries()[name].system for name in shown}
    assert {"toedit", "instruction_pretrain", "adaptllm", "uprise", "diffusion_plm", "adamllm"} <= systems
    for name in shown:  # each baseline sits on a suite of the method it is the baseline of
        if method := entries()[name].baseline_of:
            assert set(entries()[name].suites) & set(entries()[method].suites), name
    assert "profile:" in printed and "summed over 2 processes" in printed and "evaluate" in printed
    print(printed[printed.index("profile:"):])  # where the time went: `pytest -m slow -rP` shows it
    # A cached rerun builds and evaluates nothing new and regenerates the board byte for byte.
    code, printed, err = run_zoo("leaderboard", "--preset", "smoke", "--out", out, "--check")
    assert code == 0 and "is up to date" in printed, printed + err
