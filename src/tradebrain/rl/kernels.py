"""Compiled decision functions (policy kernels) that the backtest loop (backtest/loop.py) runs.

A policy that offers `kernel(n_bars, n_symbols) -> PolicyKernel` runs inside the compiled loop in
machine code; each kernel is tested to decide exactly what the policy's Python `target`/`act`
decides. The loop calls `decide(kind, ...)`: compiled, it dispatches on `kind` to the kernels
below (a closed catalogue, so the loop compiles once and is cached on disk); in the loop's pure-
Python form, kind PYTHON calls the Python callable passed as `params`.

`decide` receives the whole (bars, symbols) closes and (bars, symbols, n) features and hands each
kernel only symbol j's closes up to and including t (`history`) and its observation row at t
(`features`, may be empty): no kernel is given a later bar. The other arguments: `position`, `avg_cost`,
`bars_held` (bars since the entry fill, -1 when flat), `bars_left` (bars left in the session after
t), `params` (float64 vector), `table` (float64 matrix) and `state` (float64 scratch per symbol).
The answer is a target: 1 long, 0 flat, -1 short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit
from numba.extending import overload

from tradebrain.core.numba_cache import refresh_cache
from tradebrain.rl import trade_masks
from tradebrain.rl.trade_masks import BUY, HOLD, SELL, allowed_actions

refresh_cache(__file__, [trade_masks.__file__])

PYTHON, PRECOMPUTED, SMA_CROSSOVER, RETURN_MLP, MASKED_MLP = -1, 0, 1, 2, 3


@dataclass(frozen=True)
class PolicyKernel:
    """A compiled decision: its kind, float64 parameters, an optional table and per-symbol state."""

    kind: int
    params: np.ndarray
    table: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    state: np.ndarray = field(default_factory=lambda: np.zeros(0))


@njit(cache=True, inline="always")
def _block_sum(values: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise sum of at most 128 values: 8 interleaved accumulators, then the rest."""
    if n < 8:
        total = 0.0
        for i in range(n):
            total += values[lo + i]
        return total
    r0, r1, r2, r3 = values[lo], values[lo + 1], values[lo + 2], values[lo + 3]
    r4, r5, r6, r7 = values[lo + 4], values[lo + 5], values[lo + 6], values[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += values[lo + i]
        r1 += values[lo + i + 1]
        r2 += values[lo + i + 2]
        r3 += values[lo + i + 3]
        r4 += values[lo + i + 4]
        r5 += values[lo + i + 5]
        r6 += values[lo + i + 6]
        r7 += values[lo + i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += values[lo + i]
        i += 1
    return float(total)


@njit(cache=True)
def pairwise_sum(values: np.ndarray, lo: int, n: int) -> float:
    """Sum of values[lo:lo+n] in numpy's pairwise order, so it equals `np.add.reduce` bit for bit.

    numpy halves a long run recursively (the first half rounded down to a multiple of 8) down to
    blocks of 128; the same tree is evaluated here with explicit stacks, because numba's on-disk
    cache cannot reload recursive functions safely.
    """
    if n <= 128:
        return _block_sum(values, lo, n)
    task_lo = np.empty(128, dtype=np.int64)
    task_n = np.empty(128, dtype=np.int64)
    task_combine = np.empty(128, dtype=np.bool_)
    partial = np.empty(128)
    tasks, partials = 1, 0
    task_lo[0], task_n[0], task_combine[0] = lo, n, False
    while tasks:
        tasks -= 1
        start, size, combine = task_lo[tasks], task_n[tasks], task_combine[tasks]
        if combine:
            partials -= 1
            partial[partials - 1] = partial[partials - 1] + partial[partials]
        elif size <= 128:
            partial[partials] = _block_sum(values, start, size)
            partials += 1
        else:
            half = size // 2
            half -= half % 8
            # evaluated in the order: left half, right half, then their sum (left + right)
            task_lo[tasks], task_n[tasks], task_combine[tasks] = start, size, True
            task_lo[tasks + 1], task_n[tasks + 1], task_combine[tasks + 1] = start + half, size - half, False
            task_lo[tasks + 2], task_n[tasks + 2], task_combine[tasks + 2] = start, half, False
            tasks += 3
    return float(partial[0])


@njit(cache=True)
def sma_crossover(history: np.ndarray, j: int, params: np.ndarray, state: np.ndarray) -> float:
    """SMA crossover (see SmaCrossover): long from a cross up to the next cross down.

    params = [fast, slow]; state[4j:4j+4] = symbol j's [target, fast SMA, slow SMA, bar] at its
    last call, so successive bars reuse the previous SMAs instead of summing their windows again.
    """
    fast, slow = int(params[0]), int(params[1])
    n = history.shape[0]
    s = 4 * j
    if n < slow + 1:
        state[s : s + 4] = np.array([0.0, 0.0, 0.0, -1.0])
        return 0.0
    fast_now = pairwise_sum(history, n - fast, fast) / fast
    slow_now = pairwise_sum(history, n - slow, slow) / slow
    if state[s + 3] == n - 2:
        fast_prev, slow_prev = state[s + 1], state[s + 2]
    else:
        fast_prev = pairwise_sum(history, n - 1 - fast, fast) / fast
        slow_prev = pairwise_sum(history, n - 1 - slow, slow) / slow
    if fast_prev <= slow_prev and fast_now > slow_now:
        state[s] = 1.0
    elif fast_prev >= slow_prev and fast_now < slow_now:
        state[s] = 0.0
    state[s + 1], state[s + 2], state[s + 3] = fast_now, slow_now, n - 1
    return float(state[s])


@njit(cache=True)
def sma_crossover_targets(closes: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """`sma_crossover` at every bar of one series (the vectorised path's signal): the same sums in
    the same order, each SMA computed once and reused as the next bar's previous value."""
    n = closes.shape[0]
    out = np.zeros(n)
    if n < slow + 1:
        return out
    fast_prev = pairwise_sum(closes, slow - fast, fast) / fast
    slow_prev = pairwise_sum(closes, 0, slow) / slow
    state = 0.0
    for t in range(slow, n):
        fast_now = pairwise_sum(closes, t + 1 - fast, fast) / fast
        slow_now = pairwise_sum(closes, t + 1 - slow, slow) / slow
        if fast_prev <= slow_prev and fast_now > slow_now:
            state = 1.0
        elif fast_prev >= slow_prev and fast_now < slow_now:
            state = 0.0
        out[t] = state
        fast_prev, slow_prev = fast_now, slow_now
    return out


# --------------------------------------------------------------------------------------------- MLPs
# An MLP packed in a float64 vector from `offset`: [n_layers, relu (1/0), then rows and cols of
# every layer, then every layer's weights (rows x cols, row-major) followed by its biases].


def pack_mlp(weights: list[np.ndarray], biases: list[np.ndarray], relu: bool) -> np.ndarray:
    """An MLP (layer l: x @ weights[l] + biases[l], activation between layers) as a float vector."""
    head = [float(len(weights)), 1.0 if relu else 0.0]
    for w in weights:
        head += [float(w.shape[0]), float(w.shape[1])]
    body = [
        np.concatenate([np.asarray(w, float).ravel(), np.asarray(b, float).ravel()])
        for w, b in zip(weights, biases, strict=True)
    ]
    return np.concatenate([np.array(head), *body])


@njit(cache=True)
def mlp_forward(x: np.ndarray, params: np.ndarray, offset: int) -> np.ndarray:
    """The packed MLP at params[offset:] applied to x: tanh (or ReLU) between layers, none after the last."""
    layers = int(params[offset])
    relu = params[offset + 1] != 0.0
    cursor = offset + 2 + 2 * layers
    out = x
    for layer in range(layers):
        rows = int(params[offset + 2 + 2 * layer])
        cols = int(params[offset + 3 + 2 * layer])
        nxt = np.empty(cols)
        bias = cursor + rows * cols
        for c in range(cols):
            total = 0.0
            for r in range(rows):
                total += out[r] * params[cursor + r * cols + c]
            nxt[c] = total + params[bias + c]
        if layer < layers - 1:
            for c in range(cols):
                nxt[c] = max(nxt[c], 0.0) if relu else np.tanh(nxt[c])
        cursor = bias + cols
        out = nxt
    return out


@njit(cache=True)
def return_window(history: np.ndarray, window: int, scale: float) -> np.ndarray:
    """The last `window` log returns of `history` times `scale`: a scale-invariant observation."""
    n = history.shape[0]
    x = np.empty(window)
    for i in range(window):
        x[i] = np.log(history[n - window + i] / history[n - window + i - 1]) * scale
    return x


@njit(cache=True)
def return_mlp(history: np.ndarray, params: np.ndarray) -> float:
    """Long when an MLP on the last `window` log returns (x100) outputs > 0; params = [window, MLP];
    flat until `window` returns exist."""
    window = int(params[0])
    if history.shape[0] <= window:
        return 0.0
    out = mlp_forward(return_window(history, window, 100.0), params, 1)
    return 1.0 if out[0] > 0.0 else 0.0


# Masked MLP (a long/flat agent such as the day-trading desk's): params = [n_features, cooldown_bars, exit_window_bars,
# commission, clip_obs, epsilon, normalise (1/0), obs mean (n_obs), obs var (n_obs), MLP], with
# n_obs = n_features + 2 (features, position flag, position PnL net of the entry fee).
MASKED_HEADER = 7


@njit(cache=True)
def masked_mlp_action(
    features: np.ndarray, position: float, avg_cost: float, price: float, bars_held: int, bars_left: int,
    params: np.ndarray,
) -> int:  # fmt: skip
    """The agent's action (HOLD, BUY, SELL) at a bar: the observation (rounded to float32 as the
    env returns it), normalised like VecNormalize, through the MLP, argmax over the allowed actions
    (the long/flat mask of rl/trade_masks.py)."""
    n_features = int(params[0])
    cooldown, exit_window, commission = int(params[1]), int(params[2]), params[3]
    clip, epsilon, normalise = params[4], params[5], params[6] != 0.0
    n_obs = n_features + 2
    x = np.empty(n_obs)
    for i in range(n_features):
        x[i] = np.float32(features[i])
    in_position = position > 0.0
    x[n_features] = 1.0 if in_position else 0.0
    # an entry still on its way to the venue has no cost yet: its return is 0, as at the fill
    x[n_features + 1] = (
        np.float32(price / (avg_cost * (1.0 + commission)) - 1.0) if in_position and avg_cost > 0.0 else 0.0
    )
    if normalise:
        for i in range(n_obs):
            mean = params[MASKED_HEADER + i]
            var = params[MASKED_HEADER + n_obs + i]
            x[i] = np.float32(min(max((x[i] - mean) / np.sqrt(var + epsilon), -clip), clip))
    logits = mlp_forward(x, params, MASKED_HEADER + 2 * n_obs)
    allowed = allowed_actions(in_position, bars_held, bars_left, cooldown, exit_window)
    best, action = -np.inf, HOLD
    for a in range(3):
        if allowed[a] and logits[a] > best:
            best, action = logits[a], a
    return action


@njit(cache=True, inline="always")
def _compiled_decide(
    kind: int, t: int, j: int, closes: np.ndarray, features: np.ndarray, position: float, avg_cost: float,
    bars_held: int, bars_left: int, params: np.ndarray, table: np.ndarray, state: np.ndarray,
) -> float:  # fmt: skip
    if kind == PRECOMPUTED:
        return float(table[t, j])
    if kind == SMA_CROSSOVER:
        return sma_crossover(closes[: t + 1, j], j, params, state)
    if kind == RETURN_MLP:
        return return_mlp(closes[: t + 1, j], params)
    if kind == MASKED_MLP:
        action = masked_mlp_action(features[t, j], position, avg_cost, closes[t, j], bars_held, bars_left, params)
        if action == BUY:
            return 1.0
        if action == SELL:
            return 0.0
        return 1.0 if position > 0.0 else 0.0
    return np.nan


def decide(
    kind: int, t: int, j: int, closes: np.ndarray, features: np.ndarray, position: float, avg_cost: float,
    bars_held: int, bars_left: int, params: Any, table: np.ndarray, state: np.ndarray,
) -> float:  # fmt: skip
    """The target of a policy at bar t for symbol j (see the module docstring)."""
    if kind == PYTHON:
        return float(params(t, j, closes[: t + 1, j], features[t, j], position, avg_cost, bars_held, bars_left))
    return float(
        _compiled_decide(kind, t, j, closes, features, position, avg_cost, bars_held, bars_left, params, table, state)
    )


@overload(decide, jit_options={"cache": True}, inline="always")  # type: ignore[typeddict-unknown-key]
def _decide_overload(
    kind: Any, t: Any, j: Any, closes: Any, features: Any, position: Any, avg_cost: Any, bars_held: Any,
    bars_left: Any, params: Any, table: Any, state: Any,
) -> Any:  # fmt: skip
    # numba requires the implementation's parameters (names and annotations) to match the typing function's
    def implementation(
        kind: Any, t: Any, j: Any, closes: Any, features: Any, position: Any, avg_cost: Any, bars_held: Any,
        bars_left: Any, params: Any, table: Any, state: Any,
    ) -> Any:  # fmt: skip
        return _compiled_decide(
            kind, t, j, closes, features, position, avg_cost, bars_held, bars_left, params, table, state
        )

    return implementation
