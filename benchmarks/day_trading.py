"""Day-trading desk benchmarks: the cost of one live decision, and MaskablePPO vs PPO-with-penalty.

"daytrading-latency": a small MaskablePPO (normalised observations) is trained on the first 30
sessions of the real 1-minute sample and exported to numpy; then 10,000 live-style decisions are
timed one by one: the full `DecisionPath.step` (streaming features of the newest bar, observation,
mask, forward pass, order, risk gate), the streaming features alone, the exported forward pass
alone, and stable-baselines3's `model.predict(obs, action_masks=mask, deterministic=True)` on the
same (already normalised) observation. Target: predict's p99 at least 5x the decision's p99. The
exported policy's actions are compared with predict's on all 10,000 observations (mismatches: 0).

"daytrading-learning": MaskablePPO (invalid actions masked) and PPO (invalid actions cost a
penalty and act as hold) train with the desk's hyperparameters on the same 30 sessions with the
same budget, over several seeds; we record the raw (un-normalised) return of every finished
episode (one session; counted over the 8 parallel envs in the order they finish, through a
VecEnv wrapper because `train_agent` takes no callback) and report the episodes until the
rolling mean return (over `window` episodes) first turns positive, censored at the budget (seeds
that never got there are counted, and enter the mean at the censoring value, so the mean is a
lower bound then), with a 95% bootstrap CI over seeds, and the final rolling mean. PPO's episode
return includes its penalties: it is the reward that algorithm learns from. The env uses the
desk's default costs (no commission), where untrained trading averages about 0 and a rolling mean
can cross 0 by chance: the final rolling mean (last `window` episodes) shows whether it lasted.
"""

from __future__ import annotations

import concurrent.futures
import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from benchmarks.paths import ROOT
from benchmarks.report import verdict
from tradebrain.backtest.bootstrap import Estimate, bootstrap, mean
from tradebrain.data.sources.files import read_bars_csv
from tradebrain.data.streaming import StreamingFeatures
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay, trading_days
from tradebrain.desks.day_trading.decision import DecisionPath, FastDiscretePolicy
from tradebrain.desks.day_trading.study import DayTradingDeskConfig, algorithm_defaults
from tradebrain.desks.day_trading.vec import make_vec_env
from tradebrain.risk.gate import RiskGate
from tradebrain.risk.limits import RiskLimits
from tradebrain.rl.export import export_policy
from tradebrain.rl.training import TrainConfig, train_agent

SAMPLE = ROOT.parent / "shared" / "data" / "index-future-1min-2006.csv"
TRAIN_SESSIONS = 30
LATENCY_TARGET = 5.0
Notify = Callable[[str], None]


def _quiet(_: str) -> None:
    """No progress output."""


@functools.cache
def sample_bars(path: Path = SAMPLE) -> pd.DataFrame:
    """The real 1-minute sample (validated bars of one index future)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the real 1-minute sample is missing; see ../shared/data/README.md")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the header names one column fewer than the rows
        return read_bars_csv(path, "FUT")


# ----------------------------------------------------------------------------------------- latency
@dataclass(frozen=True)
class LatencyRow:
    """Per-call latency of one path over `calls` calls, in microseconds."""

    path: str
    calls: int
    p50_us: float
    p99_us: float
    mean_us: float


@dataclass(frozen=True)
class LatencyResult:
    """The latency rows, the target ratio predict p99 / decision p99 and the action check."""

    rows: list[LatencyRow]
    ratio: float
    target: float
    passed: bool
    mismatches: int
    compared: int
    train_timesteps: int


def _row(path: str, nanoseconds: list[int]) -> LatencyRow:
    micro = np.array(nanoseconds, dtype=float) / 1e3
    return LatencyRow(
        path, len(micro), float(np.percentile(micro, 50)), float(np.percentile(micro, 99)), float(micro.mean())
    )


def _drive(
    path: DecisionPath, stamps: list[pd.Timestamp], rows: list[list[float]], starts: dict[pd.Timestamp, int], limit: int
) -> tuple[list[int], list[np.ndarray], list[np.ndarray], list[int]]:
    """Step `path` through the bars (a session at every trading day, fills at the close) until
    `limit` decisions; each decision's step time in ns, its observation, mask and action."""
    clock = time.perf_counter_ns
    elapsed_ns: list[int] = []
    observations, masks, actions = [], [], []
    for stamp, row in zip(stamps, rows, strict=True):
        if stamp in starts:
            path.start_session(starts[stamp])
        start = clock()
        decision = path.step(stamp, row[0], row[1], row[2], row[3], row[4])
        elapsed = clock() - start
        if decision is None:
            continue
        elapsed_ns.append(elapsed)
        observations.append(decision.observation)
        masks.append(decision.mask)
        actions.append(decision.action)
        if decision.order is not None:
            path.record_fill(decision.order.quantity, row[3])
        if len(elapsed_ns) >= limit:
            break
    return elapsed_ns, observations, masks, actions


