"""Env speed: steps/s of the execution and market-making envs and their batched twins vs gym-anytrading's
`stocks-v0`.

Why: the execution env must be at least as fast as the reference Python trading env one episode at
a time, and at least 30x faster batched (`ExecutionVecEnv`), or training is env-bound. Every case is
warmed up (numba compiles on first call), then timed for `seconds` with `time.perf_counter`; the
repeats are interleaved across cases so that load from other processes hits them alike, and the
median is reported.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

import tradebrain  # noqa: F401  (registers tradebrain/Execution-v0)
from benchmarks.timing import Runner, median, rate, warm_up
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.vec_env import ExecutionVecEnv
from tradebrain.desks.market_making.vec_env import MarketMakingVecEnv

REFERENCE_ID = "stocks-v0"
MARKET_MAKING_ID = "tradebrain/MarketMaking-v0"
FINE_STEPS = 50
SINGLE_TARGET = 1.0
BATCHED_TARGET = 30.0
ACTIONS = 4096  # pre-sampled actions, cycled (a power of two)


@dataclass(frozen=True)
class Case:
    """One timed configuration: a key, a label for tables, and how to build its runner."""

    key: str
    label: str
    build: Callable[[], Runner]
    calls_per_check: int


@dataclass(frozen=True)
class SpeedRow:
    """Median env steps/s of one case over its repeats."""

    key: str
    label: str
    steps_per_s: float
    repeats: list[float]


@dataclass(frozen=True)
class Ratio:
    """A speed ratio against the reference env, and whether it meets its target."""

    label: str
    numerator: str
    denominator: str
    value: float
    target: float
    passed: bool


@dataclass(frozen=True)
class SpeedResult:
    """Every row and ratio, with the timing settings that produced them."""

    seconds: float
    repeats: int
    num_envs: int
    rows: list[SpeedRow]
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def single_runner(env: gym.Env[Any, Any], seed: int = 0) -> Runner:
    """Step one env with pre-sampled random actions, resetting when an episode ends."""
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(ACTIONS)]
    env.reset(seed=seed)
    state = {"i": 0}

    def run(calls: int) -> int:
        step, reset, i = env.step, env.reset, state["i"]
        for _ in range(calls):
            _, _, terminated, truncated, _ = step(actions[i])
            i = (i + 1) & (ACTIONS - 1)
            if terminated or truncated:
                reset()
        state["i"] = i
        return calls

    return run


def vec_runner(make: Callable[[], VecEnv], seed: int = 0) -> Runner:
    """Step every episode of the VecEnv with one fixed random action array (auto reset inside)."""
    venv = make()
    venv.action_space.seed(seed)
    actions = np.stack([venv.action_space.sample() for _ in range(venv.num_envs)])
    venv.seed(seed)
    venv.reset()

    def run(calls: int) -> int:
        for _ in range(calls):
            venv.step_async(actions)
            venv.step_wait()
        return calls * venv.num_envs

    return run


def reference_available() -> bool:
    """gym-anytrading (the `bench` extra) is installed."""
    return importlib.util.find_spec("gym_anytrading") is not None


def make_reference(unwrapped: bool) -> gym.Env[Any, Any]:
    """gym-anytrading's `stocks-v0` (daily GOOGL), through gym.make or unwrapped."""
    import gym_anytrading  # noqa: F401  (registers stocks-v0)

    env = gym.make(REFERENCE_ID)
    return env.unwrapped if unwrapped else env


def make_execution(config: ExecutionEnvConfig, unwrapped: bool) -> gym.Env[Any, Any]:
    """`tradebrain/Execution-v0` through gym.make (its default wrappers) or unwrapped."""
    env = gym.make("tradebrain/Execution-v0", config=config)
    return env.unwrapped if unwrapped else env


def _single(make: Callable[[], gym.Env[Any, Any]]) -> Callable[[], Runner]:
    return lambda: single_runner(make())


