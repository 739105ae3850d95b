"""Train a registered algorithm on a batched env: seeded, checkpointed, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field, field_validator
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, VecNormalize

from tradebrain.core.config import StrictModel
from tradebrain.core.console import stderr_console
from tradebrain.core.errors import ConfigError
from tradebrain.rl.policy import ActionKind, ModelPolicy
from tradebrain.rl.registry import get_algorithm

HyperValue = float | int | str | bool
VEC_NORMALIZE = "vecnormalize.pkl"
"""The file beside `model.zip` holding the training env's normalisation statistics."""


class TrainConfig(StrictModel):
    """How to train: algorithm, budget, parallel episodes, seed and overrides of its hyperparameters."""

    algo: str = "ppo"
    timesteps: int = Field(300_000, ge=1, description="environment steps to train for")
    n_envs: int | None = Field(None, ge=1, description="episodes stepped together; None: the desk's default")
    seed: int = Field(0, ge=0)
    net_arch: tuple[int, ...] = (64, 64)
    hyperparams: dict[str, HyperValue] = Field(default_factory=dict, description="overrides of the algorithm's")
    normalize_reward: bool = True
    normalize_obs: bool = Field(False, description="VecNormalize the observations too (stats saved with the model)")
    checkpoints: int = Field(0, ge=0, description="intermediate checkpoints, evenly spaced")
    torch_threads: int = Field(1, ge=1, description="small networks train fastest on one thread")

    @field_validator("algo")
    @classmethod
    def _registered(cls, name: str) -> str:
        return get_algorithm(name).name


@dataclass
class TrainedAgent:
    """A trained model, where it was saved, and the Policy that wraps it."""

    model: BaseAlgorithm
    policy: ModelPolicy
    path: Path | None
    vec_normalize: VecNormalize | None = None
    """The training env's normalisation (frozen: `training` is False); its statistics are saved as
    `vecnormalize.pkl` beside the model, and evaluation and live must normalise the same way."""

    @property
    def timesteps(self) -> int:
        """Env steps trained so far."""
        return int(self.model.num_timesteps)

    def learn_more(self, timesteps: int) -> None:
        """Train `timesteps` more steps, then leave the agent as training left it: the normalisation
        frozen again and the policy normalising with the updated statistics (tuning evaluates the
        agent between chunks, exactly as it would evaluate a finished one)."""
        if self.vec_normalize is not None:
            self.vec_normalize.training = True  # training froze the statistics; keep updating them
        self.model.learn(timesteps, reset_num_timesteps=False)
        if self.vec_normalize is not None:
            self.vec_normalize.training = False
            if isinstance(self.policy, NormalizedModelPolicy):
                self.policy = NormalizedModelPolicy(self.model, self.policy.name, self.vec_normalize)


class NormalizedModelPolicy(ModelPolicy):
    """A trained model whose observations are normalised with the training VecNormalize statistics
    (a copy taken when training ended), exactly as `VecNormalize.normalize_obs` does."""

    def __init__(self, model: Any, name: str, vec_normalize: VecNormalize) -> None:
        super().__init__(model, name)
        stats = vec_normalize.obs_rms
        if isinstance(stats, dict):
            raise ConfigError("train.normalize_obs supports Box observations only, not dict observations")
        self.obs_mean: np.ndarray = np.array(stats.mean, dtype=np.float64)
        self.obs_var: np.ndarray = np.array(stats.var, dtype=np.float64)
        self.clip_obs: float = float(vec_normalize.clip_obs)
        self.epsilon: float = float(vec_normalize.epsilon)

    def normalize(self, observations: np.ndarray) -> np.ndarray:
        """clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs), as float32."""
        scaled = (np.asarray(observations) - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon)
        normalised: np.ndarray = np.clip(scaled, -self.clip_obs, self.clip_obs).astype(np.float32)
        return normalised

    def act(self, observations: np.ndarray, action_masks: np.ndarray | None = None) -> np.ndarray:
        """The model's greedy actions on the normalised observations."""
        return super().act(self.normalize(observations), action_masks)


class RichProgress(BaseCallback):
    """A rich progress bar over training timesteps, with the mean episode reward terms."""

    def __init__(self, total: int, label: str, term_keys: tuple[str, ...]) -> None:
        super().__init__()
        self.total = total
        self.label = label
        self.term_keys = term_keys
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=stderr_console,
        )  # fmt: skip
        self._task = self._progress.add_task(label, total=total, status="")
        self._episode_returns: list[float] = []

    def _on_training_start(self) -> None:
        self._progress.start()

    def _on_step(self) -> bool:
        dones = self.locals.get("dones")
        if dones is not None and np.any(dones):
            self._log_finished(self.locals.get("infos", ()), dones)
        status = f"mean return {np.mean(self._episode_returns[-1000:]):8.2f}" if self._episode_returns else ""
        self._progress.update(self._task, completed=min(self.num_timesteps, self.total), status=status)
        return True

    def _log_finished(self, infos: list[dict[str, Any]], dones: np.ndarray) -> None:
        """Episode returns (VecMonitor's `episode`) and each reward term's mean over finished episodes,
        from the infos of single envs or the `last_episodes` arrays of a batched env."""
        finished = [info for info, done in zip(infos, dones, strict=True) if done]
        self._episode_returns.extend(float(info["episode"]["r"]) for info in finished if "episode" in info)
        batched = self._last_episodes()
        for key in self.term_keys:
            values = [info[key] for info in finished if key in info]
            if not values and key in batched:
                values = list(batched[key])
            if values:
                self.logger.record(f"reward_terms/{key}", float(np.mean(values)))

    def _last_episodes(self) -> dict[str, np.ndarray]:
        try:
            return dict(self.training_env.get_attr("last_episodes", [0])[0])
        except AttributeError:
            return {}

    def _on_training_end(self) -> None:
        self._progress.update(self._task, completed=self.total)
        self._progress.stop()


