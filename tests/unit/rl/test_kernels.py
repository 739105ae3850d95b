"""Policy kernels decide exactly what their Python policies decide, and see nothing later than t."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from tradebrain.backtest.baselines import SmaCrossover
from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.rl import kernels
from tradebrain.rl.kernels import PolicyKernel, mlp_forward, pack_mlp, pairwise_sum


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 10, 16, 17, 20, 50, 127, 128, 129, 300, 1000, 5003])
def test_pairwise_sum_equals_numpy_bit_for_bit(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(200):
        values = rng.normal(100.0, 5.0, n + 4) * rng.uniform(0.01, 1000.0)
        assert pairwise_sum(values, 2, n) == np.add.reduce(values[2 : 2 + n])


def test_sma_kernel_matches_the_python_target_on_every_bar() -> None:
    closes = 100.0 * np.exp(np.cumsum(np.random.default_rng(3).normal(0.0, 0.01, 2000)))
    policy = SmaCrossover(10, 20)
    kernel = policy.kernel(len(closes), 1)
    column = closes.reshape(-1, 1)
    features = np.zeros((len(closes), 1, 0))
    compiled = [
        kernels.decide(kernel.kind, t, 0, column, features, 0.0, 0.0, -1, 0, kernel.params, kernel.table, kernel.state)
        for t in range(len(closes))
    ]
    assert compiled == policy.targets(closes).tolist()
    assert sum(compiled) > 100


@pytest.mark.parametrize("relu", [False, True])
def test_packed_mlp_forward_equals_numpy(relu: bool) -> None:
    rng = np.random.default_rng(1)
    sizes = (6, 16, 8, 3)
    weights = [rng.normal(0, 0.5, (a, b)) for a, b in itertools.pairwise(sizes)]
    biases = [rng.normal(0, 0.1, b) for b in sizes[1:]]
    params = np.concatenate([[42.0], pack_mlp(weights, biases, relu)])
    x = rng.normal(size=6)
    expected = x
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        expected = expected @ w + b
        if layer < len(weights) - 1:
            expected = np.maximum(expected, 0.0) if relu else np.tanh(expected)
    np.testing.assert_allclose(mlp_forward(x, params, 1), expected, rtol=1e-12)


class ReturnMlp:
    """A random return-window MLP in its compiled form only."""

    name = "return-mlp"

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        weights = [rng.normal(0, 0.3, (5, 8)), rng.normal(0, 0.3, (8, 1))]
        self.params = np.concatenate([[5.0], pack_mlp(weights, [np.zeros(8), np.zeros(1)], relu=False)])

    def kernel(self, n_bars: int, n_symbols: int) -> PolicyKernel:
        return PolicyKernel(kernels.RETURN_MLP, self.params)

    def target(self, history: np.ndarray) -> float:
        return float(kernels.return_mlp(history, self.params))


def test_compiled_nn_policy_equals_its_python_loop_and_ignores_the_future() -> None:
    bars = random_walk_bars(3000, "X", "2024-01-02 14:30", seed=5, vwap_gaps=None)
    config = BacktestConfig(commission=0.0005)
    compiled = run_backtest(bars, ReturnMlp(), config)
    python = run_backtest(bars, ReturnMlp(), config, compiled=False)
    assert compiled.n_trades > 50 and compiled.trades == python.trades
    assert np.array_equal(compiled.equity, python.equity)
    t = 1500
    perturbed = bars.copy()
    factor = np.exp(np.random.default_rng(1).normal(0.0, 0.05, len(bars) - t - 1))
    for column in ("open", "high", "low", "close"):
        perturbed.loc[t + 1 :, column] = perturbed.loc[t + 1 :, column].to_numpy() * factor
    changed = run_backtest(pd.DataFrame(perturbed), ReturnMlp(), config)
    assert np.array_equal(changed.positions[: t + 1], compiled.positions[: t + 1])
    assert not np.array_equal(changed.positions, compiled.positions)
