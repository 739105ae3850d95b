"""Day-trading desk: train a long-only, flat-by-the-close agent on minute bars (MaskablePPO with
action masks, or PPO with an invalid-action penalty), backtest it out of sample through the shared
engine, and compare it with buy-and-hold across commissions, symbols and seeds.

A study cell is (symbol, commission, seed): train on the training sessions, export the policy to
numpy (the same actions as the SB3 model, tested), backtest it on the test sessions with the
balance compounding day to day, and run buy-and-hold over the same bars and costs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from tradebrain.backtest.engine import BacktestResult
from tradebrain.backtest.metrics import TRADING_DAYS_PER_YEAR, empty_trades, summarize
from tradebrain.core.config import StrictModel, with_updates
from tradebrain.core.errors import InputError
from tradebrain.core.io import atomic_write_csv
from tradebrain.desks.day_trading.backtest import backtest_days, buy_and_hold_days, session_ends
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay, days_fill_inputs, trading_days
from tradebrain.desks.day_trading.report import write_day_trading_report
from tradebrain.desks.day_trading.vec import make_vec_env
from tradebrain.desks.runs import write_config
from tradebrain.risk.gate import RiskGate
from tradebrain.risk.limits import RiskLimits
from tradebrain.rl.export import export_policy
from tradebrain.rl.training import TrainConfig, TrainedAgent, train_agent

METRICS = ("total_return", "sharpe", "max_drawdown", "number_of_trades", "win_rate")
ALGORITHMS = ("maskable-ppo", "ppo")


class DayTradingDeskConfig(StrictModel):
    """A day-trading study: env rules and costs, training, sessions, risk limits."""

    name: str = Field("daytrading", pattern=r"^[A-Za-z0-9_.-]+$", description="run folder name under runs/")
    env: DayTradingEnvConfig = DayTradingEnvConfig()
    train: TrainConfig = TrainConfig(algo="maskable-ppo", timesteps=50_000, normalize_obs=True)
    calendar: str | None = Field(None, description="exchange calendar of the sessions; None: New York dates")
    train_sessions: str = Field("30", description="first N sessions, or START:END dates (inclusive)")
    test_sessions: str = Field("11", description="last N sessions, or START:END dates (inclusive)")
    risk: RiskLimits | None = Field(None, description="hard limits on every backtest order (None: no gate)")

    @field_validator("train")
    @classmethod
    def _algorithm(cls, train: TrainConfig) -> TrainConfig:
        if train.algo not in ALGORITHMS:
            raise ValueError(f"train.algo must be one of {ALGORITHMS} (PPO uses the invalid-action penalty)")
        return train


def algorithm_defaults(config: DayTradingDeskConfig) -> dict[str, Any]:
    """PPO hyperparameters for day episodes of a few hundred steps: 8 parallel days, 256-step
    rollouts, a little entropy so the agent keeps trying trades early on."""
    return {
        "n_envs": 8, "n_steps": 256, "batch_size": 256, "n_epochs": 10, "gamma": 0.99, "gae_lambda": 0.95,
        "learning_rate": 3e-4, "ent_coef": 0.01,
    }  # fmt: skip


def _select(days: Sequence[TradingDay], spec: str, first: bool, what: str) -> list[TradingDay]:
    """The sessions `spec` names: a count (first or last N) or START:END dates (inclusive)."""
    spec = spec.strip()
    if spec.isdigit():
        count = int(spec)
        if not 0 < count <= len(days):
            raise InputError(f"{what}={spec}: there are {len(days)} sessions; give 1..{len(days)}")
        return list(days[:count] if first else days[-count:])
    start, sep, end = spec.partition(":")
    if not sep:
        raise InputError(f"{what}={spec!r}: give a session count (30) or a date range (2006-01-02:2006-02-10)")
    try:
        lo, hi = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    except ValueError as error:
        raise InputError(f"{what}={spec!r}: {error}") from error
    chosen = [day for day in days if lo <= day.timestamps[0].date() <= hi]
    if not chosen:
        raise InputError(f"{what}={spec!r} holds no session (sessions run {days[0].label} .. {days[-1].label})")
    return chosen


def split_sessions(days: Sequence[TradingDay], train: str, test: str) -> tuple[list[TradingDay], list[TradingDay]]:
    """Training and test sessions; the test sessions must all come after the training ones."""
    train_days, test_days = _select(days, train, True, "train"), _select(days, test, False, "test")
    if test_days[0].timestamps[0] <= train_days[-1].timestamps[-1]:
        raise InputError(
            f"test sessions start {test_days[0].label}, before the training sessions end "
            f"({train_days[-1].label}): the test must be out of sample"
        )
    return train_days, test_days


def train_day_trader(
    days: Sequence[TradingDay], config: DayTradingDeskConfig, out_dir: Path | None, progress: bool = True
) -> TrainedAgent:
    """Train on `days`: MaskablePPO reads the masks; PPO trains with the invalid-action penalty."""
    env = with_updates(config.env, {"invalid_action": "mask" if config.train.algo == "maskable-ppo" else "penalty"})
    seed = config.train.seed
    return train_agent(
        lambda n: make_vec_env(days, env, n, seed), "discrete", config.train, algorithm_defaults(config),
        out_dir=out_dir, progress=progress, run_config=config,
    )  # fmt: skip


def session_metrics(result: BacktestResult, days: Sequence[TradingDay]) -> dict[str, float]:
    """Return, Sharpe (daily, 252 a year), max drawdown, trades and win rate from session closes."""
    ends = session_ends(days)
    equity = pd.Series(
        np.r_[result.config.cash, result.equity[ends]],
        index=pd.DatetimeIndex([days[0].timestamps[0], *[day.timestamps[-1] for day in days]]),
    )
    metrics = summarize(equity, result.trades_frame(), periods_per_year=TRADING_DAYS_PER_YEAR)
    return {key: float(metrics[key]) for key in METRICS}


@dataclass(frozen=True)
class Cell:
    """One trained and backtested (symbol, commission, seed)."""

    symbol: str
    commission: float
    seed: int
    agent: dict[str, float]
    buy_and_hold: dict[str, float]
    agent_equity: pd.Series
    buy_and_hold_equity: pd.Series
    train_seconds: float
    policy_path: Path | None

    def row(self) -> dict[str, Any]:
        """Flat record for the results table."""
        head = {"symbol": self.symbol, "commission": self.commission, "seed": self.seed}
        return (
            head
            | {f"agent_{k}": v for k, v in self.agent.items()}
            | {f"bh_{k}": v for k, v in self.buy_and_hold.items()}
            | {"train_seconds": self.train_seconds}
        )


def run_cell(
    symbol: str,
    bars: pd.DataFrame,
    train_days: Sequence[TradingDay],
    test_days: Sequence[TradingDay],
    config: DayTradingDeskConfig,
    out_dir: Path | None,
    progress: bool = False,
) -> Cell:
    """Train, export and backtest one cell (commission, seed and fills are those of `config`, saved
    beside the cell's model as config.yaml)."""
    started = time.perf_counter()
    agent = train_day_trader(train_days, config, out_dir, progress)
    seconds = time.perf_counter() - started
    policy = export_policy(agent.model, agent.vec_normalize, f"{config.train.algo} seed {config.train.seed}")
    path = None
    if out_dir is not None:
        path = policy.save(out_dir / "policy.npz")
        write_config(config, out_dir)  # the cell's own commission, seed and fills
    gate = RiskGate(config.risk) if config.risk is not None else None
    result = backtest_days(bars, test_days, policy, config.env, gate)
    held = buy_and_hold_days(bars, test_days, config.env)
    return Cell(
        symbol, config.env.commission, config.train.seed, session_metrics(result, test_days),
        session_metrics(held, test_days), _session_equity(result, test_days), _session_equity(held, test_days),
        seconds, path,
    )  # fmt: skip


def _session_equity(result: BacktestResult, days: Sequence[TradingDay]) -> pd.Series:
    ends = session_ends(days)
    return pd.Series(result.equity[ends], index=pd.DatetimeIndex([day.timestamps[-1] for day in days]))


# ------------------------------------------------------------------------------------------- studies


@dataclass(frozen=True)
class SymbolData:
    """One symbol's bars and its trading days."""

    symbol: str
    bars: pd.DataFrame
    days: list[TradingDay]


def symbol_data(symbol: str, bars: pd.DataFrame, config: DayTradingDeskConfig) -> SymbolData:
    """Bars of one symbol as trading days with the configured features."""
    return SymbolData(symbol, bars, trading_days(bars, config.env, config.calendar))


BOUNDS = {"max_drawdown": (0.0, 1.0), "number_of_trades": (0.0, math.inf), "win_rate": (0.0, 1.0)}
"""Metrics that cannot leave a range: their intervals are clipped to it."""


def t_interval(
    values: Sequence[float], bounds: tuple[float, float] = (-math.inf, math.inf)
) -> tuple[float, float, float]:
    """Mean and 95% Student-t confidence interval across seeds (NaN bounds with one seed), the
    interval clipped to the metric's `bounds`."""
    from scipy.stats import t as student

    data = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if len(data) == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if len(data) < 2:
        return mean, math.nan, math.nan
    half = float(student.ppf(0.975, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data)))
    return mean, max(mean - half, bounds[0]), min(mean + half, bounds[1])


