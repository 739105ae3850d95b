"""Trading baselines (buy-and-hold, SMA crossover, random) as causal signal Policies.

Each baseline emits a TARGET position per bar: 1 = fully invested, 0 = flat (-1 = fully short
where the backtest allows shorting). Two equivalent entry points:

- `target(history)`: the target at bar t from the closes up to and including t (what the
  event-driven backtester calls every bar, with a read-only slice that ends at t);
- `targets(closes)`: all targets at once (what the vectorised fast path calls). It is causal by
  construction: `targets(closes)[t] == target(closes[: t + 1])` for every t (tested).

Each also offers `kernel(n_bars, n_symbols)`: the same decision as a compiled function
(rl/kernels.py) that the backtest loop runs in machine code, tested equal to `target`.

They also satisfy the `Policy` protocol (`act(observations)`), where each observation row is a
window of closes ending at the current bar, so they run wherever a trained agent runs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from tradebrain.core.errors import ConfigError
from tradebrain.rl.kernels import PRECOMPUTED, SMA_CROSSOVER, PolicyKernel, sma_crossover_targets
from tradebrain.rl.policy import ActionKind

_SUM = np.add.reduce


@runtime_checkable
class SignalPolicy(Protocol):
    """A policy whose decision at bar t is a target position computed from the closes up to t."""

    name: str

    def target(self, history: np.ndarray) -> float:
        """Target position (1 long, 0 flat, -1 short) from the closes up to and including bar t."""
        ...

    def targets(self, closes: np.ndarray) -> np.ndarray:
        """Targets of every bar; element t equals `target(closes[: t + 1])`."""
        ...


class _SignalBase:
    """Shared `act` adapter: each observation row is a window of closes ending at the current bar."""

    name: str
    action_kind: ActionKind = "discrete"

    def target(self, history: np.ndarray) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def act(self, observations: np.ndarray, action_masks: np.ndarray | None = None) -> np.ndarray:
        """Targets (as ints: 1 long, 0 flat) of a batch of close windows, one per row."""
        rows = np.atleast_2d(np.asarray(observations, dtype=float))
        return np.array([int(self.target(row)) for row in rows], dtype=np.int64)


class BuyAndHold(_SignalBase):
    """Fully long from the first bar to the end: the benchmark every strategy must beat."""

    def __init__(self) -> None:
        self.name = "buy-and-hold"

    def target(self, history: np.ndarray) -> float:
        """Always 1 (fully invested)."""
        return 1.0

    def targets(self, closes: np.ndarray) -> np.ndarray:
        """Ones, one per bar."""
        return np.ones(len(closes), dtype=float)

    def kernel(self, n_bars: int, n_symbols: int) -> PolicyKernel:
        """Compiled form: a table of ones."""
        return PolicyKernel(PRECOMPUTED, np.zeros(0), np.ones((n_bars, n_symbols)))


class SmaCrossover(_SignalBase):
    """Long-only SMA crossover: enter when the fast SMA crosses above the slow one, exit when it
    crosses below.

    A cross up at bar t means fast[t-1] <= slow[t-1] and fast[t] > slow[t]; a cross down means
    fast[t-1] >= slow[t-1] and fast[t] < slow[t]. The target is 1 from a cross up until the next
    cross down and 0 otherwise (also before the first cross, even if fast > slow from the start:
    the strategy waits for a genuine crossing). The first possible cross is at bar `slow` (two
    slow averages are needed). SMAs are the same `np.add.reduce` over the window divided by its
    length in both entry points, so the per-bar and vectorised targets agree bit for bit.
    """

    def __init__(self, fast: int = 10, slow: int = 20) -> None:
        if not 1 <= fast < slow:
            raise ConfigError(f"sma-crossover needs 1 <= fast < slow, got fast={fast}, slow={slow}; e.g. 10 and 20")
        self.fast = int(fast)
        self.slow = int(slow)
        self.name = f"sma-crossover({self.fast},{self.slow})"
        # Incremental cache for per-bar calls over one growing series: (series id, length,
        # state, fast SMA, slow SMA) at the last call. Any other call recomputes from scratch.
        self._cache: tuple[int, int, float, float, float] | None = None

    def targets(self, closes: np.ndarray) -> np.ndarray:
        """Targets of every bar, by the compiled kernel the event-driven loop runs."""
        return sma_crossover_targets(np.ascontiguousarray(closes, dtype=float), self.fast, self.slow)

    def kernel(self, n_bars: int, n_symbols: int) -> PolicyKernel:
        """Compiled form: both SMAs summed in numpy's pairwise order at every bar (bit-identical)."""
        state = np.tile([0.0, 0.0, 0.0, -1.0], n_symbols)
        return PolicyKernel(SMA_CROSSOVER, np.array([self.fast, self.slow], float), state=state)

    def target(self, history: np.ndarray) -> float:
        """Target at the last bar of `history`, incrementally when called on successive prefixes."""
        n = len(history)
        key = id(history.base) if history.base is not None else id(history)
        if n < self.slow + 1:
            self._cache = None
            return 0.0
        fast_now = float(_SUM(history[n - self.fast :])) / self.fast
        slow_now = float(_SUM(history[n - self.slow :])) / self.slow
        cache = self._cache
        if cache is not None and cache[0] == key and cache[1] == n - 1:
            state, fast_prev, slow_prev = cache[2], cache[3], cache[4]
        else:
            prefix = np.asarray(history[: n - 1], dtype=float)
            state = float(self.targets(prefix)[-1])
            fast_prev = float(_SUM(prefix[n - 1 - self.fast :])) / self.fast
            slow_prev = float(_SUM(prefix[n - 1 - self.slow :])) / self.slow
        if fast_prev <= slow_prev and fast_now > slow_now:
            state = 1.0
        elif fast_prev >= slow_prev and fast_now < slow_now:
            state = 0.0
        self._cache = (key, n, state, fast_now, slow_now)
        return state


class RandomTarget(_SignalBase):
    """Long with probability `p_long` at each bar, else flat; bar t's draw depends only on the
    seed and t (the t-th uniform of `np.random.default_rng(seed)`), so it is reproducible and
    identical in the per-bar and vectorised entry points. A floor any strategy must clear."""

    def __init__(self, seed: int = 0, p_long: float = 0.5) -> None:
        if not 0.0 <= p_long <= 1.0:
            raise ConfigError(f"random policy needs 0 <= p_long <= 1, got {p_long}")
        self.seed = int(seed)
        self.p_long = float(p_long)
        self.name = f"random(seed={self.seed})"
        self._uniforms = np.empty(0)

    def _draws(self, n: int) -> np.ndarray:
        if len(self._uniforms) < n:
            size = max(n, 2 * len(self._uniforms), 1024)
            self._uniforms = np.random.default_rng(self.seed).random(size)
        return self._uniforms

    def target(self, history: np.ndarray) -> float:
        """1 if the draw of the last bar is below `p_long`, else 0."""
        n = len(history)
        return 1.0 if n and self._draws(n)[n - 1] < self.p_long else 0.0

    def targets(self, closes: np.ndarray) -> np.ndarray:
        """Targets of every bar from the same draws."""
        n = len(closes)
        return (self._draws(n)[:n] < self.p_long).astype(float)

    def kernel(self, n_bars: int, n_symbols: int) -> PolicyKernel:
        """Compiled form: the draws of every bar, the same for each symbol."""
        column = self.targets(np.empty(n_bars))
        return PolicyKernel(PRECOMPUTED, np.zeros(0), np.repeat(column[:, None], n_symbols, axis=1))