def train_agent(
    make_env: Callable[[int], VecEnv],
    action_kind: ActionKind,
    config: TrainConfig,
    defaults: Mapping[str, Any],
    out_dir: Path | None = None,
    progress: bool = True,
    term_keys: tuple[str, ...] = (),
) -> TrainedAgent:
    """Train `config.algo` on `make_env(n_envs)`; saves `model.zip` (and the VecNormalize statistics,
    `vecnormalize.pkl`) under `out_dir`. MaskablePPO reads the masks through any VecEnv wrapper
    (`env_method("action_masks")`), so the env factory only has to return envs with `action_masks`.

    `defaults` are the desk's hyperparameters for this algorithm (and its `n_envs`);
    `config.hyperparams` override them.
    """
    algorithm = get_algorithm(config.algo)
    algorithm.check_action_kind(action_kind)
    torch.set_num_threads(config.torch_threads)
    n_envs = config.n_envs or int(defaults.get("n_envs", 1))
    env: VecEnv = VecMonitor(make_env(n_envs))
    if config.normalize_reward or config.normalize_obs:
        env = VecNormalize(
            env,
            norm_obs=config.normalize_obs,
            norm_reward=config.normalize_reward,
            gamma=float(defaults.get("gamma", 0.99)),
        )
    env.seed(config.seed)
    kwargs: dict[str, Any] = {key: value for key, value in defaults.items() if key != "n_envs"}
    kwargs |= config.hyperparams
    kwargs.setdefault("policy_kwargs", {})["net_arch"] = list(config.net_arch)
    try:
        model = algorithm.cls("MlpPolicy", env, seed=config.seed, device="cpu", verbose=0, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"train.hyperparams has a key {algorithm.name} does not take: {exc}") from None
    callbacks: list[BaseCallback] = []
    if progress:
        callbacks.append(RichProgress(config.timesteps, f"training {algorithm.name}", term_keys))
    if out_dir is not None and config.checkpoints:
        every = max(config.timesteps // (config.checkpoints + 1) // n_envs, 1)
        checkpoints = CheckpointCallback(
            every, str(out_dir / "checkpoints"), name_prefix=algorithm.name, save_vecnormalize=config.normalize_obs
        )
        callbacks.append(checkpoints)
    model.learn(config.timesteps, callback=CallbackList(callbacks))
    path = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "model.zip"
        model.save(path)
        if isinstance(env, VecNormalize):
            env.save(str(out_dir / VEC_NORMALIZE))
    name = algorithm.name.upper()
    if not isinstance(env, VecNormalize):
        return TrainedAgent(model, ModelPolicy(model, name), path)
    env.training = False
    policy = NormalizedModelPolicy(model, name, env) if config.normalize_obs else ModelPolicy(model, name)
    return TrainedAgent(model, policy, path, env)


def load_trained(model_path: Path, algo: str) -> TrainedAgent:
    """A saved model with the normalisation it was trained with (`vecnormalize.pkl` beside it, when
    present): its policy normalises observations exactly as in training. Errors name the file."""
    import pickle

    from tradebrain.core.errors import InputError
    from tradebrain.rl.registry import load_model

    if not model_path.is_file():
        raise InputError(f"--model {model_path} does not exist; train one with `tradebrain train <desk>`")
    try:
        model = load_model(str(model_path), algo)
    except Exception as error:  # SB3 raises whatever the zip's contents trigger
        raise InputError(
            f"{model_path} is not a {algo} model saved by stable-baselines3 ({type(error).__name__}: {error}); "
            "check --algo (or the config's train.algo) and the file"
        ) from None
    name = get_algorithm(algo).name.upper()
    stats_path = model_path.with_name(VEC_NORMALIZE)
    if not stats_path.is_file():
        return TrainedAgent(model, ModelPolicy(model, name), model_path)
    try:
        with stats_path.open("rb") as handle:
            stats = pickle.load(handle)
    except Exception as error:
        raise InputError(f"{stats_path} is not a VecNormalize file ({type(error).__name__}: {error})") from None
    if not isinstance(stats, VecNormalize):
        raise InputError(f"{stats_path} holds a {type(stats).__name__}, not VecNormalize statistics")
    stats.training = False
    policy = NormalizedModelPolicy(model, name, stats) if stats.norm_obs else ModelPolicy(model, name)
    return TrainedAgent(model, policy, model_path, stats)
