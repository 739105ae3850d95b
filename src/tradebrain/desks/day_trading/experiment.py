"""The day-trading desk as an experiment cell, evaluated walk-forward on real (or synthetic) bars.

Unlike the execution and market-making desks, whose markets are simulated and evaluated on
held-out seeds, this desk trains on historical sessions, so its evaluation protocol is
walk-forward: window k trains on sessions [k*step, k*step + train) and is tested on the next
`test` sessions, always after its training sessions. Every window trains a fresh agent, exports
it to numpy and backtests it on its test sessions next to buy-and-hold over the same bars and
costs; the cell's metrics average the windows, and the probability of improvement counts windows.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from tradebrain.core.config import StrictModel
from tradebrain.core.errors import ConfigError, TradebrainError
from tradebrain.core.io import atomic_open, atomic_write_csv, atomic_write_text
from tradebrain.desks.contract import AGENT, CellOutput
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.desk import BASELINE, WALK_FORWARD_RETURN
from tradebrain.desks.day_trading.study import (
    METRICS,
    DayTradingDeskConfig,
    SymbolData,
    aggregate,
    run_cell,
    split_sessions,
    symbol_data,
    write_report,
)
from tradebrain.desks.day_trading.study import Cell as WindowCell
from tradebrain.desks.day_trading.study import Study as WindowStudy
from tradebrain.desks.runs import write_config

# WALK_FORWARD_RETURN compounds the windows' test returns one after the other: a true out-of-sample
# path when `step_sessions == test_sessions`, so the test periods tile the data without overlap.
OBJECTIVE = "negative_total_return"
"""Minus the agent's mean test return per window: the metric `tradebrain tune` minimises."""
VALIDATION_FRACTION = 0.2
"""Share of the first window's training sessions (the last ones) held out to validate tuning trials."""


class WalkForward(StrictModel):
    """Rolling windows over the sessions: window k trains on [k*step, k*step + train) and tests on
    the `test_sessions` sessions right after them."""

    train_sessions: int = Field(ge=2, description="training sessions per window (>= 2: tuning holds some out)")
    test_sessions: int = Field(ge=1, description="test sessions per window, right after its training sessions")
    step_sessions: int = Field(ge=1, description="sessions the window moves by (= test_sessions: no overlap)")


class DayTradingExperimentConfig(DayTradingDeskConfig):
    """The day-trading desk's config plus where its bars come from and the walk-forward protocol."""

    data: str | None = Field(None, description="CSV or Parquet bar file; relative to the current directory")
    synthetic: bool | None = Field(None, description="seeded synthetic bars; None: synthetic unless `data` is given")
    synthetic_days: int = Field(60, ge=2, description="sessions of synthetic bars")
    synthetic_seed: int = Field(0, ge=0, description="seed of the synthetic bars (not the training seed)")
    symbol: str = Field("SYN", min_length=1, description="symbol of the bars")
    tz: str = Field("UTC", description="time zone of naive timestamps in the bar file")
    walk_forward: WalkForward | None = Field(
        None, description="rolling windows; None: one window from train_sessions / test_sessions"
    )

    @model_validator(mode="after")
    def _data_and_windows(self) -> DayTradingExperimentConfig:
        if self.data is not None and self.synthetic:
            raise ValueError("give either 'data' (a bar file) or 'synthetic: true', not both")
        if self.data is None and self.synthetic is False:
            raise ValueError("'synthetic: false' needs a bar file in 'data'")
        try:
            market = load_market(self)
        except (TradebrainError, OSError, ValueError) as error:  # reported as a config error on 'data'
            where = f"data={self.data!r}" if self.data is not None else "synthetic"
            raise ValueError(f"{where}: {error}") from None
        windows = session_windows(self, market.days)  # raises ValueError naming the field
        if self.walk_forward is None and windows[0].train_stop - windows[0].train_start < 2:
            raise ValueError("train_sessions: give at least 2 training sessions (tuning holds the last ones out)")
        return self


@dataclass(frozen=True)
class Window:
    """One walk-forward window as session indices: train [train_start, train_stop), test
    [test_start, test_stop), with train_stop <= test_start."""

    train_start: int
    train_stop: int
    test_start: int
    test_stop: int

    def split(self, days: list[TradingDay]) -> tuple[list[TradingDay], list[TradingDay]]:
        """The training and test sessions of this window."""
        return days[self.train_start : self.train_stop], days[self.test_start : self.test_stop]


