"""Export a trained PPO / MaskablePPO actor to plain numpy, for backtests and live trading without torch.

The exported policy is the actor's MLP (Linear layers with one activation) and its action head,
with the VecNormalize observation statistics it was trained with, so `act` returns the very
actions of `model.predict(normalised obs, deterministic=True)` (tests check 10,000 observations).
Written by hand because SB3 exports only to ONNX / TorchScript, both of which need a runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tradebrain.core.errors import InputError
from tradebrain.core.io import atomic_path

Activation = Literal["tanh", "relu"]
Kind = Literal["discrete", "continuous"]
FORMAT_VERSION = 1


def _activate(values: np.ndarray, activation: Activation) -> np.ndarray:
    out: np.ndarray = np.tanh(values) if activation == "tanh" else np.maximum(values, 0.0)
    return out


def _frozen(values: np.ndarray) -> np.ndarray:
    """A read-only float64 copy."""
    out = np.array(values, dtype=np.float64)
    out.flags.writeable = False
    return out


def _frozen_or_none(values: np.ndarray | None) -> np.ndarray | None:
    return None if values is None else _frozen(values)


@dataclass(eq=False)
class ExportedPolicy:
    """An MLP actor in numpy: layer l maps x to act(x @ weights[l] + biases[l]) (weights[l] has shape
    (in, out)); the last layer (the action head) has no activation and gives the logits of a
    discrete policy or the action mean of a continuous one.

    Observations are first normalised as VecNormalize does, clip((obs - obs_mean) /
    sqrt(obs_var + epsilon), -clip_obs, clip_obs), and cast to float32 as SB3 feeds them to torch;
    `obs_mean` None means the model was trained on raw observations. Continuous actions are
    clipped to [`low`, `high`], the action space bounds.

    Not a frozen dataclass only because the `Policy` protocol declares `name` and `action_kind` as
    plain attributes (a frozen field does not satisfy it for mypy); the arrays are made read-only.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: Activation
    obs_mean: np.ndarray | None
    obs_var: np.ndarray | None
    clip_obs: float
    epsilon: float
    kind: Kind
    name: str
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    action_kind: Kind = field(init=False)
    """Equal to `kind`: the name the Policy interface reads."""

    def __post_init__(self) -> None:
        self.weights = tuple(_frozen(weight) for weight in self.weights)
        self.biases = tuple(_frozen(bias) for bias in self.biases)
        self.obs_mean, self.obs_var = _frozen_or_none(self.obs_mean), _frozen_or_none(self.obs_var)
        self.low, self.high = _frozen_or_none(self.low), _frozen_or_none(self.high)
        if not self.weights or len(self.weights) != len(self.biases):
            raise InputError("an exported policy needs as many bias vectors as weight matrices, at least one")
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if weight.ndim != 2 or bias.shape != (weight.shape[1],):
                raise InputError(f"layer {layer}: weights {weight.shape} and biases {bias.shape} do not match")
            if layer and weight.shape[0] != self.weights[layer - 1].shape[1]:
                before = self.weights[layer - 1].shape[1]
                raise InputError(f"layer {layer} takes {weight.shape[0]} inputs but layer {layer - 1} gives {before}")
        if self.activation not in ("tanh", "relu"):
            raise InputError(f"activation must be 'tanh' or 'relu' (got {self.activation!r})")
        if self.kind not in ("discrete", "continuous"):
            raise InputError(f"kind must be 'discrete' or 'continuous' (got {self.kind!r})")
        if (self.obs_mean is None) != (self.obs_var is None):
            raise InputError("obs_mean and obs_var go together: give both (normalised) or neither (raw)")
        if self.kind == "continuous" and (self.low is None or self.high is None):
            raise InputError("a continuous policy needs the action bounds low and high")
        self._check_values()
        self.action_kind = self.kind

    def _check_values(self) -> None:
        """Finite weights and statistics of the right lengths (a corrupt file must not act on NaN)."""
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
                raise InputError(f"layer {layer} holds NaN or infinite weights")
        inputs, outputs = self.weights[0].shape[0], self.weights[-1].shape[1]
        if self.obs_mean is not None and self.obs_var is not None:
            if self.obs_mean.shape != (inputs,) or self.obs_var.shape != (inputs,):
                raise InputError(
                    f"obs_mean {self.obs_mean.shape} and obs_var {self.obs_var.shape} must have the network's "
                    f"{inputs} inputs"
                )
            if not (np.isfinite(self.obs_mean).all() and np.isfinite(self.obs_var).all() and (self.obs_var >= 0).all()):
                raise InputError("obs_mean and obs_var must be finite, and obs_var >= 0")
        for key in ("low", "high"):
            bounds = getattr(self, key)
            if bounds is not None and (bounds.shape != (outputs,) or np.isnan(bounds).any()):
                raise InputError(f"{key} must hold one number per action output ({outputs}), no NaN")

    @property
    def n_inputs(self) -> int:
        """Length of one observation."""
        return int(self.weights[0].shape[0])

    def normalize(self, observations: np.ndarray) -> np.ndarray:
        """Observations as the network sees them (float32), normalised like VecNormalize.normalize_obs."""
        obs = np.asarray(observations, dtype=np.float64)
        if obs.shape[-1:] != (self.n_inputs,):
            raise InputError(f"observations have shape {obs.shape}; the policy takes {self.n_inputs} features each")
        if self.obs_mean is not None and self.obs_var is not None:
            obs = np.clip((obs - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon), -self.clip_obs, self.clip_obs)
        return obs.astype(np.float32)

    def logits(self, observations: np.ndarray) -> np.ndarray:
        """The action head's output (batch, actions): logits (discrete) or action means (continuous)."""
        values = np.atleast_2d(self.normalize(observations)).astype(np.float64)
        last = len(self.weights) - 1
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            values = values @ weight + bias
            if layer < last:
                values = _activate(values, self.activation)
        return values

    def act(self, observations: np.ndarray, action_masks: np.ndarray | None = None) -> np.ndarray:
        """Greedy actions for a batch of observations: argmax of the logits over the allowed actions
        (discrete), or the action mean clipped to the bounds (continuous)."""
        out = self.logits(observations)
        if self.kind == "continuous":
            clipped: np.ndarray = np.clip(out, self.low, self.high).astype(np.float32)
            return clipped
        if action_masks is not None:
            masks = np.asarray(action_masks, dtype=bool).reshape(out.shape)
            if not masks.any(axis=1).all():
                raise InputError("an action mask allows no action; every row needs at least one True")
            out = np.where(masks, out, -np.inf)
        actions: np.ndarray = np.argmax(out, axis=1)
        return actions

    def save(self, path: str | Path) -> Path:
        """Write the policy to an .npz file (no pickle) atomically - a temporary renamed into place, so a
        crash leaves the previous policy, never a truncated one a live node would load; returns the path."""
        path = Path(path)
        arrays: dict[str, Any] = {
            "format_version": np.array(FORMAT_VERSION),
            "activation": np.array(self.activation),
            "kind": np.array(self.kind),
            "name": np.array(self.name),
            "clip_obs": np.array(self.clip_obs),
            "epsilon": np.array(self.epsilon),
            "layers": np.array(len(self.weights)),
        }
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"weight_{layer}"] = weight
            arrays[f"bias_{layer}"] = bias
        for key in ("obs_mean", "obs_var", "low", "high"):
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        with atomic_path(path) as temporary, temporary.open("wb") as handle:
            np.savez(handle, **arrays)  # an open file: numpy appends ".npz" to a path without that suffix
        return path

    @classmethod
    def load(cls, path: str | Path) -> ExportedPolicy:
        """A policy written by `save`; an InputError naming the file for anything else (empty, truncated,
        not an .npz, an .npz of other arrays, a newer format, inconsistent layers)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such exported policy file; write one with ExportedPolicy.save")
        fix = "export it again (`tradebrain train daytrading` writes policy.npz beside model.zip)"
        if path.stat().st_size == 0:
            raise InputError(f"{path} is empty (0 bytes), not an exported policy: {fix}")
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise InputError(f"{path} holds a single array, not an exported policy (.npz): {fix}")
            with data:
                return cls._from_arrays(path, data, fix)
        except InputError:
            raise
        except Exception as error:  # zipfile, numpy and OS errors of a corrupt or foreign file
            raise InputError(
                f"{path} is not a readable exported policy ({type(error).__name__}: {error}): {fix}"
            ) from None

    @classmethod
    def _from_arrays(cls, path: Path, data: Any, fix: str) -> ExportedPolicy:
        """The policy from the arrays of an opened .npz, every key and its type checked."""
        if "format_version" not in data:
            raise InputError(f"{path} is not an exported policy (no format_version array): {fix}")
        version = int(data["format_version"])
        if version != FORMAT_VERSION:
            newer = "; upgrade tradebrain to read it" if version > FORMAT_VERSION else ""
            raise InputError(f"{path} is an exported policy of format version {version}, not {FORMAT_VERSION}{newer}")
        required = ("layers", "activation", "kind", "name", "clip_obs", "epsilon")
        missing = [key for key in required if key not in data]
        layers = int(data["layers"]) if "layers" in data else 0
        missing += [key for layer in range(layers) for key in (f"weight_{layer}", f"bias_{layer}") if key not in data]
        if missing:
            raise InputError(f"{path} lacks the arrays {missing} of an exported policy (truncated?): {fix}")

        def optional(key: str) -> np.ndarray | None:
            return np.array(data[key]) if key in data else None

        return cls(
            weights=tuple(np.array(data[f"weight_{layer}"]) for layer in range(layers)),
            biases=tuple(np.array(data[f"bias_{layer}"]) for layer in range(layers)),
            activation=str(data["activation"]),  # type: ignore[arg-type]  # checked in __post_init__
            obs_mean=optional("obs_mean"),
            obs_var=optional("obs_var"),
            clip_obs=float(data["clip_obs"]),
            epsilon=float(data["epsilon"]),
            kind=str(data["kind"]),  # type: ignore[arg-type]  # checked in __post_init__
            name=str(data["name"]),
            low=optional("low"),
            high=optional("high"),
        )


def _layers(policy: Any) -> tuple[list[Any], Activation]:
    """The Linear layers of the actor's MLP and its one activation; InputError for anything else."""
    import torch.nn as nn
    from stable_baselines3.common.torch_layers import FlattenExtractor, MlpExtractor

    mlp = getattr(policy, "mlp_extractor", None)
    if not isinstance(mlp, MlpExtractor) or not isinstance(getattr(policy, "action_net", None), nn.Linear):
        raise InputError(
            "only an actor-critic MlpPolicy (MlpExtractor + Linear action_net, as PPO and MaskablePPO use) "
            f"can be exported (got {type(policy).__name__})"
        )
    extractor = getattr(policy, "pi_features_extractor", None) or getattr(policy, "features_extractor", None)
    if not isinstance(extractor, FlattenExtractor):
        raise InputError(
            f"only an MlpPolicy with a Flatten features extractor can be exported (got {type(extractor).__name__})"
        )
    if getattr(policy, "squash_output", False):
        raise InputError("a policy with squashed (tanh) outputs cannot be exported; train with squash_output=False")
    linears: list[Any] = []
    activations: set[str] = set()
    for module in mlp.policy_net:
        if isinstance(module, nn.Linear):
            linears.append(module)
        elif isinstance(module, nn.Tanh):
            activations.add("tanh")
        elif isinstance(module, nn.ReLU):
            activations.add("relu")
        else:
            raise InputError(f"the actor holds a {type(module).__name__} layer; only Linear, Tanh and ReLU export")
    if len(activations) > 1:
        raise InputError(f"the actor mixes activations {sorted(activations)}; only one kind exports")
    activation: Activation = "relu" if activations == {"relu"} else "tanh"
    return [*linears, policy.action_net], activation


