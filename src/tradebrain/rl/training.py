"""Train a registered algorithm on a batched env: seeded, checkpointed, with a progress bar; save the
agent atomically with its provenance (`model.json`) and load it back only when everything fits.

A saved agent is three files in one folder: `model.zip` (stable-baselines3), `vecnormalize.pkl`
(the training env's normalisation, when there is one) and `model.json` (rl/manifest.py: algorithm,
spaces, checksums, config hashes, versions). Each is written to a temporary and renamed into place,
the manifest last, so a crash or a full disk leaves the previous agent whole (or a mismatch the
loader refuses), never a truncated model.zip that looks like a result.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, VecNormalize

from tradebrain.core.config import StrictModel
from tradebrain.core.console import stderr_console
from tradebrain.core.errors import ConfigError, InputError
from tradebrain.core.io import atomic_path
from tradebrain.rl.manifest import (
    FORMAT_VERSION,
    ModelManifest,
    SavedFile,
    config_digest,
    describe_space,
    manifest_path,
    package_versions,
    read_manifest,
    same_space,
    saved_policy_class,
    sha256_file,
    space_label,
    utc_now,
    zip_data,
)
from tradebrain.rl.policy import ActionKind, ModelPolicy
from tradebrain.rl.registry import algorithm_of_policy, get_algorithm

HyperValue = float | int | str | bool
VEC_NORMALIZE = "vecnormalize.pkl"
"""The file beside `model.zip` holding the training env's normalisation statistics."""


class TrainConfig(StrictModel):
    """How to train: algorithm, budget, parallel episodes, seed and overrides of its hyperparameters."""

    algo: str = "ppo"
    timesteps: int = Field(300_000, ge=1, description="environment steps to train for")
    n_envs: int | None = Field(None, ge=1, description="episodes stepped together; None: the desk's default")
    seed: int = Field(0, ge=0)
    net_arch: tuple[int, ...] = Field((64, 64), description="hidden layer widths; () is a linear policy")
    hyperparams: dict[str, HyperValue] = Field(default_factory=dict, description="overrides of the algorithm's")
    normalize_reward: bool = True
    normalize_obs: bool = Field(False, description="VecNormalize the observations too (stats saved with the model)")
    checkpoints: int = Field(0, ge=0, description="intermediate checkpoints, evenly spaced")
    torch_threads: int = Field(1, ge=1, description="small networks train fastest on one thread")

    @field_validator("algo")
    @classmethod
    def _registered(cls, name: str) -> str:
        return get_algorithm(name).name

    @field_validator("net_arch")
    @classmethod
    def _widths(cls, widths: tuple[int, ...]) -> tuple[int, ...]:
        """Every hidden layer needs a unit (a 0-wide layer cuts the network; torch only fails deep in
        training). An empty tuple is meaningful: no hidden layer, a linear policy."""
        narrow = [f"layer {index} has {width}" for index, width in enumerate(widths, start=1) if width < 1]
        if narrow:
            raise ValueError(f"every layer width must be >= 1 ({', '.join(narrow)}); e.g. net_arch: [64, 64]")
        return widths

    @field_validator("hyperparams")
    @classmethod
    def _known_hyperparams(cls, params: dict[str, HyperValue], info: ValidationInfo) -> dict[str, HyperValue]:
        """Keys the algorithm's constructor takes (did-you-mean for typos), values in their known ranges,
        checked when the config loads rather than deep in training (rl/registry.py has the ranges)."""
        algo = info.data.get("algo")
        if algo is None:  # the algorithm itself is invalid: that error is reported instead
            return params
        checked: dict[str, HyperValue] = get_algorithm(algo).check_hyperparams(params)
        return checked


@dataclass
class TrainedAgent:
    """A trained model, where it was saved, and the Policy that wraps it."""

    model: BaseAlgorithm
    policy: ModelPolicy
    path: Path | None
    vec_normalize: VecNormalize | None = None
    """The training env's normalisation (frozen: `training` is False); its statistics are saved as
    `vecnormalize.pkl` beside the model, and evaluation and live must normalise the same way."""
    manifest: ModelManifest | None = None
    """The provenance saved with (or read beside) the model; None when unsaved or saved before manifests."""

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