def walk_forward_windows(n_sessions: int, protocol: WalkForward) -> list[Window]:
    """Every window that fits in `n_sessions`: window k trains on [k*step, k*step + train) and tests
    on [k*step + train, k*step + train + test). ValueError naming the fields when none fits."""
    train, test, step = protocol.train_sessions, protocol.test_sessions, protocol.step_sessions
    if train + test > n_sessions:
        raise ValueError(
            f"walk_forward.train_sessions ({train}) + walk_forward.test_sessions ({test}) = {train + test} "
            f"sessions, but the data holds {n_sessions}; lower them so at least one window fits"
        )
    count = (n_sessions - train - test) // step + 1
    return [Window(k * step, k * step + train, k * step + train, k * step + train + test) for k in range(count)]


def session_windows(config: DayTradingExperimentConfig, days: list[TradingDay]) -> list[Window]:
    """The cell's windows: walk-forward when configured, else the desk's single train/test split."""
    if config.walk_forward is not None:
        return walk_forward_windows(len(days), config.walk_forward)
    try:
        train, test = split_sessions(days, config.train_sessions, config.test_sessions)
    except TradebrainError as error:
        raise ValueError(f"train_sessions / test_sessions: {error}") from None
    position = {id(day): index for index, day in enumerate(days)}
    return [Window(position[id(train[0])], position[id(train[-1])] + 1, position[id(test[0])],
                   position[id(test[-1])] + 1)]  # fmt: skip


def load_market(config: DayTradingExperimentConfig) -> SymbolData:
    """The configured bars as trading days (cached per process: every cell of a grid and every
    re-validation reads the same file; the key includes the file's size and modification time)."""
    if config.data is None:
        source: tuple[Any, ...] = ("synthetic", config.synthetic_days, config.synthetic_seed)
    else:
        path = Path(config.data).resolve()
        if not path.is_file():
            raise ConfigError(f"{path}: no such bar file (relative paths are read from the current directory)")
        stat = path.stat()
        source = (str(path), stat.st_size, stat.st_mtime_ns)
    return _market(source, config.symbol, config.tz, config.env.features, config.calendar)


@functools.lru_cache(maxsize=8)
def _market(
    source: tuple[Any, ...], symbol: str, tz: str, features: tuple[str, ...], calendar: str | None
) -> SymbolData:
    from tradebrain.data.sources.files import read_bars_csv, read_bars_parquet
    from tradebrain.data.sources.synthetic import synthetic_intraday
    from tradebrain.desks.day_trading.config import DayTradingEnvConfig

    if source[0] == "synthetic":
        bars = synthetic_intraday(symbol, days=int(source[1]), seed=int(source[2]))
    else:
        path = Path(source[0])
        reader = read_bars_parquet if path.suffix.lower() in (".parquet", ".pq") else read_bars_csv
        with warnings.catch_warnings():  # the 1-minute sample's short header is repaired with a warning
            warnings.simplefilter("ignore", UserWarning)
            bars = reader(path, symbol, tz=tz)
    env = DayTradingEnvConfig(features=features)
    return symbol_data(symbol, bars, DayTradingDeskConfig(env=env, calendar=calendar))


def _mean(values: list[float]) -> float:
    """Mean over the windows where the metric is defined (NaN when it is defined in none)."""
    finite = [value for value in values if math.isfinite(value)]
    return float(np.mean(finite)) if finite else math.nan


