"""Wall-clock rates with `time.perf_counter`: warm up, time for a fixed budget, take the median.

Shared by every speed measurement so they all count the same way.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

Runner = Callable[[int], int]
"""Run `n` calls (steps of one env, or batched steps); return how many env steps they were."""


def rate(run: Runner, seconds: float, calls_per_check: int) -> float:
    """Env steps per second of `run` over at least `seconds` of wall time.

    The clock is read every `calls_per_check` calls so that reading it costs nothing measurable.
    """
    steps = 0
    start = time.perf_counter()
    while True:
        steps += run(calls_per_check)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def warm_up(run: Runner, seconds: float, calls_per_check: int) -> None:
    """Run untimed first: numba kernels compile on the first call and caches fill."""
    rate(run, seconds, calls_per_check)


def median(values: list[float]) -> float:
    """The median of repeats: robust to one repeat slowed by another process on the machine."""
    return float(statistics.median(values))
