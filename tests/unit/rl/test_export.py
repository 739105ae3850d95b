"""The numpy export of PPO / MaskablePPO acts exactly like the SB3 model, on 10,000 recorded observations."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO, SAC

from tradebrain.core.errors import InputError
from tradebrain.data.sources.files import read_bars_csv
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay, trading_days
from tradebrain.desks.day_trading.env import DayTradingEnv
from tradebrain.desks.day_trading.vec import make_vec_env
from tradebrain.rl.export import ExportedPolicy, export_policy
from tradebrain.rl.policy import Policy
from tradebrain.rl.training import TrainConfig, TrainedAgent, train_agent

SAMPLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "index-future-1min-2006.csv"
RECORDED = 10_000
TINY = {"n_steps": 256, "batch_size": 256, "n_epochs": 2}


@pytest.fixture(scope="module")
def days() -> list[TradingDay]:
    if not SAMPLE.is_file():
        pytest.skip(f"real sample not found at {SAMPLE}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return trading_days(read_bars_csv(SAMPLE, "FUT"))


@pytest.fixture(scope="module")
def recorded(days: list[TradingDay]) -> tuple[np.ndarray, np.ndarray]:
    """10,000 observations and masks of the 11 test days under a random masked policy (flat and long)."""
    env = DayTradingEnv(days[30:], DayTradingEnvConfig(commission=0.0001), shuffle=False)
    rng = np.random.default_rng(5)
    observations, masks = [], []
    obs, _ = env.reset(seed=0)
    while len(observations) < RECORDED:
        mask = env.action_masks()
        observations.append(obs)
        masks.append(mask)
        obs, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(mask))))
        if done:
            obs, _ = env.reset()
    return np.array(observations), np.array(masks)


def _train(days: list[TradingDay], algo: str, invalid_action: str, timesteps: int) -> TrainedAgent:
    torch.set_num_threads(1)
    config = DayTradingEnvConfig(commission=0.0001, invalid_action=invalid_action)  # type: ignore[arg-type]
    train = TrainConfig(algo=algo, timesteps=timesteps, n_envs=4, seed=3, normalize_obs=True, net_arch=(32, 32))
    return train_agent(lambda n: make_vec_env(days[:30], config, n, seed=3), "discrete", train, TINY, progress=False)


def _torch_logits(agent: TrainedAgent, normalised: np.ndarray) -> np.ndarray:
    policy = agent.model.policy
    with torch.no_grad():
        features = policy.pi_features_extractor(torch.as_tensor(normalised))
        return policy.action_net(policy.mlp_extractor.forward_actor(features)).numpy()


def test_maskable_ppo_export_matches_the_model_on_10000_observations(
    days: list[TradingDay], recorded: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    agent = _train(days, "maskable-ppo", "mask", 2_048)
    assert agent.vec_normalize is not None
    exported = export_policy(agent.model, agent.vec_normalize, "maskable-ppo")
    observations, masks = recorded
    assert observations.shape[0] == RECORDED and observations[:, -2].mean() > 0.2  # long in many of them
    normalised = agent.vec_normalize.normalize_obs(observations)
    np.testing.assert_array_equal(exported.normalize(observations), normalised)
    expected, _ = agent.model.predict(normalised, action_masks=masks, deterministic=True)
    actions = exported.act(observations, masks)
    np.testing.assert_array_equal(actions, expected)
    assert masks[np.arange(RECORDED), actions].all()
    assert len(np.unique(actions)) > 1  # not a trivial constant policy
    np.testing.assert_allclose(exported.logits(observations), _torch_logits(agent, normalised), rtol=1e-5, atol=1e-5)
    reloaded = ExportedPolicy.load(exported.save(tmp_path / "policy.npz"))
    np.testing.assert_array_equal(reloaded.act(observations, masks), actions)
    assert (reloaded.name, reloaded.action_kind, reloaded.activation) == ("maskable-ppo", "discrete", "tanh")
    assert isinstance(reloaded, Policy)


def test_ppo_export_matches_the_model_without_masks(
    days: list[TradingDay], recorded: tuple[np.ndarray, np.ndarray]
) -> None:
    agent = _train(days, "ppo", "penalty", 1_024)
    exported = export_policy(agent.model, agent.vec_normalize, "ppo")
    observations, _ = recorded
    assert agent.vec_normalize is not None
    normalised = agent.vec_normalize.normalize_obs(observations)
    expected, _ = agent.model.predict(normalised, deterministic=True)
    np.testing.assert_array_equal(exported.act(observations), expected)
    np.testing.assert_allclose(exported.logits(observations), _torch_logits(agent, normalised), rtol=1e-5, atol=1e-5)


def test_continuous_relu_policy_on_raw_observations() -> None:
    torch.set_num_threads(1)
    model = PPO("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", policy_kwargs={"activation_fn": torch.nn.ReLU})
    exported = export_policy(model, None, "pendulum")
    observations = np.random.default_rng(0).uniform(-8, 8, (500, 3)).astype(np.float32)
    expected, _ = model.predict(observations, deterministic=True)
    np.testing.assert_allclose(exported.act(observations), expected, rtol=1e-5, atol=1e-5)
    assert (exported.activation, exported.action_kind, exported.obs_mean) == ("relu", "continuous", None)
    assert exported.high is not None and np.all(exported.act(observations * 1_000) <= exported.high)


def test_other_architectures_and_bad_files_are_rejected(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    with pytest.raises(InputError, match="MlpExtractor"):
        export_policy(SAC("MlpPolicy", "Pendulum-v1", device="cpu"), None, "sac")
    elu = PPO("MlpPolicy", gym.make("CartPole-v1"), device="cpu", policy_kwargs={"activation_fn": torch.nn.ELU})
    with pytest.raises(InputError, match="ELU layer"):
        export_policy(elu, None, "elu")
    with pytest.raises(InputError, match="no such exported policy"):
        ExportedPolicy.load(tmp_path / "missing.npz")
    exported = export_policy(PPO("MlpPolicy", gym.make("CartPole-v1"), device="cpu"), None, "cartpole")
    with pytest.raises(InputError, match="allows no action"):
        exported.act(np.zeros((1, 4)), np.zeros((1, 2), dtype=bool))
    with pytest.raises(InputError, match="takes 4 features"):
        exported.act(np.zeros((1, 5)))


def _cartpole_policy() -> ExportedPolicy:
    torch.set_num_threads(1)
    return export_policy(PPO("MlpPolicy", gym.make("CartPole-v1"), device="cpu", seed=0), None, "cartpole")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"is empty \(0 bytes\)"),
        (b"weights, honestly", "is not a readable exported policy"),
        ("truncated", "is not a readable exported policy"),
        ("single-array", "holds a single array"),
        ("foreign", r"is not an exported policy \(no format_version"),
        ("newer", "format version 2, not 1; upgrade tradebrain"),
        ("missing-layer", r"lacks the arrays \['weight_1'\]"),
        ("nan-weights", "NaN or infinite weights"),
        ("pickled", "is not a readable exported policy"),
    ],
)
def test_a_corrupt_or_foreign_policy_file_is_a_clean_error_naming_it(
    content: bytes | str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "policy.npz"
    good = _cartpole_policy().save(tmp_path / "good.npz")
    arrays = dict(np.load(good))
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif content == "single-array":
        with path.open("wb") as handle:
            np.save(handle, np.zeros(3))
    elif content == "foreign":
        np.savez(path, prices=np.ones(5))
    elif content == "newer":
        np.savez(path, **(arrays | {"format_version": np.array(2)}))
    elif content == "missing-layer":
        np.savez(path, **{key: value for key, value in arrays.items() if key != "weight_1"})
    elif content == "nan-weights":
        np.savez(path, **(arrays | {"bias_0": np.full_like(arrays["bias_0"], np.nan)}))
    else:
        np.savez(path, **(arrays | {"name": np.array([{"not": "an array"}], dtype=object)}))
    with pytest.raises(InputError, match=message) as error:
        ExportedPolicy.load(path)
    if content not in ("nan-weights",):
        assert str(path) in str(error.value)


def test_saving_a_policy_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    policy = _cartpole_policy()
    path = policy.save(tmp_path / "policy.npz")
    before = path.read_bytes()

    def disk_full(file: Any, *args: Any, **kwargs: Any) -> None:
        file.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError):
        policy.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and [entry.name for entry in tmp_path.iterdir()] == ["policy.npz"]
    observations = np.random.default_rng(0).normal(size=(20, 4))
    np.testing.assert_array_equal(ExportedPolicy.load(path).act(observations), policy.act(observations))
    assert policy.save(tmp_path / "no-suffix") == tmp_path / "no-suffix" and (tmp_path / "no-suffix").is_file()