def run_latency(train_timesteps: int, decisions: int = 10_000, on_progress: Notify = _quiet) -> LatencyResult:
    """Train and export a small MaskablePPO, then time `decisions` decisions on every path."""
    import torch

    torch.set_num_threads(1)
    bars = sample_bars()
    config = DayTradingEnvConfig(commission=0.0001)
    days = trading_days(bars, config)
    on_progress(f"training MaskablePPO for {train_timesteps:,} steps")
    train = TrainConfig(
        algo="maskable-ppo", timesteps=train_timesteps, n_envs=4, seed=0, normalize_obs=True, net_arch=(64, 64)
    )
    tiny = {"n_steps": 256, "batch_size": 256, "n_epochs": 4}
    agent = train_agent(
        lambda n: make_vec_env(days[:TRAIN_SESSIONS], config, n, seed=0), "discrete", train, tiny, progress=False
    )
    assert agent.vec_normalize is not None
    exported = export_policy(agent.model, agent.vec_normalize, "maskable-ppo")
    limits = RiskLimits(max_position_pct=1.0, max_drawdown_pct=0.5)
    starts = {day.timestamps[0]: day.bars for day in days}
    stamps = list(bars["timestamp"])
    columns = [bars[name].to_numpy() for name in ("open", "high", "low", "close", "volume")]
    rows = [[float(column[i]) for column in columns] for i in range(len(bars))]
    on_progress("warming up (the gate's compiled rules load on first use)")
    _drive(DecisionPath(exported, "FUT", config, gate=RiskGate(limits)), stamps, rows, starts, 2_000)
    on_progress(f"timing {decisions:,} decisions")
    path = DecisionPath(exported, "FUT", config, gate=RiskGate(limits))
    decision_ns, observations, masks, actions = _drive(path, stamps, rows, starts, decisions)
    clock = time.perf_counter_ns
    features_ns = []
    streaming = StreamingFeatures(config.features)
    for stamp, row in zip(stamps[: len(decision_ns)], rows, strict=False):
        start = clock()
        streaming.update(stamp, row[0], row[1], row[2], row[3], row[4])
        features_ns.append(clock() - start)
    fast = FastDiscretePolicy(exported)
    model: Any = agent.model  # MaskablePPO: its predict takes action_masks
    forward_ns, batch_api_ns, predict_ns = [], [], []
    predicted = []
    normalised = agent.vec_normalize.normalize_obs(np.array(observations))
    on_progress("timing the forward passes and model.predict")
    for obs, mask in zip(observations, masks, strict=True):  # each path in its own loop: warm caches for all
        start = clock()
        fast.act(obs, mask)
        forward_ns.append(clock() - start)
    for obs, mask in zip(observations, masks, strict=True):
        start = clock()
        exported.act(obs, mask)
        batch_api_ns.append(clock() - start)
    for norm, mask in zip(normalised, masks, strict=True):
        start = clock()
        action, _ = model.predict(norm, action_masks=mask, deterministic=True)
        predict_ns.append(clock() - start)
        predicted.append(int(action))
    mismatches = int(np.sum(np.array(predicted) != np.array(actions)))
    table = [
        _row("decision: streaming features + obs + mask + forward + gate", decision_ns),
        _row("streaming features only (21 features)", features_ns),
        _row("forward pass only (exported, single obs)", forward_ns),
        _row("ExportedPolicy.act (batch API, 1 obs)", batch_api_ns),
        _row("SB3 model.predict (same model, 1 obs)", predict_ns),
    ]
    ratio = table[-1].p99_us / table[0].p99_us
    return LatencyResult(
        table, ratio, LATENCY_TARGET, ratio >= LATENCY_TARGET, mismatches, len(actions), train_timesteps
    )


