"""Speed benchmarks: each reports the zoo's path as a ratio against a baseline run in the same process."""

from __future__ import annotations

import time
from typing import Callable


def best_of(rounds: int, function: Callable[[], object]) -> float:
    """Fastest wall time of ``function`` over ``rounds`` runs (the least disturbed one on a shared machine)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best
