"""`tradebrain/Execution-v0`: Gymnasium contract, reward accounting, action validation, no look-ahead."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tradebrain  # noqa: F401  (registers the env ids)
from tradebrain.core.errors import ConfigError, InputError
from tradebrain.desks.execution.almgren_chriss import schedule_moments, twap_holdings
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.env import ExecutionEnv
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig

ACTIONS = ["continuous", "discrete"]
TWAP_INDEX = 2  # TWAP_MULTIPLES[2] == 1.0


def random_actions(env: ExecutionEnv, seed: int, count: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    if env.config.action == "discrete":
        return [int(a) for a in rng.integers(0, env.action_space.n, count)]  # type: ignore[attr-defined]
    return [rng.uniform(0, 1, 1).astype(np.float32) for _ in range(count)]


def rollout(env: ExecutionEnv, seed: int | None, actions: list[Any]) -> dict[str, list[Any]]:
    observation, info = env.reset(seed=seed)
    trace: dict[str, list[Any]] = {
        "obs": [observation],
        "reward": [],
        "terminated": [],
        "truncated": [],
        "info": [info],
    }
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        for key, value in zip(trace, (observation, reward, terminated, truncated, info), strict=True):
            trace[key].append(value)
        if terminated or truncated:
            break
    return trace


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("action", ACTIONS)
def test_gymnasium_env_checker_passes(action: str) -> None:
    check_env(ExecutionEnv(action=action), skip_render_check=True)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_gym_make_and_keyword_overrides() -> None:
    env = gym.make("tradebrain/Execution-v0", action="discrete")
    assert isinstance(env.unwrapped, ExecutionEnv)
    assert env.unwrapped.config.action == "discrete"
    assert env.action_space == gym.spaces.Discrete(7)
    config = ExecutionEnvConfig(task=LiquidationTask(steps=3), market=MarketConfig(lookback=2))
    env = gym.make("tradebrain/Execution-v0", config=config)
    assert env.unwrapped.config == config
    assert env.observation_space.shape == (8,)
    env.reset(seed=0)
    steps = 0
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(np.array([0.5], dtype=np.float32))
        steps += 1
    assert steps == 3
    default = gym.make("tradebrain/Execution-v0")
    assert default.action_space == gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    assert default.unwrapped.config == ExecutionEnvConfig()


def test_keyword_sections_merge_into_the_config() -> None:
    base = ExecutionEnvConfig(market=MarketConfig(s0=80.0, gamma=1e-7), task=LiquidationTask(steps=3))
    env = ExecutionEnv(base, market={"sigma": 0.5}, task={"side": "buy"})
    assert env.config.market == MarketConfig(s0=80.0, gamma=1e-7, sigma=0.5)
    assert env.config.task == LiquidationTask(steps=3, side="buy")
    assert base.market.sigma == 0.95  # the given config is untouched
    # a whole model replaces the section
    assert ExecutionEnv(base, market=MarketConfig(sigma=0.1)).config.market == MarketConfig(sigma=0.1)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"actoin": "discrete"}, r"did you mean 'action'\?"),
        ({"market": {"sigmaa": 1.0}}, r"did you mean 'sigma'\?"),
        ({"task": {"steps": 0}}, r"'task\.steps'"),
        ({"action": "both"}, r"'action'"),
    ],
)
def test_bad_keywords_raise_config_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExecutionEnv(**overrides)


@pytest.mark.parametrize("action", ACTIONS)
def test_same_seed_same_trajectory(action: str) -> None:
    env = ExecutionEnv(action=action, task={"steps": 6})
    actions = random_actions(env, 0, 6)
    first, second = rollout(env, 17, actions), rollout(env, 17, actions)
    for key in ("obs", "reward", "terminated", "truncated"):
        np.testing.assert_array_equal(np.array(first[key]), np.array(second[key]), err_msg=key)
    assert first["info"] == second["info"]
    # a fresh env with the same seed agrees too, and a different seed does not
    np.testing.assert_array_equal(
        rollout(ExecutionEnv(action=action, task={"steps": 6}), 17, actions)["reward"], first["reward"]
    )
    assert rollout(env, 18, actions)["reward"] != first["reward"]


def test_unseeded_reset_continues_the_seeded_stream() -> None:
    env, other = ExecutionEnv(), ExecutionEnv()
    actions = random_actions(env, 1, 5)
    rollout(env, 5, actions)
    rollout(other, 5, actions)
    np.testing.assert_array_equal(rollout(env, None, actions)["reward"], rollout(other, None, actions)["reward"])


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("steps", [1, 4])
def test_terminated_exactly_at_the_deadline_never_truncated(action: str, steps: int) -> None:
    env = ExecutionEnv(action=action, task={"steps": steps})
    trace = rollout(env, 3, random_actions(env, 3, steps + 5))
    assert trace["terminated"] == [False] * (steps - 1) + [True]
    assert trace["truncated"] == [False] * steps
    assert trace["info"][-1]["inventory"] == 0.0
    assert "implementation_shortfall" in trace["info"][-1]
    assert all("implementation_shortfall" not in info for info in trace["info"][:-1])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(random_actions(env, 0, 1)[0])


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("process", ["abm", "gbm", "garch"])
def test_episode_return_is_minus_shortfall_and_risk(action: str, process: str) -> None:
    config = ExecutionEnvConfig(action=action, market=MarketConfig(process=process), task=LiquidationTask(steps=8))
    env = ExecutionEnv(config)
    for seed in range(3):
        trace = rollout(env, seed, random_actions(env, seed, 8))
        holdings = np.array([info["inventory"] for info in trace["info"][1:]])
        shortfall = trace["info"][-1]["implementation_shortfall"]
        task, market = config.task, config.market
        risk = task.risk_aversion * market.sigma**2 * task.tau * np.sum(holdings**2)
        expected = -(shortfall + risk) / (task.shares * market.s0 * 1e-4)
        assert sum(trace["reward"]) == pytest.approx(expected, rel=1e-9, abs=1e-9)
        for reward, info in zip(trace["reward"], trace["info"][1:], strict=True):
            assert info["reward_shortfall"] + info["reward_risk"] == reward
            assert info["reward_risk"] <= 0.0


def test_mean_return_of_twap_is_minus_objective_without_noise() -> None:
    config = ExecutionEnvConfig(market=MarketConfig(sigma=0.0), action="discrete")
    env = ExecutionEnv(config)
    trace = rollout(env, 0, [TWAP_INDEX] * 5)
    moments = schedule_moments(config.market, config.task, twap_holdings(config.task))
    assert sum(trace["reward"]) == pytest.approx(-moments.expected / config.dollars_per_reward_unit, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_discrete_twap_multiple_reproduces_twap(seed: int) -> None:
    env = ExecutionEnv(action="discrete", task={"steps": 7})
    assert env.core.actions.multiples[TWAP_INDEX] == 1.0
    trace = rollout(env, seed, [TWAP_INDEX] * 7)
    holdings = [env.config.task.shares] + [info["inventory"] for info in trace["info"][1:]]
    np.testing.assert_allclose(holdings, twap_holdings(env.config.task), rtol=1e-14, atol=1e-6)


@pytest.mark.parametrize(
    "action, bad, space",
    [
        ("continuous", np.array([1.5], dtype=np.float32), r"Box\(0, 1, \(1,\)\)"),
        ("continuous", np.array([-0.2], dtype=np.float32), r"Box\(0, 1, \(1,\)\)"),
        ("continuous", np.array([np.nan], dtype=np.float32), r"Box\(0, 1, \(1,\)\)"),
        ("continuous", np.array([0.5, 0.5]), r"Box\(0, 1, \(1,\)\)"),
        ("discrete", 7, r"Discrete\(7\)"),
        ("discrete", -1, r"Discrete\(7\)"),
        ("discrete", 2.5, r"Discrete\(7\)"),
        ("discrete", np.array([1, 2]), r"Discrete\(7\)"),
        ("discrete", "2", r"Discrete\(7\)"),
    ],
)
def test_out_of_range_actions_raise_and_change_nothing(action: str, bad: Any, space: str) -> None:
    env, fresh = ExecutionEnv(action=action), ExecutionEnv(action=action)
    good = 3 if action == "discrete" else np.array([0.25], dtype=np.float32)
    env.reset(seed=4)
    fresh.reset(seed=4)
    env.step(good)
    fresh.step(good)
    with pytest.raises(InputError, match=space):
        env.step(bad)
    # the failed step left no trace: the env continues exactly like one that never saw it
    after, expected = env.step(good), fresh.step(good)
    np.testing.assert_array_equal(after[0], expected[0])
    assert after[1:] == expected[1:]


def test_bounds_tolerate_float32_rounding() -> None:
    env = ExecutionEnv()
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([1.0 + 1e-7]))
    assert info["inventory"] == 0.0


@pytest.mark.parametrize("action", ACTIONS)
def test_observations_are_finite_float32_in_the_space(action: str) -> None:
    config = ExecutionEnvConfig(action=action, market=MarketConfig(lookback=3), task=LiquidationTask(steps=6))
    env = ExecutionEnv(config)
    names = env.core.observer.names
    assert len(names) == len(set(names)) == env.observation_space.shape[0] == 3 + 6
    trace = rollout(env, 9, random_actions(env, 9, 6))
    for observation in trace["obs"]:
        assert observation.dtype == np.float32
        assert observation.shape == env.observation_space.shape
        assert np.all(np.isfinite(observation))
        assert env.observation_space.contains(observation)
    first, last = trace["obs"][0], trace["obs"][-1]
    assert first[names.index("time_left")] == 1.0
    assert first[names.index("inventory_left")] == 1.0
    assert first[names.index("mid_vs_arrival")] == 0.0
    assert last[names.index("time_left")] == 0.0
    assert last[names.index("inventory_left")] == 0.0


def test_observations_are_finite_without_volatility() -> None:
    env = ExecutionEnv(market={"sigma": 0.0})
    trace = rollout(env, 0, [np.array([0.3], dtype=np.float32)] * 5)
    assert all(np.all(np.isfinite(observation)) for observation in trace["obs"])


@pytest.mark.parametrize("k", [0, 2, 4])
@pytest.mark.parametrize("process", ["abm", "ou", "garch"])
def test_observation_at_step_k_ignores_the_future(process: str, k: int) -> None:
    market = MarketConfig(process=process, ou_theta=1.0 if process == "ou" else 0.0)
    config = ExecutionEnvConfig(market=market, task=LiquidationTask(steps=6))
    original, altered = ExecutionEnv(config), ExecutionEnv(config)
    original.reset(seed=21)
    altered.reset(seed=21)  # identical normals, hence identical paths, up to here
    path = altered.core.simulator.path
    future = slice(market.lookback + k + 1, None)
    path[:, future] = np.random.default_rng(0).permutation(path[0, future])[None, :] + 3.0
    actions = random_actions(original, 5, 6)
    traces = []
    for env in (original, altered):
        observations = [env.core.observation[0].copy()]
        rewards = []
        for action in actions[: k + 1]:
            observation, reward, *_ = env.step(action)
            observations.append(observation)
            rewards.append(reward)
        traces.append((observations, rewards))
    (obs_a, rewards_a), (obs_b, rewards_b) = traces
    # observations 0..k and the rewards of steps that end by k are untouched by the altered future,
    for j in range(k + 1):
        np.testing.assert_array_equal(obs_a[j], obs_b[j], err_msg=f"observation {j}")
    assert rewards_a[:k] == rewards_b[:k]
    # and the alteration is real: the step into the altered part sees it
    assert not np.array_equal(obs_a[k + 1], obs_b[k + 1])