# ---------------------------------------------------------------------------------------- learning
class EpisodeReturns(VecEnvWrapper):
    """Records the raw return of every finished episode (the VecMonitor bookkeeping, read directly):
    the learning curve in episodes, before any reward normalisation."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.running = np.zeros(venv.num_envs)
        self.returns: list[float] = []

    def reset(self) -> Any:
        """Reset every env and the running sums."""
        self.running[:] = 0.0
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        """Add the rewards; log and restart the sums of the finished episodes."""
        obs, rewards, dones, infos = self.venv.step_wait()
        self.running += rewards
        for index in np.flatnonzero(dones):
            self.returns.append(float(self.running[index]))
            self.running[index] = 0.0
        return obs, rewards, dones, infos


@dataclass(frozen=True)
class SeedCurve:
    """One training run: the episodes until the rolling mean return first turned positive (None:
    never within the budget), how many episodes finished, and the final rolling mean."""

    algo: str
    seed: int
    episodes_to_positive: int | None
    episodes: int
    final_mean: float
    seconds: float


@dataclass(frozen=True)
class LearningRow:
    """One algorithm over the seeds."""

    algo: str
    seeds: int
    reached: int
    episodes_to_positive: Estimate
    final_mean: Estimate
    curves: list[SeedCurve]


@dataclass(frozen=True)
class LearningResult:
    """Both algorithms, the budget and which learned faster."""

    rows: list[LearningRow]
    timesteps: int
    window: int
    faster: str


def episodes_to_positive(returns: list[float], window: int) -> int | None:
    """The number of episodes after which the mean of the last `window` returns is first > 0."""
    values = np.asarray(returns, dtype=float)
    if len(values) < window:
        return None
    rolling = np.convolve(values, np.ones(window) / window, mode="valid")
    positive = np.flatnonzero(rolling > 0)
    return int(positive[0]) + window if len(positive) else None


def _train_curve(algo: str, seed: int, timesteps: int, window: int) -> SeedCurve:
    """Train one algorithm on the first 30 sessions and read its learning curve."""
    import torch

    torch.set_num_threads(1)
    invalid = "mask" if algo == "maskable-ppo" else "penalty"
    env_config = DayTradingEnvConfig(invalid_action=invalid)
    days: list[TradingDay] = trading_days(sample_bars(), env_config)[:TRAIN_SESSIONS]
    recorders: list[EpisodeReturns] = []

    def make(n: int) -> VecEnv:
        recorder = EpisodeReturns(make_vec_env(days, env_config, n, seed))
        recorders.append(recorder)
        return recorder

    train = TrainConfig(algo=algo, timesteps=timesteps, seed=seed, normalize_obs=True)
    start = time.perf_counter()
    train_agent(make, "discrete", train, algorithm_defaults(DayTradingDeskConfig()), progress=False)
    returns = recorders[-1].returns
    final = float(np.mean(returns[-window:])) if returns else float("nan")
    return SeedCurve(
        algo, seed, episodes_to_positive(returns, window), len(returns), final, time.perf_counter() - start
    )


def run_learning(
    seeds: tuple[int, ...], timesteps: int, window: int = 20, workers: int = 2, on_progress: Notify = _quiet
) -> LearningResult:
    """MaskablePPO vs PPO-with-penalty, `timesteps` each per seed, `workers` trainings at a time."""
    jobs = [(algo, seed) for seed in seeds for algo in ("maskable-ppo", "ppo")]
    curves: list[SeedCurve] = []
    on_progress(f"{len(jobs)} trainings of {timesteps:,} steps on {workers} worker(s)")
    if workers > 1:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(_train_curve, algo, seed, timesteps, window) for algo, seed in jobs]
            for future in concurrent.futures.as_completed(futures):
                curves.append(future.result())
                on_progress(f"{len(curves)}/{len(jobs)} trainings done")
    else:
        for algo, seed in jobs:
            curves.append(_train_curve(algo, seed, timesteps, window))
            on_progress(f"{len(curves)}/{len(jobs)} trainings done")
    rows = []
    for algo in ("maskable-ppo", "ppo"):
        mine = sorted((curve for curve in curves if curve.algo == algo), key=lambda curve: curve.seed)
        # censored runs count as the episodes they ran (a lower bound on their true value)
        reached = [c.episodes_to_positive if c.episodes_to_positive is not None else c.episodes for c in mine]
        rows.append(
            LearningRow(
                algo,
                len(mine),
                sum(c.episodes_to_positive is not None for c in mine),
                bootstrap(mean, np.array(reached, dtype=float), seed=0),
                bootstrap(mean, np.array([c.final_mean for c in mine]), seed=0),
                mine,
            )
        )
    return LearningResult(rows, timesteps, window, _faster(rows))


def _faster(rows: list[LearningRow]) -> str:
    """Which algorithm reached a positive rolling mean in fewer episodes, and how sure we are."""
    masked, penalty = rows
    if masked.reached == penalty.reached == 0:
        return "neither reached a positive rolling mean within the budget"
    if masked.reached != penalty.reached and (masked.reached == 0 or penalty.reached == 0):
        winner = masked if masked.reached > penalty.reached else penalty
        return f"{winner.algo} (the only one to reach a positive rolling mean)"
    a, b = masked.episodes_to_positive, penalty.episodes_to_positive
    winner = masked if a.value < b.value else penalty
    separated = a.high < b.low or b.high < a.low
    certainty = "CIs do not overlap" if separated else "CIs overlap: not significant"
    return f"{winner.algo} ({certainty})"


# ------------------------------------------------------------------------------------- presentation
def _fmt(estimate: Estimate, digits: int = 0) -> str:
    return f"{estimate.value:,.{digits}f} [{estimate.low:,.{digits}f}, {estimate.high:,.{digits}f}]"


def latency_table(result: LatencyResult) -> Table:
    """p50/p99 per path and the ratio against the target."""
    caption = (
        f"model.predict p99 / decision p99 = {result.ratio:.1f}x (target >= {result.target:g}x) "
        f"{verdict(result.passed)}; exported vs SB3 actions: {result.mismatches} mismatches in {result.compared:,}"
    )
    table = Table(title="Day-trading decision latency (µs per call)", caption=caption)
    for column in ("path", "calls", "p50 µs", "p99 µs", "mean µs"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for row in result.rows:
        table.add_row(row.path, f"{row.calls:,}", f"{row.p50_us:.1f}", f"{row.p99_us:.1f}", f"{row.mean_us:.1f}")
    return table


def latency_markdown(result: LatencyResult) -> str:
    """The latency table as markdown."""
    lines = ["", "## Day-trading decision latency (µs per call)", ""]
    lines += ["| path | calls | p50 µs | p99 µs | mean µs |", "|---|---|---|---|---|"]
    lines += [f"| {r.path} | {r.calls:,} | {r.p50_us:.1f} | {r.p99_us:.1f} | {r.mean_us:.1f} |" for r in result.rows]
    lines += [
        "",
        f"model.predict p99 / decision p99 = {result.ratio:.1f}x (target >= {result.target:g}x): "
        f"{verdict(result.passed, markup=False)}. Exported vs SB3 actions: {result.mismatches} mismatches in "
        f"{result.compared:,} observations. MaskablePPO trained {result.train_timesteps:,} steps.",
    ]
    return "\n".join(lines) + "\n"


def learning_table(result: LearningResult) -> Table:
    """Episodes to a positive rolling mean per algorithm, with CIs."""
    caption = f"faster: {result.faster}"
    title = (
        f"MaskablePPO vs PPO-with-penalty: {result.timesteps:,} steps per seed, "
        f"episodes until the {result.window}-episode mean return > 0"
    )
    table = Table(title=title, caption=caption)
    for column in ("algorithm", "seeds reached / run", "episodes to > 0 [95% CI]", "final mean return % [95% CI]",
                   "per seed (episodes to > 0 / run)"):  # fmt: skip
        table.add_column(column, justify="left" if column == "algorithm" else "right")
    for row in result.rows:
        table.add_row(*_learning_cells(row))
    return table


def _learning_cells(row: LearningRow) -> list[str]:
    per_seed = ", ".join(
        f"{c.episodes_to_positive if c.episodes_to_positive is not None else '—'}/{c.episodes}" for c in row.curves
    )
    return [row.algo, f"{row.reached}/{row.seeds}", _fmt(row.episodes_to_positive), _fmt(row.final_mean, 2), per_seed]


def learning_markdown(result: LearningResult) -> str:
    """The learning comparison as markdown."""
    lines = ["", f"## MaskablePPO vs PPO-with-penalty ({result.timesteps:,} steps per seed)", ""]
    header = [
        "algorithm",
        "seeds reached / run",
        "episodes to > 0 [95% CI]",
        "final mean return % [95% CI]",
        "per seed (episodes to > 0 / run)",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_learning_cells(row)) + " |" for row in result.rows]
    lines += [
        "",
        f"Episodes until the {result.window}-episode rolling mean of the raw episode return first exceeds 0 "
        "(censored runs enter at the episodes they ran). Faster: " + result.faster + ".",
    ]
    return "\n".join(lines) + "\n"


def table(result: LatencyResult | LearningResult) -> Table:
    """The rich table of either part (the interface `benchmarks.__main__` calls)."""
    return latency_table(result) if isinstance(result, LatencyResult) else learning_table(result)


def markdown(result: LatencyResult | LearningResult) -> str:
    """The markdown of either part."""
    return latency_markdown(result) if isinstance(result, LatencyResult) else learning_markdown(result)
