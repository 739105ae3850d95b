"""Algorithm registry over stable-baselines3: name -> class, the action spaces it supports, defaults,
the hyperparameters its constructor takes (with their valid ranges), and the policy classes that
identify a saved model of it."""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm

from tradebrain.core.errors import ConfigError
from tradebrain.rl.double_dqn import DoubleDQN
from tradebrain.rl.policy import ActionKind

SET_BY_TRAINING: Mapping[str, str] = {
    "policy": "tradebrain trains an MlpPolicy",
    "env": "the desk builds the env",
    "seed": "set train.seed instead",
    "device": "tradebrain trains on the CPU",
    "verbose": "the progress bar reports training",
    "policy_kwargs": "set train.net_arch for the layer widths",
    "n_envs": "set train.n_envs instead",
    "net_arch": "set train.net_arch instead",
    "_init_setup_model": "it is internal to stable-baselines3",
}
"""Constructor arguments (and common mistakes) that `train.hyperparams` must not set, with what to do instead."""

NOT_SCALAR = frozenset(
    {"rollout_buffer_class", "rollout_buffer_kwargs", "replay_buffer_class", "replay_buffer_kwargs", "action_noise"}
)
"""Constructor arguments that take objects, which a YAML number, string or flag cannot express."""


@dataclass(frozen=True)
class Bound:
    """The valid values of a numeric hyperparameter: an integer or a real number in an interval."""

    kind: Literal["int", "float"]
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    also: tuple[float, ...] = ()
    """Values allowed outside the interval (gradient_steps = -1: as many as env steps)."""

    def describe(self) -> str:
        """The interval in words: '> 0', 'in (0, 1]', '>= 1 (or -1)'."""
        if math.isinf(self.high):
            text = f"{'>' if self.low_open else '>='} {self.low:g}"
        else:
            text = f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.also:
            text += " (or " + ", ".join(f"{value:g}" for value in self.also) + ")"
        return ("an integer " if self.kind == "int" else "a number ") + text

    def admits(self, value: float) -> bool:
        """Whether `value` lies in the interval (or is one of `also`)."""
        if value in self.also:
            return True
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


BOUNDS: Mapping[str, Bound] = {
    "learning_rate": Bound("float", 0.0, low_open=True),
    "gamma": Bound("float", 0.0, 1.0, low_open=True),
    "gae_lambda": Bound("float", 0.0, 1.0),
    "n_steps": Bound("int", 1),
    "batch_size": Bound("int", 1),
    "n_epochs": Bound("int", 1),
    "ent_coef": Bound("float", 0.0),
    "vf_coef": Bound("float", 0.0),
    "clip_range": Bound("float", 0.0, low_open=True),
    "clip_range_vf": Bound("float", 0.0, low_open=True),
    "max_grad_norm": Bound("float", 0.0, low_open=True),
    "target_kl": Bound("float", 0.0, low_open=True),
    "buffer_size": Bound("int", 1),
    "learning_starts": Bound("int", 0),
    "tau": Bound("float", 0.0, 1.0, low_open=True),
    "train_freq": Bound("int", 1),
    "gradient_steps": Bound("int", 1, also=(-1,)),
    "target_update_interval": Bound("int", 1),
    "exploration_fraction": Bound("float", 0.0, 1.0),
    "exploration_initial_eps": Bound("float", 0.0, 1.0),
    "exploration_final_eps": Bound("float", 0.0, 1.0),
    "sde_sample_freq": Bound("int", -1),
    "stats_window_size": Bound("int", 1),
}
"""Known numeric ranges of stable-baselines3 hyperparameters; a value outside fails at config load,
not deep in training (a negative learning rate trains happily and learns nothing)."""

ALGORITHM_BOUNDS: Mapping[tuple[str, str], Bound] = {
    ("ppo", "batch_size"): Bound("int", 2),
    ("maskable-ppo", "batch_size"): Bound("int", 2),
}
"""Ranges that differ by algorithm: PPO normalises advantages over a minibatch, which needs two samples."""

AUTO_ALLOWED = frozenset({"ent_coef", "target_entropy"})
"""Hyperparameters that also take 'auto' (SAC's learned entropy coefficient: 'auto' or 'auto_0.1')."""


