"""ExecutionVecEnv equals N single ExecutionEnvs seed for seed, and stable-baselines3 accepts it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.vec_env import VecEnv

from tradebrain.core.errors import InputError
from tradebrain.desks.execution.baselines import almgren_chriss, twap
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.env import ExecutionEnv
from tradebrain.desks.execution.evaluate import run_episodes
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig
from tradebrain.desks.execution.vec_env import ExecutionVecEnv
from tradebrain.desks.runs import evaluation_seeds
from tradebrain.rl.policy import ModelPolicy, Policy

torch.set_num_threads(1)

NUM_ENVS = 8
SEED = 100
EPISODES = 70  # more than a NoiseBank block (64 episodes): the refill must keep the streams aligned


def make_config(action: str, process: str, steps: int = 2) -> ExecutionEnvConfig:
    market = MarketConfig(process=process, ou_theta=0.8 if process == "ou" else 0.0, lookback=3)
    return ExecutionEnvConfig(action=action, market=market, task=LiquidationTask(steps=steps))


def draw_actions(rng: np.random.Generator, action: str) -> np.ndarray:
    if action == "discrete":
        return rng.integers(0, 7, NUM_ENVS)
    return rng.uniform(0.0, 1.0, (NUM_ENVS, 1)).astype(np.float32)


@pytest.mark.parametrize("process", ["abm", "ou", "garch"])
@pytest.mark.parametrize("action", ["continuous", "discrete"])
def test_vec_env_equals_single_envs(action: str, process: str) -> None:
    config = make_config(action, process)
    vec = ExecutionVecEnv(config, num_envs=NUM_ENVS)
    singles = [ExecutionEnv(config) for _ in range(NUM_ENVS)]
    seeds = vec.seed(SEED)
    assert list(seeds) == list(vec.seeds_for(SEED)) == list(range(SEED, SEED + NUM_ENVS))

    observations = vec.reset()
    expected = np.stack([env.reset(seed=seed)[0] for env, seed in zip(singles, seeds, strict=True)])
    assert observations.dtype == np.float32
    np.testing.assert_array_equal(observations, expected)

    rng = np.random.default_rng(0)
    steps = config.task.steps
    for episode in range(EPISODES):
        totals = np.zeros((NUM_ENVS, 2))
        for k in range(steps):
            actions = draw_actions(rng, action)
            observations, rewards, dones, infos = vec.step(actions)
            results = [env.step(actions[i]) for i, env in enumerate(singles)]
            single_rewards = np.array([result[1] for result in results])
            totals += [[result[4]["reward_shortfall"], result[4]["reward_risk"]] for result in results]

            assert rewards.dtype == np.float32
            np.testing.assert_array_equal(rewards, single_rewards.astype(np.float32))
            np.testing.assert_array_equal(vec.core.reward, single_rewards)  # the float64 rewards, exactly
            last = k == steps - 1
            assert dones.tolist() == [last] * NUM_ENVS == [result[2] for result in results]
            assert not any(result[3] for result in results)
            single_observations = np.stack([result[0] for result in results])
            if not last:
                np.testing.assert_array_equal(observations, single_observations)
                assert infos == [{}] * NUM_ENVS
                continue
            terminal = np.stack([info["terminal_observation"] for info in infos])
            np.testing.assert_array_equal(terminal, single_observations, err_msg=f"episode {episode}")
            finished = vec.last_episodes
            np.testing.assert_allclose(
                finished["implementation_shortfall"],
                [result[4]["implementation_shortfall"] for result in results],
                rtol=1e-12,
                atol=1e-12 * config.dollars_per_reward_unit,
            )
            vec_totals = np.stack([finished["episode_reward_shortfall"], finished["episode_reward_risk"]], axis=1)
            np.testing.assert_allclose(vec_totals, totals, rtol=1e-12, atol=1e-12)
            for key in finished:  # the single env reports the same keys in its last info
                np.testing.assert_allclose(finished[key], [result[4][key] for result in results], rtol=1e-12, atol=1e-9)
            # the vec env reset itself; the singles continue their streams unseeded
            np.testing.assert_array_equal(observations, np.stack([env.reset()[0] for env in singles]))


def test_reseeding_restarts_the_streams() -> None:
    config = make_config("continuous", "abm")
    vec = ExecutionVecEnv(config, num_envs=NUM_ENVS)
    vec.seed(7)
    first = vec.reset()
    for _ in range(3):
        vec.step(np.full((NUM_ENVS, 1), 0.5, dtype=np.float32))
    vec.seed(7)
    np.testing.assert_array_equal(vec.reset(), first)
    assert not np.array_equal(first[0], first[1])


def test_wrong_number_of_actions_raises() -> None:
    vec = ExecutionVecEnv(make_config("discrete", "abm"), num_envs=NUM_ENVS)
    vec.seed(0)
    vec.reset()
    with pytest.raises(InputError, match=r"Discrete\(7\)"):
        vec.step(np.zeros(NUM_ENVS // 2, dtype=np.int64))
    with pytest.raises(InputError, match=r"Discrete\(7\)"):
        vec.step(np.full(NUM_ENVS, 9))


def test_vec_env_interface() -> None:
    vec = ExecutionVecEnv(make_config("continuous", "abm"), num_envs=NUM_ENVS)
    assert isinstance(vec, VecEnv)
    assert vec.num_envs == NUM_ENVS
    assert vec.get_attr("config") == [vec.config] * NUM_ENVS
    assert vec.get_attr("config", indices=[1, 3]) == [vec.config] * 2
    assert vec.env_is_wrapped(object) == [False] * NUM_ENVS  # type: ignore[arg-type]
    assert vec.env_method("seeds_for", 5, indices=[0]) == [list(range(5, 5 + NUM_ENVS))]
    with pytest.raises(RuntimeError, match="step_async"):
        vec.step_wait()


def objective_usd(config: ExecutionEnvConfig, policy: Policy, seeds: list[int]) -> float:
    """E + lambda*V of the implementation shortfall ($), one episode per seed."""
    shortfall = run_episodes(config, policy, seeds).shortfall
    return float(np.mean(shortfall) + config.task.risk_aversion * np.var(shortfall, ddof=1))


def test_ppo_learns_on_the_vec_env() -> None:
    """200 PPO gradient steps (~1 s) turn a policy that holds to the deadline into one that beats TWAP.

    E + lambda*V on these held-out seeds, measured with PPO seeds 0..9: untrained ~6.4M $, TWAP 1.83M,
    AC-optimal 1.30M, trained 1.35M-1.41M (at most 0.22x the untrained objective and 0.2x the gap from
    the optimum to TWAP). A flipped reward sign ends near 6.5M; a zero learning rate stays put.
    """
    config = make_config("continuous", "abm", steps=5)
    vec = ExecutionVecEnv(config, num_envs=64)
    model = PPO(
        "MlpPolicy",
        vec,
        n_steps=10,
        batch_size=320,
        n_epochs=10,
        gamma=1.0,
        gae_lambda=0.95,
        ent_coef=0.0,
        policy_kwargs={"log_std_init": -1.0},
        seed=0,
        device="cpu",
    )
    seeds = evaluation_seeds(256, 1_000_000)  # held out: training seeds start at 0
    untrained = objective_usd(config, ModelPolicy(model, "untrained"), seeds)
    model.learn(6_400)
    assert model.num_timesteps == 6_400
    trained = objective_usd(config, ModelPolicy(model, "PPO"), seeds)
    baseline, optimum = (objective_usd(config, policy, seeds) for policy in (twap(config), almgren_chriss(config)))
    assert optimum < baseline < untrained
    assert trained < 0.5 * untrained
    assert trained - optimum < 0.5 * (baseline - optimum)  # closer to the optimum than to TWAP


def test_dqn_steps_and_acts_within_the_discrete_vec_env() -> None:
    """A plumbing check (SB3 DQN drives the batched twin); learning on this budget is not measurable."""
    vec = ExecutionVecEnv(make_config("discrete", "garch", steps=5), num_envs=NUM_ENVS)
    model = DQN(
        "MlpPolicy",
        vec,
        learning_starts=16,
        buffer_size=256,
        batch_size=16,
        train_freq=1,
        seed=0,
        device="cpu",
    )
    model.learn(64)
    assert model.num_timesteps == 64
    actions, _ = model.predict(vec.reset(), deterministic=True)
    assert actions.shape == (NUM_ENVS,)
    assert np.all((actions >= 0) & (actions < 7))
