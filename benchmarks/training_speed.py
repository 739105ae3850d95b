"""SB3 training throughput: env steps/s of PPO learning on the batched env vs per-episode envs.

Why: a fast env only matters if training sees it. PPO trains through the desk's own entry point
(`desks.execution.train`) on `ExecutionVecEnv`; for context the same PPO hyperparameters
(`algorithm_defaults`, but 8 envs) run on stable-baselines3's `DummyVecEnv` of 8 `gym.make`
single envs, Execution-v0 and gym-anytrading's `stocks-v0`. The wall time covers the whole call
(model construction and every update), so it is what a user waits for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
from stable_baselines3.common.vec_env import DummyVecEnv

from benchmarks.env_speed import REFERENCE_ID, make_reference, reference_available
from benchmarks.paths import CONFIGS
from tradebrain.core.config import load_config, with_updates
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.study import ExecutionDeskConfig, algorithm_defaults, train
from tradebrain.rl.policy import ActionKind
from tradebrain.rl.training import train_agent

CONFIG = CONFIGS / "execution.yaml"
DUMMY_ENVS = 8


@dataclass(frozen=True)
class TrainingRow:
    """One PPO run: what it trained on, how many env steps and how long it took."""

    key: str
    label: str
    n_envs: int
    timesteps: int
    seconds: float
    steps_per_s: float

    @classmethod
    def timed(cls, key: str, label: str, n_envs: int, timesteps: int, start: float) -> TrainingRow:
        """The row of a run that started at `start` (perf_counter) and ends now."""
        seconds = time.perf_counter() - start
        return cls(key, label, n_envs, timesteps, seconds, timesteps / seconds)


EnvFactory = Callable[[], gym.Env]


def _train_dummy(key: str, label: str, config: ExecutionDeskConfig, make: EnvFactory, kind: ActionKind) -> TrainingRow:
    """PPO with the desk's hyperparameters on a DummyVecEnv of `DUMMY_ENVS` single envs."""
    defaults = algorithm_defaults(config)
    if kind == "discrete":
        defaults.pop("policy_kwargs", None)  # log_std_init is for continuous actions only
    start = time.perf_counter()
    trained = train_agent(lambda n: DummyVecEnv([make] * n), kind, config.train, defaults, progress=False)
    return TrainingRow.timed(key, label, DUMMY_ENVS, trained.model.num_timesteps, start)


def run_training(
    vec_timesteps: int = 100_000,
    dummy_timesteps: int = 30_000,
    config_path: Path = CONFIG,
    on_progress: Callable[[str], None] | None = None,
) -> list[TrainingRow]:
    """PPO env steps/s on ExecutionVecEnv (desk default n_envs), then on DummyVecEnvs of 8 envs."""
    notify = on_progress or (lambda _message: None)
    base = load_config(ExecutionDeskConfig, config_path, environ={})
    vec_config = with_updates(base, {"train.timesteps": vec_timesteps})
    n_envs = int(algorithm_defaults(vec_config)["n_envs"])
    notify(f"PPO on ExecutionVecEnv({n_envs}), {vec_timesteps:,} steps")
    start = time.perf_counter()
    trained = train(vec_config, None, progress=False)
    rows = [
        TrainingRow.timed(
            "ppo_execution_vec", f"PPO, ExecutionVecEnv({n_envs})", n_envs, trained.model.num_timesteps, start
        )
    ]
    # SB3 truncates a mini-batch to the rollout (n_steps * n_envs) anyway; saying so avoids its warning.
    rollout = int(algorithm_defaults(base)["n_steps"]) * DUMMY_ENVS
    batch = min(int(algorithm_defaults(base)["batch_size"]), rollout)
    dummy_config = with_updates(
        base,
        {
            "train.timesteps": dummy_timesteps,
            "train.n_envs": DUMMY_ENVS,
            "train.hyperparams": {"batch_size": batch},
        },
    )
    env_config = ExecutionEnvConfig.model_validate(
        dummy_config.model_dump(include=set(ExecutionEnvConfig.model_fields))
    )
    notify(f"PPO on DummyVecEnv({DUMMY_ENVS} x Execution-v0), {dummy_timesteps:,} steps")
    rows.append(
        _train_dummy(
            "ppo_execution_dummy",
            f"PPO, DummyVecEnv({DUMMY_ENVS} x Execution-v0)",
            dummy_config,
            lambda: gym.make("tradebrain/Execution-v0", config=env_config),
            dummy_config.action,
        )
    )
    if reference_available():
        notify(f"PPO on DummyVecEnv({DUMMY_ENVS} x {REFERENCE_ID}), {dummy_timesteps:,} steps")
        rows.append(
            _train_dummy(
                "ppo_reference_dummy",
                f"PPO, DummyVecEnv({DUMMY_ENVS} x {REFERENCE_ID})",
                dummy_config,
                lambda: make_reference(False),
                "discrete",
            )
        )
    return rows