@dataclass(frozen=True)
class Algorithm:
    """An RL algorithm the platform can train."""

    name: str
    cls: type[BaseAlgorithm]
    action_kinds: tuple[ActionKind, ...]
    defaults: dict[str, Any] = field(default_factory=dict)

    def check_action_kind(self, kind: ActionKind) -> None:
        """Reject an env whose action space this algorithm cannot drive."""
        if kind not in self.action_kinds:
            options = " or ".join(self.action_kinds)
            raise ConfigError(f"algorithm '{self.name}' needs {options} actions; set action: {self.action_kinds[0]}")

    @property
    def hyperparameters(self) -> tuple[str, ...]:
        """The constructor's keyword arguments a config may set (sorted): its signature minus what
        training sets itself and what a YAML scalar cannot express."""
        names = inspect.signature(self.cls.__init__).parameters
        return tuple(sorted(name for name in names if name not in {"self", *SET_BY_TRAINING, *NOT_SCALAR}))

    @property
    def policy_modules(self) -> frozenset[str]:
        """Modules of this algorithm's policy classes: a saved model's `policy_class` names one, which
        tells the algorithm of a model.zip without loading it (PPO and MaskablePPO differ here)."""
        return frozenset(policy.__module__ for policy in self.cls.policy_aliases.values())

    def check_hyperparams(self, params: Mapping[str, Any], where: str = "train.hyperparams") -> dict[str, Any]:
        """`params` checked against the constructor and the known ranges, numbers given as strings
        (YAML reads `3e-4` as a string) converted; a ConfigError lists every problem, naming the key."""
        valid = self.hyperparameters
        problems: list[str] = []
        checked: dict[str, Any] = {}
        for key, value in params.items():
            if key in SET_BY_TRAINING:
                problems.append(f"{where} may not set '{key}': {SET_BY_TRAINING[key]}")
            elif key not in valid:
                close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                problems.append(f"'{key}' is not a {self.name} hyperparameter{hint} (valid: {', '.join(valid)})")
            else:
                problem, checked[key] = _checked_value(self.name, key, value)
                if problem:
                    problems.append(problem)
        if problems:
            raise ConfigError("; ".join(problems))
        return checked


def _checked_value(algorithm: str, key: str, value: Any) -> tuple[str | None, Any]:
    """(a problem or None, the value converted to its number type) for one hyperparameter."""
    bound = ALGORITHM_BOUNDS.get((algorithm, key), BOUNDS.get(key))
    if bound is None:
        return None, value
    if isinstance(value, str) and key in AUTO_ALLOWED and value.startswith("auto") and algorithm == "sac":
        return None, value
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    auto = " or 'auto'" if key in AUTO_ALLOWED and algorithm == "sac" else ""
    if number is None or not math.isfinite(number):
        return f"'{key}' must be {bound.describe()}{auto} (got {value!r})", value
    if bound.kind == "int" and not number.is_integer():
        return f"'{key}' must be {bound.describe()} (got {value!r})", value
    if not bound.admits(number):
        return f"'{key}' must be {bound.describe()} (got {value!r})", value
    return None, int(number) if bound.kind == "int" else number


ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm("ppo", PPO, ("continuous", "discrete")),
    "sac": Algorithm("sac", SAC, ("continuous",)),
    "dqn": Algorithm("dqn", DoubleDQN, ("discrete",)),
    # PPO that samples only the actions the env's `action_masks()` allows (sb3-contrib)
    "maskable-ppo": Algorithm("maskable-ppo", MaskablePPO, ("discrete",)),
}


def get_algorithm(name: str) -> Algorithm:
    """The registered algorithm called `name`, or a ConfigError suggesting the closest one."""
    key = name.lower()
    if key not in ALGORITHMS:
        close = difflib.get_close_matches(key, list(ALGORITHMS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown algorithm '{name}'{hint} (known: {', '.join(ALGORITHMS)})")
    return ALGORITHMS[key]


def algorithm_of_policy(module: str) -> Algorithm | None:
    """The registered algorithm whose policy classes live in `module` (a saved model's
    `policy_class.__module__`), or None for a model no registered algorithm trains."""
    for algorithm in ALGORITHMS.values():
        if module in algorithm.policy_modules:
            return algorithm
    return None


def load_model(path: str, algorithm: str) -> BaseAlgorithm:
    """A saved model of the named algorithm, on the CPU."""
    return get_algorithm(algorithm).cls.load(path, device="cpu")