def window_metrics(windows: list[WindowCell]) -> dict[str, float]:
    """The cell's metrics: each metric's mean over the windows (agent, buy-and-hold, and their
    per-window difference), both compounded walk-forward returns, and the tuning objective.

    A metric undefined in every window (win rate without a trade, Sharpe of a flat curve) is left
    out, so aggregating over seeds only sees defined values."""
    metrics: dict[str, float] = {}
    for key in METRICS:
        agent = [cell.agent[key] for cell in windows]
        held = [cell.buy_and_hold[key] for cell in windows]
        values = {
            f"{AGENT}/{key}": _mean(agent),
            f"{BASELINE}/{key}": _mean(held),
            f"{AGENT}_minus_{BASELINE}/{key}": _mean([a - b for a, b in zip(agent, held, strict=True)]),
        }
        metrics |= {name: value for name, value in values.items() if math.isfinite(value)}
    agent_path = float(np.prod([1.0 + cell.agent["total_return"] for cell in windows]) - 1.0)
    held_path = float(np.prod([1.0 + cell.buy_and_hold["total_return"] for cell in windows]) - 1.0)
    metrics[f"{AGENT}/{WALK_FORWARD_RETURN}"] = agent_path
    metrics[f"{BASELINE}/{WALK_FORWARD_RETURN}"] = held_path
    metrics[f"{AGENT}_minus_{BASELINE}/{WALK_FORWARD_RETURN}"] = agent_path - held_path
    metrics[f"{AGENT}/{OBJECTIVE}"] = -metrics[f"{AGENT}/total_return"]
    metrics[f"{AGENT}/windows"] = float(len(windows))
    return metrics


def _write_equity(cells: list[WindowCell], windows: list[Window], path: Path) -> None:
    """Agent and buy-and-hold equity at each test session's close, per window (each starts from cash)."""
    with atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["window", "session", "session_close", "agent_equity", "buy_and_hold_equity"])
        for k, (cell, window) in enumerate(zip(cells, windows, strict=True)):
            for i, (stamp, agent) in enumerate(cell.agent_equity.items()):
                held = float(cell.buy_and_hold_equity.iloc[i])
                writer.writerow([k, window.test_start + i, pd.Timestamp(stamp).isoformat(), float(agent), held])


def run_daytrading_cell(config: DayTradingExperimentConfig, out_dir: Path, write_html: bool) -> CellOutput:
    """Per walk-forward window: train, export, backtest the test sessions with buy-and-hold; write
    each window's policy.npz (and model) under window-<k>/, equity.csv, windows.csv, metrics.json,
    config.yaml and, when asked, the desk's report.html (one row per window)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    market = load_market(config)
    windows = session_windows(config, market.days)
    cells = []
    for k, window in enumerate(windows):
        train, test = window.split(market.days)
        label = f"{config.symbol} window {k}"
        cells.append(run_cell(label, market.bars, train, test, config, out_dir / f"window-{k}"))
    metrics = window_metrics(cells)
    improvements = {BASELINE: [c.agent["total_return"] - c.buy_and_hold["total_return"] for c in cells]}
    write_config(config, out_dir)
    _write_equity(cells, windows, out_dir / "equity.csv")
    rows = [
        {"window": k, "train": [market.days[w.train_start].label, market.days[w.train_stop - 1].label],
         "test": [market.days[w.test_start].label, market.days[w.test_stop - 1].label],
         "agent": cell.agent, BASELINE: cell.buy_and_hold, "train_seconds": cell.train_seconds}
        for k, (w, cell) in enumerate(zip(windows, cells, strict=True))
    ]  # fmt: skip
    atomic_write_csv(pd.DataFrame([cell.row() for cell in cells]), out_dir / "windows.csv", index=False)
    atomic_write_text(out_dir / "metrics.json", json.dumps({"metrics": metrics, "windows": rows}, indent=2))
    if write_html:
        protocol = config.walk_forward
        if protocol is not None:
            sessions = {
                "train_sessions": f"{protocol.train_sessions} per window (walk-forward, step {protocol.step_sessions})",
                "test_sessions": f"{protocol.test_sessions} per window",
            }
        else:
            sessions = {}
        shown = config.model_copy(update=sessions)  # the report's notes describe the windows
        write_report(WindowStudy(cells, aggregate(cells), out_dir), shown, [config.train.seed])
    return CellOutput(metrics, improvements)


def first_window(config: DayTradingExperimentConfig) -> tuple[pd.DataFrame, list[TradingDay], list[TradingDay]]:
    """The bars and the first window's training and test sessions (what `train` and `evaluate` use)."""
    market = load_market(config)
    train, test = session_windows(config, market.days)[0].split(market.days)
    return market.bars, train, test


def tuning_sessions(config: DayTradingExperimentConfig) -> tuple[list[TradingDay], list[TradingDay]]:
    """The first window's training sessions split for tuning: (fit, validation), the validation being
    their last 20% (at least one), so tuning never sees a test session of the first window."""
    _, train, _ = first_window(config)
    held_out = max(1, round(VALIDATION_FRACTION * len(train)))
    return train[:-held_out], train[-held_out:]