class AtomicCheckpoint(BaseCallback):
    """Every `every` calls, save the agent as `<folder>/<algo>_<steps>_steps.zip` with its statistics
    (`<algo>_vecnormalize_<steps>_steps.pkl`) and manifest, atomically, as the final model is saved
    (SB3's CheckpointCallback writes in place, so a killed run could leave a truncated checkpoint)."""

    def __init__(
        self,
        every: int,
        folder: Path,
        algorithm: str,
        train_config: TrainConfig,
        run_config: BaseModel | Mapping[str, Any] | None,
    ) -> None:
        super().__init__()
        self.every = every
        self.folder = folder
        self.algorithm = algorithm
        self.train_config = train_config
        self.run_config = run_config

    def _on_step(self) -> bool:
        if self.n_calls % self.every == 0:
            steps = self.num_timesteps
            prefix = self.algorithm
            save_trained(
                self.model, self.folder, vec_normalize=self.model.get_vec_normalize_env(), algorithm=prefix,
                name=f"{prefix}_{steps}_steps", vecnormalize_name=f"{prefix}_vecnormalize_{steps}_steps.pkl",
                train_config=self.train_config, run_config=self.run_config,
            )  # fmt: skip
        return True


def _saved_file(path: Path) -> SavedFile:
    return SavedFile(name=path.name, sha256=sha256_file(path), size=path.stat().st_size)


def save_trained(
    model: BaseAlgorithm,
    folder: Path,
    *,
    algorithm: str,
    vec_normalize: VecNormalize | None = None,
    name: str = "model",
    vecnormalize_name: str = VEC_NORMALIZE,
    train_config: TrainConfig | None = None,
    run_config: BaseModel | Mapping[str, Any] | None = None,
) -> ModelManifest:
    """Save `model` as `folder/<name>.zip`, `vec_normalize` as `folder/<vecnormalize_name>` and the
    manifest `folder/<name>.json`, each atomically (temporary + rename) and the manifest last; returns
    the manifest. On any error (a full disk) the previous files stay as they were.

    `run_config` is the desk's whole run config: its hash travels in the manifest, so a model can be
    matched with the config.yaml it was trained with."""
    algo = get_algorithm(algorithm).name
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / f"{name}.zip"
    with atomic_path(model_path) as temporary, temporary.open("wb") as handle:
        model.save(handle)  # an open file: SB3 appends ".zip" to a path without that suffix
    stats: SavedFile | None = None
    if vec_normalize is not None:
        stats_path = folder / vecnormalize_name
        with atomic_path(stats_path) as temporary:
            vec_normalize.save(str(temporary))
        stats = _saved_file(stats_path)
    elif vecnormalize_name == VEC_NORMALIZE:
        # statistics of the model this one replaces would be applied to it by an older loader
        (folder / VEC_NORMALIZE).unlink(missing_ok=True)
    policy_class = model.policy_class
    manifest = ModelManifest(
        format_version=FORMAT_VERSION,
        algorithm=algo,
        policy_class=f"{policy_class.__module__}.{policy_class.__qualname__}",
        observation_space=describe_space(model.observation_space),
        action_space=describe_space(model.action_space),
        model=_saved_file(model_path),
        vecnormalize=stats,
        normalize_obs=bool(vec_normalize is not None and vec_normalize.norm_obs),
        normalize_reward=bool(vec_normalize is not None and vec_normalize.norm_reward),
        timesteps=int(model.num_timesteps),
        train_config_sha256=config_digest(train_config) if train_config is not None else None,
        train_config=train_config.model_dump(mode="json") if train_config is not None else None,
        run_config_sha256=config_digest(run_config) if run_config is not None else None,
        versions=package_versions(),
        created=utc_now(),
    )
    manifest.write(manifest_path(model_path))
    return manifest


