"""``zoo leaderboard --profile``: spans per phase and model, the training share by hand, the fit's own seconds."""

from __future__ import annotations

import zoo.board
import zoo.builder
import zoo.sweep
from benchmarks.harness import Evaluation
from tests.conftest import TINY
from zoo.profiling import Profile, Span, add_training, profiling, report, span


def test_report_by_hand():
    profile = Profile(started=0.0, spans=[
        Span("evaluate", "m on s", seconds=3.0, peak_rss_bytes=2 ** 30),
        Span("build", "m", seconds=6.0, training_seconds=4.0, peak_rss_bytes=2 ** 29),
        Span("write", "board and cards", seconds=1.0, peak_rss_bytes=3 * 2 ** 30)])
    assert report(profile, wall_seconds=12.0).splitlines() == [
        "profile: 12.0 s wall, peak RSS 3.00 GiB, training 33.3 % of the wall time (4.0 s)",
        "  phase        seconds  share",
        "  build            6.0   50.0 %",
        "  evaluate         3.0   25.0 %",
        "  write            1.0    8.3 %",
        "  other            2.0   16.7 %",
        "  phase      name              seconds  training  peak RSS",
        "  build      m                     6.0       4.0    0.50 G",
        "  evaluate   m on s                3.0       0.0    1.00 G",
        "  write      board and cards       1.0       0.0    3.00 G",
    ]


def test_report_of_two_worker_processes_by_hand():
    # Two processes for 10 s had 20 process-seconds: the spans' 16 s are 80 % of them.
    profile = Profile(started=0.0, processes=2, spans=[
        Span("build", "a", seconds=9.0, training_seconds=5.0, peak_rss_bytes=2 ** 30),
        Span("build", "b", seconds=5.0, training_seconds=3.0, peak_rss_bytes=2 ** 31),
        Span("evaluate", "a on s", seconds=2.0, peak_rss_bytes=2 ** 30)])
    assert report(profile, wall_seconds=10.0).splitlines()[:6] == [
        "profile: 10.0 s wall, peak RSS 2.00 GiB (of one process), training 40.0 % of 2 processes x the wall time "
        "(8.0 s)",
        "  phase        seconds  share (seconds summed over 2 processes)",
        "  build           14.0   70.0 %",
        "  evaluate         2.0   10.0 %",
        "  write            0.0    0.0 %",
        "  other            4.0   20.0 %",
    ]


def test_spans_record_nothing_unless_profiling():
    with span("build", "m"):
        add_training(1.0)
    with profiling() as profile:
        with span("build", "outer"):
            with span("evaluate", "inner"):
                add_training(2.0)  # the innermost open span's
    assert [(s.phase, s.name, s.training_seconds) for s in profile.spans] == [("evaluate", "inner", 2.0),
                                                                             ("build", "outer", 0.0)]
    assert all(s.seconds >= 0 and s.peak_rss_bytes > 0 for s in profile.spans)


def test_fit_and_test_counts_its_fit_as_training():
    with profiling() as profile:
        with span("build", "tiny"):
            zoo.builder.fit_and_test(["-c", "configs/base_lm/base-lm-tiny.yaml", *TINY, "--trainer.max_steps", "3",
                                      "--trainer.logger", "false"])
    [built] = profile.spans
    assert 0 < built.training_seconds < built.seconds


def test_leaderboard_profile_prints_each_phase_and_model(run_zoo, monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))

    def fit_and_export(entry, preset, args, out, resume):
        add_training(0.5)
        return out, {"contamination": {"version": zoo.sweep.CONTAMINATION_VERSION}}

    monkeypatch.setattr(zoo.builder, "_fit_and_export", fit_and_export)
    monkeypatch.setattr(zoo.sweep, "evaluate_with_items", lambda name, suite, **settings: Evaluation([], {}))
    written = []
    monkeypatch.setattr(zoo.board, "render", lambda result, target: written.append(target))
    code, out, err = run_zoo("leaderboard", "--models", "base-lm-tiny", "--suites", "tinyworld-general",
                             "--out", tmp_path / "board", "--profile")
    assert code == 0, err
    assert written == [tmp_path / "board"]
    lines = out[out.index("profile: "):].splitlines()
    assert lines[0].startswith("profile: ") and "(0.5 s)" in lines[0]
    assert [line.split()[0] for line in lines[2:6]] == ["build", "evaluate", "write", "other"]
    assert [line.split()[:2] for line in lines[7:]] == [["build", "base-lm-tiny"], ["evaluate", "base-lm-tiny"],
                                                       ["write", "board"]]
    assert lines[7].split()[3] == "0.5", "the build's training seconds"
