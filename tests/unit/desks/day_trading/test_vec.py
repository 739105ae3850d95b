"""Training on DayTrading-v0: vec env seeding, masks through VecNormalize, MaskablePPO and PPO end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.env import DayTradingEnv
from tradebrain.desks.day_trading.vec import make_vec_env
from tradebrain.rl.training import NormalizedModelPolicy, TrainConfig, train_agent

TINY = {"n_steps": 128, "batch_size": 128, "n_epochs": 1}


def test_copies_are_seeded_apart_and_masks_reach_through_wrappers(future_days: list[TradingDay]) -> None:
    venv = make_vec_env(future_days[:8], DayTradingEnvConfig(), n_envs=3, seed=10)
    assert venv.num_envs == 3
    venv.reset()
    singles = [DayTradingEnv(future_days[:8]).reset(seed=10 + i)[1]["day"] for i in range(3)]
    assert [info["day"] for info in venv.reset_infos] == singles  # copy i is seeded 10 + i
    wrapped = VecNormalize(VecMonitor(venv), norm_obs=True, norm_reward=True)
    assert is_masking_supported(wrapped)
    masks = get_action_masks(wrapped)
    assert masks.shape == (3, 3)
    assert masks.tolist() == [[True, True, False]] * 3  # every copy starts flat at its first bar
    with pytest.raises(InputError, match="n_envs"):
        make_vec_env(future_days[:2], DayTradingEnvConfig(), n_envs=0, seed=0)


def test_maskable_ppo_trains_with_normalised_observations_and_saves_the_stats(
    future_days: list[TradingDay], tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    config = DayTradingEnvConfig(commission=0.0001)  # mask mode: any invalid action would raise
    train = TrainConfig(
        algo="maskable-ppo", timesteps=512, n_envs=2, seed=1, normalize_obs=True, net_arch=(16,), checkpoints=1
    )
    agent = train_agent(
        lambda n: make_vec_env(future_days[:30], config, n, seed=1), "discrete", train, TINY, tmp_path, progress=False
    )
    assert agent.model.num_timesteps >= 512  # every step was a masked, valid action
    assert (tmp_path / "model.zip").is_file() and (tmp_path / "vecnormalize.pkl").is_file()
    assert list((tmp_path / "checkpoints").glob("*vecnormalize*.pkl"))  # checkpoints keep their statistics too
    assert agent.vec_normalize is not None and not agent.vec_normalize.training
    loaded = VecNormalize.load(str(tmp_path / "vecnormalize.pkl"), make_vec_env(future_days[:1], config, 1, 0))
    np.testing.assert_array_equal(loaded.obs_rms.mean, agent.vec_normalize.obs_rms.mean)
    assert loaded.norm_obs and loaded.norm_reward
    assert isinstance(agent.policy, NormalizedModelPolicy)
    venv = make_vec_env(future_days[30:], config, 4, seed=2)
    obs = venv.reset()
    for _ in range(50):
        masks = get_action_masks(venv)
        actions = agent.policy.act(obs, masks)
        assert masks[np.arange(4), actions].all()
        obs, _, _, _ = venv.step(actions)


def test_plain_ppo_trains_with_the_invalid_action_penalty(future_days: list[TradingDay]) -> None:
    torch.set_num_threads(1)
    config = DayTradingEnvConfig(invalid_action="penalty")
    train = TrainConfig(algo="ppo", timesteps=256, n_envs=2, seed=1, normalize_obs=True, net_arch=(16,))
    agent = train_agent(
        lambda n: make_vec_env(future_days[:30], config, n, seed=1), "discrete", train, TINY, progress=False
    )
    assert agent.model.num_timesteps >= 256
    assert agent.vec_normalize is not None and agent.vec_normalize.norm_obs