def train_agent(
    make_env: Callable[[int], VecEnv],
    action_kind: ActionKind,
    config: TrainConfig,
    defaults: Mapping[str, Any],
    out_dir: Path | None = None,
    progress: bool = True,
    term_keys: tuple[str, ...] = (),
    run_config: BaseModel | Mapping[str, Any] | None = None,
) -> TrainedAgent:
    """Train `config.algo` on `make_env(n_envs)`; under `out_dir`, saves `model.zip`, the VecNormalize
    statistics `vecnormalize.pkl` and the manifest `model.json` atomically (`save_trained`).
    MaskablePPO reads the masks through any VecEnv wrapper (`env_method("action_masks")`), so the
    env factory only has to return envs with `action_masks`.

    `defaults` are the desk's hyperparameters for this algorithm (and its `n_envs`), checked like
    `config.hyperparams`, which override them. `run_config`, the desk's whole config, is hashed into
    the manifest (and its checkpoints').
    """
    algorithm = get_algorithm(config.algo)
    algorithm.check_action_kind(action_kind)
    desk_defaults = {key: value for key, value in defaults.items() if key not in ("n_envs", "policy_kwargs")}
    try:
        algorithm.check_hyperparams(desk_defaults, where="the desk's defaults")
    except ConfigError as error:
        raise ConfigError(f"the desk's default hyperparameters for {algorithm.name}: {error}") from None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)  # an unwritable folder fails now, not after training
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
    kwargs: dict[str, Any] = desk_defaults | config.hyperparams
    kwargs["policy_kwargs"] = {**defaults.get("policy_kwargs", {}), "net_arch": list(config.net_arch)}
    try:
        model = algorithm.cls("MlpPolicy", env, seed=config.seed, device="cpu", verbose=0, **kwargs)
    except (TypeError, ValueError, AssertionError) as exc:  # SB3 asserts on combinations (PPO: batch vs rollout)
        raise ConfigError(
            f"train.hyperparams: {algorithm.name} rejects {config.hyperparams or kwargs}: {exc}"
        ) from None
    callbacks: list[BaseCallback] = []
    if progress:
        callbacks.append(RichProgress(config.timesteps, f"training {algorithm.name}", term_keys))
    if out_dir is not None and config.checkpoints:
        every = max(config.timesteps // (config.checkpoints + 1) // n_envs, 1)
        callbacks.append(AtomicCheckpoint(every, out_dir / "checkpoints", algorithm.name, config, run_config))
    model.learn(config.timesteps, callback=CallbackList(callbacks))
    path = None
    manifest = None
    vec_normalize = env if isinstance(env, VecNormalize) else None
    if out_dir is not None:
        manifest = save_trained(
            model, out_dir, algorithm=algorithm.name, vec_normalize=vec_normalize, train_config=config,
            run_config=run_config,
        )  # fmt: skip
        path = out_dir / "model.zip"
    name = algorithm.name.upper()
    if vec_normalize is None:
        return TrainedAgent(model, ModelPolicy(model, name), path, manifest=manifest)
    vec_normalize.training = False
    policy = NormalizedModelPolicy(model, name, vec_normalize) if config.normalize_obs else ModelPolicy(model, name)
    return TrainedAgent(model, policy, path, vec_normalize, manifest)


def _verify_files(model_path: Path, manifest: ModelManifest) -> Path | None:
    """Check `model_path` and its statistics against the manifest; returns the statistics' path (None:
    trained without normalisation). A mismatch means files from different runs: refused, naming both."""
    manifest_file = manifest_path(model_path)
    actual = sha256_file(model_path)
    if actual != manifest.model.sha256:
        raise InputError(
            f"{model_path} does not match its manifest {manifest_file} (sha256 {actual[:12]}..., the manifest "
            f"records {manifest.model.sha256[:12]}...): the two files come from different runs, or the model was "
            f"changed after it was saved; use the model.zip saved with {manifest_file.name}, or delete "
            f"{manifest_file.name} to load this model without its provenance checks"
        )
    stray = model_path.with_name(VEC_NORMALIZE)
    if manifest.vecnormalize is None:
        if stray.is_file():
            raise InputError(
                f"{stray} lies beside {model_path}, but the model was saved without normalisation statistics "
                f"({manifest_file}): they come from different runs; remove {stray.name}"
            )
        return None
    stats_path = model_path.with_name(manifest.vecnormalize.name)
    if not stats_path.is_file():
        raise InputError(
            f"{stats_path} is missing: {model_path} was trained with normalisation and scores wrongly without its "
            f"statistics ({manifest_file}); copy {stats_path.name} from the folder the model was trained in"
        )
    stats_hash = sha256_file(stats_path)
    if stats_hash != manifest.vecnormalize.sha256:
        raise InputError(
            f"{stats_path} and {model_path} come from different runs: the statistics' sha256 {stats_hash[:12]}... "
            f"is not the {manifest.vecnormalize.sha256[:12]}... recorded in {manifest_file}; put back the "
            f"{stats_path.name} saved with this model (or retrain)"
        )
    return stats_path


def _model_algorithm(model_path: Path, manifest: ModelManifest | None, data: Mapping[str, Any]) -> str | None:
    """The algorithm of a saved model: the manifest's, else the registered algorithm whose policy
    class the zip names; a model of a policy no registered algorithm trains is refused."""
    if manifest is not None:
        return get_algorithm(manifest.algorithm).name
    module, qualified = saved_policy_class(data)
    if module is None:
        return None
    algorithm = algorithm_of_policy(module)
    if algorithm is None:
        raise InputError(
            f"{model_path} is a stable-baselines3 model of {qualified}, a policy no tradebrain algorithm trains "
            "(it loads ppo, sac, dqn and maskable-ppo models); check --model"
        )
    return algorithm.name


def _check_space(what: str, model_path: Path, saved: Any, current: Any) -> None:
    """Refuse an env whose observation (or action) space does not fit the model's."""
    if current is None:
        return
    trained, made = describe_space(saved), describe_space(current)
    if same_space(trained, made):
        return
    config_file = model_path.parent / "config.yaml"
    fix = (
        f"use the config the model was trained with: {config_file} (--config {config_file})"
        if config_file.is_file()
        else "use the config the model was trained with (the config.yaml of its run folder)"
    )
    shape = "of shape " if trained.get("kind") == made.get("kind") == "box" else ""
    raise InputError(
        f"the model {model_path} was trained on {what} {shape}{space_label(trained)}, this config makes "
        f"{space_label(made)}; {fix}"
    )


def _load_statistics(stats_path: Path, model: BaseAlgorithm, model_path: Path) -> VecNormalize:
    """The VecNormalize statistics at `stats_path`, frozen, checked against the model's observations."""
    try:
        with stats_path.open("rb") as handle:
            stats = pickle.load(handle)
    except Exception as error:
        raise InputError(f"{stats_path} is not a VecNormalize file ({type(error).__name__}: {error})") from None
    if not isinstance(stats, VecNormalize):
        raise InputError(f"{stats_path} holds a {type(stats).__name__}, not VecNormalize statistics")
    if stats.norm_obs and not isinstance(stats.obs_rms, dict):
        shape = tuple(np.shape(stats.obs_rms.mean))
        expected = tuple(model.observation_space.shape or ())
        if shape != expected:
            raise InputError(
                f"{stats_path} normalises observations of shape {shape} but {model_path} takes {expected}: "
                "the two files come from different runs; put back the statistics saved with this model"
            )
    stats.training = False
    return stats


def load_trained(
    model_path: Path,
    algo: str | None = None,
    observation_space: Any | None = None,
    action_space: Any | None = None,
) -> TrainedAgent:
    """A saved model with the normalisation it was trained with: its policy normalises observations
    exactly as in training. Every refusal is an InputError naming the file and the fix.

    With a manifest (`model.json`), the model and its `vecnormalize.pkl` must match the checksums it
    records. `algo` None uses the model's own algorithm (the manifest's, or the one the zip's policy
    class names); a given `algo` that differs is refused. `observation_space` / `action_space`, the
    env's, must fit the model's (a config that adds a feature makes longer observations). A model
    saved before manifests loads with the checks its zip allows (algorithm, spaces, statistics' shape).
    """
    model_path = Path(model_path)
    if model_path.is_dir():
        inside = model_path / "model.zip"
        hint = f"; pass --model {inside}" if inside.is_file() else ""
        raise InputError(f"--model {model_path} is a folder, not a model file{hint}")
    if not model_path.is_file():
        raise InputError(f"--model {model_path} does not exist; train one with `tradebrain train <desk>`")
    requested = get_algorithm(algo).name if algo is not None else None
    manifest = read_manifest(model_path)
    data = zip_data(model_path, requested)
    stats_path = _verify_files(model_path, manifest) if manifest is not None else None
    saved = _model_algorithm(model_path, manifest, data)
    if requested is not None and saved is not None and requested != saved:
        raise InputError(
            f"--algo {requested} but {model_path} is a {saved} model; drop --algo or pass --algo {saved} "
            f"(or set train.algo: {saved} in the config)"
        )
    algorithm = saved or requested
    if algorithm is None:
        raise InputError(f"{model_path} does not say which algorithm trained it (no manifest); pass --algo")
    try:
        model = get_algorithm(algorithm).cls.load(str(model_path), device="cpu")
    except Exception as error:  # SB3 raises whatever the zip's contents trigger
        raise InputError(
            f"{model_path} is not a {algorithm} model saved by stable-baselines3 ({type(error).__name__}: {error}); "
            "check --algo (or the config's train.algo) and the file"
        ) from None
    _check_space("observations", model_path, model.observation_space, observation_space)
    _check_space("actions", model_path, model.action_space, action_space)
    if manifest is None:  # saved before manifests: the statistics beside it, unchecked but for their shape
        legacy = model_path.with_name(VEC_NORMALIZE)
        stats_path = legacy if legacy.is_file() else None
    name = algorithm.upper()
    if stats_path is None:
        return TrainedAgent(model, ModelPolicy(model, name), model_path, manifest=manifest)
    stats = _load_statistics(stats_path, model, model_path)
    policy = NormalizedModelPolicy(model, name, stats) if stats.norm_obs else ModelPolicy(model, name)
    return TrainedAgent(model, policy, model_path, stats, manifest)