def portfolio_cells(cells: Sequence[Cell], cash: float) -> list[Cell]:
    """Per (commission, seed): an equal-weight portfolio of the symbols (1/N of the cash each,
    session closes aligned by date and carried forward), for the agent and for buy-and-hold."""
    out = []
    for commission, seed in sorted({(cell.commission, cell.seed) for cell in cells}):
        group = [cell for cell in cells if cell.commission == commission and cell.seed == seed]
        curves = {}
        for which in ("agent", "bh"):
            parts = [
                (cell.agent_equity if which == "agent" else cell.buy_and_hold_equity) / len(group) for cell in group
            ]
            frame = pd.concat(parts, axis=1).sort_index().ffill().fillna(cash / len(group))
            curves[which] = frame.sum(axis=1)
        metrics = {which: _curve_metrics(curve, cash) for which, curve in curves.items()}
        out.append(
            Cell("portfolio", commission, seed, metrics["agent"], metrics["bh"], curves["agent"], curves["bh"],
                 sum(cell.train_seconds for cell in group), None)
        )  # fmt: skip
    return out


def _curve_metrics(curve: pd.Series, cash: float) -> dict[str, float]:
    start = curve.index[0] - pd.Timedelta(days=1)
    equity = pd.concat([pd.Series([cash], index=[start]), curve])
    metrics = summarize(equity, empty_trades(), periods_per_year=TRADING_DAYS_PER_YEAR)
    out = {key: float(metrics[key]) for key in ("total_return", "sharpe", "max_drawdown")}
    return out | {"number_of_trades": math.nan, "win_rate": math.nan}