def export_policy(model: Any, vec_normalize: Any | None, name: str) -> ExportedPolicy:
    """The numpy twin of an SB3 PPO or sb3-contrib MaskablePPO model's actor, with the observation
    statistics of `vec_normalize` (None, or a VecNormalize with norm_obs False: raw observations)."""
    from gymnasium import spaces

    policy = model.policy
    linears, activation = _layers(policy)
    weights = tuple(layer.weight.detach().cpu().numpy().astype(np.float64).T.copy() for layer in linears)
    biases = tuple(layer.bias.detach().cpu().numpy().astype(np.float64).copy() for layer in linears)
    action_space = model.action_space
    low = high = None
    if isinstance(action_space, spaces.Discrete):
        kind: Kind = "discrete"
    elif isinstance(action_space, spaces.Box):
        kind = "continuous"
        low, high = np.asarray(action_space.low, dtype=np.float64), np.asarray(action_space.high, dtype=np.float64)
    else:
        raise InputError(f"only Discrete and Box action spaces export (got {type(action_space).__name__})")
    observation_space = model.observation_space
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise InputError(f"only flat (1-d) Box observation spaces export (got {observation_space})")
    obs_mean = obs_var = None
    clip_obs, epsilon = 10.0, 1e-8
    if vec_normalize is not None and vec_normalize.norm_obs:
        if isinstance(vec_normalize.obs_rms, dict):
            raise InputError("dict observations cannot be exported; use a Box observation space")
        obs_mean = np.array(vec_normalize.obs_rms.mean, dtype=np.float64)
        obs_var = np.array(vec_normalize.obs_rms.var, dtype=np.float64)
        clip_obs, epsilon = float(vec_normalize.clip_obs), float(vec_normalize.epsilon)
    return ExportedPolicy(weights, biases, activation, obs_mean, obs_var, clip_obs, epsilon, kind, name, low, high)