def cases(num_envs: int) -> list[Case]:
    """The execution env (default and fine grid) single, unwrapped and batched, and the reference."""
    fine = ExecutionEnvConfig.model_validate({"task": {"steps": FINE_STEPS}})
    made: list[Case] = []
    for suffix, label, config in (("", "", ExecutionEnvConfig()), ("_fine", f" steps={FINE_STEPS}", fine)):
        made += [
            Case(f"execution{suffix}", f"Execution-v0{label} (gym.make)",
                 _single(partial(make_execution, config, False)), 256),
            Case(f"execution{suffix}_unwrapped", f"Execution-v0{label} (unwrapped)",
                 _single(partial(make_execution, config, True)), 256),
            Case(f"execution{suffix}_vec", f"ExecutionVecEnv({num_envs}){label}",
                 partial(vec_runner, partial(ExecutionVecEnv, config, num_envs)), 8),
        ]  # fmt: skip
    made += [
        Case("market_making", "MarketMaking-v0 (gym.make)", _single(partial(gym.make, MARKET_MAKING_ID)), 256),
        Case("market_making_unwrapped", "MarketMaking-v0 (unwrapped)",
             _single(lambda: gym.make(MARKET_MAKING_ID).unwrapped), 256),
        Case("market_making_vec", f"MarketMakingVecEnv({num_envs})",
             partial(vec_runner, partial(MarketMakingVecEnv, None, num_envs)), 8),
    ]  # fmt: skip
    if reference_available():
        for suffix, unwrapped in (("", False), ("_unwrapped", True)):
            how = "unwrapped" if unwrapped else "gym.make"
            made.append(
                Case(
                    f"stocks{suffix}",
                    f"{REFERENCE_ID} ({how})",
                    _single(partial(make_reference, unwrapped)),
                    256,
                )
            )
    return made


RATIOS: tuple[tuple[str, str, str, float], ...] = (
    ("single vs reference, gym.make", "execution", "stocks", SINGLE_TARGET),
    ("single vs reference, unwrapped", "execution_unwrapped", "stocks_unwrapped", SINGLE_TARGET),
    ("batched vs reference, gym.make", "execution_vec", "stocks", BATCHED_TARGET),
    ("batched vs reference, unwrapped", "execution_vec", "stocks_unwrapped", BATCHED_TARGET),
    (f"steps={FINE_STEPS} single vs reference, gym.make", "execution_fine", "stocks", SINGLE_TARGET),
    (
        f"steps={FINE_STEPS} single vs reference, unwrapped",
        "execution_fine_unwrapped",
        "stocks_unwrapped",
        SINGLE_TARGET,
    ),
    (f"steps={FINE_STEPS} batched vs reference, gym.make", "execution_fine_vec", "stocks", BATCHED_TARGET),
    (
        f"steps={FINE_STEPS} batched vs reference, unwrapped",
        "execution_fine_vec",
        "stocks_unwrapped",
        BATCHED_TARGET,
    ),
)


def run_speed(
    seconds: float = 2.5,
    repeats: int = 3,
    num_envs: int = 1024,
    warmup_seconds: float | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> SpeedResult:
    """Time every case `repeats` times for `seconds` each (interleaved) and compute the ratios."""
    notify = on_progress or (lambda _message: None)
    warmup = min(seconds, 0.5) if warmup_seconds is None else warmup_seconds
    built: list[tuple[Case, Runner]] = []
    for case in cases(num_envs):
        notify(f"warming up {case.label}")
        runner = case.build()
        with warnings.catch_warnings():  # stocks-v0 returns views; gymnasium's checker warns once
            warnings.filterwarnings("ignore", message=".*share an object", category=UserWarning)
            warm_up(runner, warmup, case.calls_per_check)
        built.append((case, runner))
    samples: dict[str, list[float]] = {case.key: [] for case, _ in built}
    for repeat in range(repeats):
        for case, runner in built:
            notify(f"repeat {repeat + 1}/{repeats}: {case.label}")
            samples[case.key].append(rate(runner, seconds, case.calls_per_check))
    rows = [SpeedRow(case.key, case.label, median(samples[case.key]), samples[case.key]) for case, _ in built]
    by_key = {row.key: row.steps_per_s for row in rows}
    ratios = [
        Ratio(label, top, bottom, by_key[top] / by_key[bottom], target, by_key[top] / by_key[bottom] >= target)
        for label, top, bottom, target in RATIOS
        if top in by_key and bottom in by_key
    ]
    notes = (
        [
            f"{REFERENCE_ID} returns a view of its feature array as the observation (no copy; gymnasium's "
            "passive checker warns that observations share an object); Execution-v0 returns a fresh copy"
        ]
        if reference_available()
        else ["gym-anytrading (the bench extra) is not installed: no reference rows or ratios"]
    )
    return SpeedResult(seconds, repeats, num_envs, rows, ratios, notes)