def aggregate(cells: Sequence[Cell]) -> pd.DataFrame:
    """Per (symbol, commission): each metric's mean and 95% CI across seeds, agent and buy-and-hold."""
    rows = []
    for (symbol, commission), group in pd.DataFrame([cell.row() for cell in cells]).groupby(
        ["symbol", "commission"], sort=False
    ):
        row: dict[str, Any] = {"symbol": symbol, "commission": commission, "seeds": len(group)}
        for key in METRICS:
            for who in ("agent", "bh"):
                mean, lo, hi = t_interval(group[f"{who}_{key}"].tolist(), BOUNDS.get(key, (-math.inf, math.inf)))
                row |= {f"{who}_{key}": mean, f"{who}_{key}_lo": lo, f"{who}_{key}_hi": hi}
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Study:
    """A finished study: every cell (symbols and the portfolio) and the aggregate table."""

    cells: list[Cell]
    table: pd.DataFrame
    run_dir: Path


def run_study(
    data: Sequence[SymbolData],
    commissions: Sequence[float],
    seeds: Sequence[int],
    config: DayTradingDeskConfig,
    run_dir: Path,
    on_cell: Callable[[str], None] | None = None,
) -> Study:
    """Every (symbol, commission, seed) cell, the equal-weight portfolio, and the aggregate table."""
    if not data or not commissions or not seeds:
        raise InputError("a study needs at least one symbol, one commission and one seed")
    for item in data:  # a venue these bars cannot serve (a latency as long as a session...) fails before training
        try:
            days_fill_inputs(item.days, config.env.venue)
        except InputError as error:
            raise InputError(f"{item.symbol}: {error}") from None
    cells: list[Cell] = []
    for item in data:
        train_days, test_days = split_sessions(item.days, config.train_sessions, config.test_sessions)
        for commission in commissions:
            for seed in seeds:
                cell_config = with_updates(config, {"env.commission": commission, "train.seed": seed})
                label = f"{item.symbol} commission={commission:g} seed={seed}"
                if on_cell is not None:
                    on_cell(label)
                out_dir = run_dir / item.symbol / f"commission-{commission:g}" / f"seed-{seed}"
                cells.append(run_cell(item.symbol, item.bars, train_days, test_days, cell_config, out_dir))
    if len(data) > 1:
        cells += portfolio_cells(cells, config.env.cash)
    table = aggregate(cells)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(pd.DataFrame([cell.row() for cell in cells]), run_dir / "cells.csv", index=False)
    atomic_write_csv(table, run_dir / "summary.csv", index=False)
    return Study(cells, table, run_dir)


def write_report(study: Study, config: DayTradingDeskConfig, seeds: Sequence[int]) -> Path:
    """The study's report.html: the table, the charts by commission, and the equity curves of the
    first seed at the lowest commission for each symbol (and the portfolio)."""
    lowest, first = min(cell.commission for cell in study.cells), min(seeds)
    curves = {
        f"{cell.symbol}, commission {cell.commission:g}, seed {cell.seed}": (
            cell.agent_equity, cell.buy_and_hold_equity
        )
        for cell in study.cells
        if cell.commission == lowest and cell.seed == first
    }  # fmt: skip
    notes = [
        f"Sessions: train {config.train_sessions}, test {config.test_sessions} (per symbol); the agent trades "
        f"long-only, all-in ({config.env.cash_fraction:.0%} of cash), flat by each session's close; the balance "
        "compounds over the test sessions. Buy-and-hold holds from the first test bar to the last, overnight.",
        f"{config.train.algo} trained {config.train.timesteps:,} env steps per cell; the backtest runs the exported "
        "policy (identical actions to the SB3 model) with the env's observation and action masks.",
        "Intervals: Student-t 95% across seeds (none with one seed); buy-and-hold has no seed.",
        f"Fills: {config.env.venue.label()}, in training (the env) and in the backtests of the agent and of "
        "buy-and-hold alike (market/venue.py).",
    ]
    return write_day_trading_report(
        study.table, curves, config, study.run_dir, title=config.name, algorithm=config.train.algo,
        seeds=len(seeds), notes=notes,
    )  # fmt: skip
