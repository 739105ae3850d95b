"""Trading baselines: causal by construction (vectorised == per-bar on every prefix) and the
crossover rules on hand-made series."""

from __future__ import annotations

import numpy as np
import pytest

from tradebrain.backtest.baselines import BuyAndHold, RandomTarget, SignalPolicy, SmaCrossover
from tradebrain.backtest.strategies import make_strategy, strategy_names
from tradebrain.core.errors import ConfigError
from tradebrain.rl.policy import Policy


def _walk(n: int, seed: int) -> np.ndarray:
    return 100.0 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0.0, 0.01, n)))


SERIES = {
    "walk": _walk(600, 1),
    "flat-then-steps": np.r_[np.full(40, 10.0), np.full(30, 11.0), np.full(30, 10.5), np.full(30, 10.5)],
    "short": _walk(5, 2),
}


@pytest.mark.parametrize("name", sorted(SERIES))
@pytest.mark.parametrize("policy", [BuyAndHold(), SmaCrossover(3, 7), SmaCrossover(10, 20), RandomTarget(seed=4)])
def test_vectorised_targets_equal_per_bar_targets_on_every_prefix(name: str, policy: SignalPolicy) -> None:
    closes = SERIES[name]
    vectorised = policy.targets(closes)
    sequential = np.array([policy.target(closes[: t + 1]) for t in range(len(closes))])
    assert np.array_equal(vectorised, sequential)
    # Out of order (no incremental cache to lean on) gives the same answers.
    for t in np.random.default_rng(0).permutation(len(closes))[:50]:
        assert policy.target(closes[: t + 1]) == vectorised[t]


def test_sma_crossover_enters_on_cross_up_and_exits_on_cross_down() -> None:
    closes = np.r_[np.linspace(20, 10, 15), np.linspace(10, 20, 15), np.linspace(20, 5, 15)]
    targets = SmaCrossover(2, 4).targets(closes)
    fast = np.array([closes[t - 1 : t + 1].mean() if t >= 1 else np.nan for t in range(len(closes))])
    slow = np.array([closes[t - 3 : t + 1].mean() if t >= 3 else np.nan for t in range(len(closes))])
    up = [t for t in range(4, len(closes)) if fast[t - 1] <= slow[t - 1] and fast[t] > slow[t]]
    down = [t for t in range(4, len(closes)) if fast[t - 1] >= slow[t - 1] and fast[t] < slow[t]]
    assert len(up) == 1 and len(down) == 1 and up[0] < down[0]
    expected = np.zeros(len(closes))
    expected[up[0] : down[0]] = 1.0
    assert np.array_equal(targets, expected)


def test_sma_crossover_waits_for_a_genuine_cross() -> None:
    rising = np.linspace(10, 30, 50)  # fast > slow from the first valid bar, never crosses
    assert not SmaCrossover(3, 7).targets(rising).any()


def test_buy_and_hold_is_long_from_the_first_bar() -> None:
    assert BuyAndHold().target(np.array([5.0])) == 1.0


def test_random_is_reproducible_and_seeded() -> None:
    closes = _walk(300, 3)
    a, b, c = (
        RandomTarget(seed=1).targets(closes),
        RandomTarget(seed=1).targets(closes),
        RandomTarget(2).targets(closes),
    )
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert set(np.unique(a)) <= {0.0, 1.0} and 0.3 < a.mean() < 0.7


def test_baselines_are_policies_acting_on_close_windows() -> None:
    policy = SmaCrossover(2, 4)
    closes = np.r_[np.linspace(20, 10, 15), np.linspace(10, 20, 15)]
    windows = np.stack([closes[t - 9 : t + 1] for t in (20, 29)])
    assert isinstance(policy, Policy) and isinstance(policy, SignalPolicy)
    actions = policy.act(windows)
    assert actions.tolist() == [int(policy.target(window)) for window in windows]


def test_bad_parameters_fail_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="fast < slow"):
        SmaCrossover(20, 10)
    with pytest.raises(ConfigError, match="p_long"):
        RandomTarget(p_long=2.0)


def test_strategy_registry_builds_by_name() -> None:
    assert strategy_names() == ["buy-and-hold", "random", "sma-crossover"]
    sma = make_strategy("sma-crossover", fast=5, slow=15)
    assert isinstance(sma, SmaCrossover) and (sma.fast, sma.slow) == (5, 15)
    assert isinstance(make_strategy("random", seed=3), RandomTarget)
    with pytest.raises(ConfigError, match="did you mean 'sma-crossover'"):
        make_strategy("sma-crosover")
    with pytest.raises(ConfigError, match="buy-and-hold"):
        make_strategy("buy-and-hold", fast=3)
