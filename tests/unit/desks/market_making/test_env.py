from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tradebrain  # noqa: F401  (registers the envs)
from tradebrain.core.errors import InputError
from tradebrain.desks.market_making.baselines import avellaneda_stoikov
from tradebrain.desks.market_making.config import MarketMakingEnvConfig
from tradebrain.desks.market_making.env import MarketMakingEnv
from tradebrain.desks.market_making.replication import replicate
from tradebrain.desks.market_making.vec_env import MarketMakingVecEnv


def test_gymnasium_contract() -> None:
    with pytest.warns(UserWarning):  # unbounded observation space
        check_env(gym.make("tradebrain/MarketMaking-v0").unwrapped)


def test_an_episode_ends_terminated_at_the_horizon_and_rewards_add_up() -> None:
    env = MarketMakingEnv(MarketMakingEnvConfig(terminal_penalty=0.5))
    env.reset(seed=3)
    total, steps = 0.0, 0
    while True:
        _, reward, terminated, truncated, info = env.step(np.array([-0.6, -0.6], dtype=np.float32))
        total += reward
        steps += 1
        assert reward == pytest.approx(
            info["reward_pnl"] + info["reward_inventory_penalty"] + info["reward_terminal_penalty"]
        )
        assert not truncated
        if terminated:
            break
    assert steps == env.config.market.steps
    totals = sum(info[f"episode_reward_{term}"] for term in ("pnl", "inventory_penalty", "terminal_penalty"))
    assert total == pytest.approx(totals)
    assert info["episode_reward_pnl"] == pytest.approx(info["pnl"])
    assert info["episode_reward_terminal_penalty"] == pytest.approx(-0.5 * info["inventory"] ** 2)


@pytest.mark.parametrize("action", [[1.5, 0.0], [0.0, -1.2], [np.nan, 0.0], [0.0], [0.0, 0.0, 0.0]])
def test_actions_outside_the_space_are_rejected(action: list[float]) -> None:
    env = MarketMakingEnv()
    env.reset(seed=0)
    with pytest.raises(InputError, match=r"in \[-1, 1\]"):
        env.step(np.array(action))


def test_batched_env_equals_single_envs_seed_for_seed() -> None:
    config = MarketMakingEnvConfig(market={"horizon": 0.05, "mid": "brownian", "vol_of_vol": 0.5, "max_inventory": 3})
    vec = MarketMakingVecEnv(config, num_envs=6)
    vec.seed(50)
    observations = vec.reset()
    singles = [MarketMakingEnv(config) for _ in range(6)]
    single_obs = np.stack([env.reset(seed=50 + i)[0] for i, env in enumerate(singles)])
    np.testing.assert_array_equal(observations, single_obs)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(3 * config.market.steps):
        actions = rng.uniform(-1, 1, size=(6, 2)).astype(np.float32)
        observations, rewards, dones, infos = vec.step(actions)
        results = [env.step(action) for env, action in zip(singles, actions, strict=True)]
        np.testing.assert_array_equal(rewards, np.array([r[1] for r in results], dtype=np.float32))
        assert dones.tolist() == [r[2] for r in results]
        if dones[0]:
            ends += 1
            np.testing.assert_array_equal(
                np.stack([i["terminal_observation"] for i in infos]), np.stack([r[0] for r in results])
            )
            np.testing.assert_allclose(vec.last_episodes["pnl"], [r[4]["pnl"] for r in results])
            single_obs = np.stack([env.reset()[0] for env in singles])
        else:
            single_obs = np.stack([r[0] for r in results])
        np.testing.assert_array_equal(observations, single_obs)
    assert ends == 3  # every episode ended at the horizon, and its terminal step was compared


def test_the_a_s_policy_through_the_env_matches_the_paper_replication() -> None:
    from tradebrain.desks.market_making.runs import run_market_making

    config = MarketMakingEnvConfig()
    outcome = run_market_making(config, avellaneda_stoikov(config, 0.1), list(range(400)))
    paper = replicate(0.1, 400, 0)["strategies"]["inventory"]
    # Same seeds, same fills; the env quotes at t_j, the replication at t_j + dt/2: means agree closely.
    assert outcome.pnl.mean() == pytest.approx(paper["profit_mean"]["value"], rel=0.02)
    assert outcome.pnl.std(ddof=1) == pytest.approx(paper["profit_std"]["value"], rel=0.1)
