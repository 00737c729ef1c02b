"""Where a long command's time goes: per phase and per model, the share spent training, and peak memory.

``zoo leaderboard --profile`` turns it on for the sweep: every build that trains (not one served from
its folder), every (model, suite) evaluation and the writing of the board become spans; the fit inside a
build adds its own seconds to that build's span, so the report can say how much of the wall time went
into ``trainer.fit`` and how much around it. Lightning prepares the DataModule inside ``fit``, so a recipe that
synthesizes its data there (UPRISE's candidate scoring, a sampled corpus) counts that as training time too.
Off (the default), a span costs one global lookup.

Example:
    >>> with profiling() as profile:
    ...     with span("evaluate", "base-lm-tiny on tinyworld-general"):
    ...         pass
    >>> [(s.phase, s.name) for s in profile.spans]
    [('evaluate', 'base-lm-tiny on tinyworld-general')]
"""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

#: The phases a report lists, in order; time in none of them is "other" (planning, imports, the cache).
PHASES = ("build", "evaluate", "write")


@dataclass
class Span:
    """One timed piece of work.

    Attributes:
        phase: One of ``PHASES``.
        name: What it worked on (a model, "model on suite", "board").
        seconds: Its wall time.
        training_seconds: Of those, the time inside ``trainer.fit`` (its data preparation included).
        peak_rss_bytes: The peak resident memory of the process that ran it (a parallel sweep's worker, or the
            sweep's own process) when it ended.
    """

    phase: str
    name: str
    seconds: float = 0.0
    training_seconds: float = 0.0
    peak_rss_bytes: int = 0


@dataclass
class Profile:
    """The spans of one profiled command and its start time."""

    started: float = field(default_factory=time.perf_counter)
    spans: list[Span] = field(default_factory=list)
    open: list[Span] = field(default_factory=list)
    #: How many processes ran spans at once (a parallel sweep's workers): the spans' seconds add up to as much
    #: as this many times the wall time.
    processes: int = 1


_active: Profile | None = None


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@contextmanager
def profiling() -> Iterator[Profile]:
    """Record spans until the block ends; yields the profile they go into."""
    global _active
    outer, _active = _active, Profile()
    try:
        yield _active
    finally:
        _active = outer


@contextmanager
def span(phase: str, name: str) -> Iterator[None]:
    """Time the block as a span of ``phase`` (when profiling; otherwise do nothing)."""
    profile = _active
    if profile is None:
        yield
        return
    current = Span(phase, name)
    profile.open.append(current)
    started = time.perf_counter()
    try:
        yield
    finally:
        current.seconds = time.perf_counter() - started
        current.peak_rss_bytes = peak_rss_bytes()
        profile.open.remove(current)
        profile.spans.append(current)


def is_on() -> bool:
    """Whether a profile is recording (a sweep's worker processes then record their own and hand them back)."""
    return _active is not None


def absorb(spans: list[Span], processes: int) -> None:
    """Add spans recorded elsewhere to the active profile: by one of ``processes`` worker processes at once."""
    if _active is not None:
        _active.spans.extend(spans)
        _active.processes = max(_active.processes, processes)


def add_training(seconds: float) -> None:
    """Count ``seconds`` of ``trainer.fit`` towards the innermost open span (when profiling)."""
    if _active is not None and _active.open:
        _active.open[-1].training_seconds += seconds


def report(profile: Profile, wall_seconds: float | None = None) -> str:
    """The profile as text: wall time, peak memory and training share; seconds per phase; then per span.

    Args:
        profile: The recorded spans.
        wall_seconds: The command's wall time (default: since the profile started).
    """
    wall = time.perf_counter() - profile.started if wall_seconds is None else wall_seconds
    # With workers, the spans' seconds are summed over processes: shares are of what they had (n x the wall).
    capacity, n = wall * profile.processes, profile.processes
    training = sum(s.training_seconds for s in profile.spans)
    peak = max([s.peak_rss_bytes for s in profile.spans] or [peak_rss_bytes()])
    by_phase = {phase: sum(s.seconds for s in profile.spans if s.phase == phase) for phase in PHASES}
    by_phase["other"] = max(0.0, capacity - sum(by_phase.values()))

    def share(seconds: float) -> str:
        return f"{100 * seconds / capacity:5.1f} %" if capacity > 0 else "    — "

    of_what = "the wall time" if n == 1 else f"{n} processes x the wall time"
    lines = [f"profile: {wall:.1f} s wall, peak RSS {peak / 2 ** 30:.2f} GiB{'' if n == 1 else ' (of one process)'}, "
             f"training {share(training).strip()} of {of_what} ({training:.1f} s)",
             f"  {'phase':10s} {'seconds':>9s}  share" + ("" if n == 1 else f" (seconds summed over {n} processes)")]
    lines += [f"  {phase:10s} {seconds:9.1f}  {share(seconds)}" for phase, seconds in by_phase.items()]
    width = max([len(s.name) for s in profile.spans] + [4])
    lines.append(f"  {'phase':10s} {'name':{width}s} {'seconds':>9s} {'training':>9s} {'peak RSS':>9s}")
    for s in sorted(profile.spans, key=lambda s: (PHASES.index(s.phase), -s.seconds, s.name)):
        lines.append(f"  {s.phase:10s} {s.name:{width}s} {s.seconds:9.1f} {s.training_seconds:9.1f} "
                     f"{s.peak_rss_bytes / 2 ** 30:7.2f} G")
    return "\n".join(lines)
