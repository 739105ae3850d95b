"""The realism ladder: the same trained day-trading policies backtested as fills become realistic.

Why: the desk's headline assumes every order fills at the close of the bar that decided it, with no
spread and no delay. On one-minute bars that assumption alone can be worth more than the strategy.
The ladder re-runs each trained cell of a study (its exported policy, unchanged) on the same test
sessions at each rung, and buy-and-hold at the same rung, so a user sees how much of the edge is
left once fills look like a real venue's:

1. close: the same bar's close (optimistic: the decision saw that price);
2. next open: the next bar's open;
3. + spread: the next open, paying half the spread estimated from the bars' high-low range
   (Corwin-Schultz, market/venue.py) on each side;
4. + 1 bar latency: the order reaches the venue one bar after the decision;
5. + 10% participation cap: at most a tenth of each bar's volume fills, the rest keeps working
   (partial fills) until it fills or the next decision cancels it; the forced exit at the session's
   close is not capped.

Per rung and (symbol, commission): return, Sharpe, trades per session and the agent minus
buy-and-hold return, each as the mean and 95% Student-t interval across seeds.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.core.io import atomic_write_csv
from tradebrain.desks.day_trading.backtest import backtest_days, buy_and_hold_days
from tradebrain.desks.day_trading.study import (
    BOUNDS,
    Cell,
    DayTradingDeskConfig,
    SymbolData,
    session_metrics,
    split_sessions,
    t_interval,
)
from tradebrain.market.venue import VenueConfig
from tradebrain.rl.export import ExportedPolicy


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: a name for tables and the venue its fills go through."""

    name: str
    venue: VenueConfig


RUNGS: tuple[Rung, ...] = (
    Rung("close (optimistic: same-bar close)", VenueConfig(fill="close", spread="none")),
    Rung("next open", VenueConfig(fill="next_open", spread="none")),
    Rung("+ spread (high-low range)", VenueConfig(fill="next_open", spread="range")),
    Rung("+ 1 bar latency", VenueConfig(fill="next_open", spread="range", latency_bars=1)),
    Rung("+ 10% participation cap", VenueConfig(fill="next_open", spread="range", latency_bars=1, participation=0.1)),
)
LADDER_METRICS = ("total_return", "sharpe", "trades_per_session", "excess_return")


def rung_metrics(
    policy: ExportedPolicy,
    data: SymbolData,
    config: DayTradingDeskConfig,
    commission: float,
    venue: VenueConfig,
) -> dict[str, float]:
    """The policy's and buy-and-hold's session metrics on the test sessions through `venue`."""
    from tradebrain.core.config import with_updates

    env = with_updates(config.env, {"commission": commission})
    _, test_days = split_sessions(data.days, config.train_sessions, config.test_sessions)
    agent = session_metrics(backtest_days(data.bars, test_days, policy, env, venue=venue), test_days)
    held = session_metrics(buy_and_hold_days(data.bars, test_days, env, venue=venue), test_days)
    return {
        "total_return": agent["total_return"],
        "sharpe": agent["sharpe"],
        "trades_per_session": agent["number_of_trades"] / len(test_days),
        "excess_return": agent["total_return"] - held["total_return"],
        "bh_total_return": held["total_return"],
    }


def run_ladder(
    cells: Sequence[Cell],
    data: Sequence[SymbolData],
    config: DayTradingDeskConfig,
    rungs: Sequence[Rung] = RUNGS,
) -> pd.DataFrame:
    """One row per (symbol, commission, seed, rung): every trained cell of a study (those with an
    exported policy) re-run at every rung."""
    by_symbol = {item.symbol: item for item in data}
    trained = [cell for cell in cells if cell.policy_path is not None and cell.symbol in by_symbol]
    if not trained:
        raise InputError("the realism ladder needs trained cells with an exported policy.npz; run the study first")
    rows = []
    for cell in trained:
        assert cell.policy_path is not None  # filtered above
        policy = ExportedPolicy.load(cell.policy_path)
        for rung in rungs:
            metrics = rung_metrics(policy, by_symbol[cell.symbol], config, cell.commission, rung.venue)
            rows.append({"symbol": cell.symbol, "commission": cell.commission, "seed": cell.seed,
                         "rung": rung.name} | metrics)  # fmt: skip
    return pd.DataFrame(rows)


def summarise_ladder(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (symbol, commission, rung), in rung order: each metric's mean and 95% interval across seeds."""
    order = {name: index for index, name in enumerate(dict.fromkeys(rows["rung"]))}
    out = []
    for (symbol, commission, rung), group in rows.groupby(["symbol", "commission", "rung"], sort=False):
        row: dict[str, object] = {"symbol": symbol, "commission": commission, "rung": rung, "seeds": len(group)}
        for key in (*LADDER_METRICS, "bh_total_return"):
            bounds = BOUNDS.get(key, (-math.inf, math.inf)) if key != "trades_per_session" else (0.0, math.inf)
            mean, low, high = t_interval(group[key].tolist(), bounds)
            row |= {key: mean, f"{key}_lo": low, f"{key}_hi": high}
        out.append(row)
    table = pd.DataFrame(out)
    table["_order"] = table["rung"].map(order)
    return table.sort_values(["symbol", "commission", "_order"], kind="stable").drop(columns="_order")


def write_ladder(rows: pd.DataFrame, table: pd.DataFrame, run_dir: Path) -> dict[str, Path]:
    """ladder_cells.csv (every cell at every rung), ladder.csv (the summary) and ladder.png."""
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {"cells": run_dir / "ladder_cells.csv", "summary": run_dir / "ladder.csv", "plot": run_dir / "ladder.png"}
    atomic_write_csv(rows, paths["cells"], index=False)
    atomic_write_csv(table, paths["summary"], index=False)
    plot_ladder(table, paths["plot"])
    return paths


def plot_ladder(table: pd.DataFrame, path: Path) -> None:
    """Per (symbol, commission): agent and buy-and-hold return by rung, with the agent's 95% interval,
    beside trades per session, so the cost of each realism step reads off one figure."""
    import matplotlib.pyplot as plt

    from tradebrain.reports.plots import save_figure

    groups = list(table.groupby(["symbol", "commission"], sort=False))
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.2 * len(groups)), squeeze=False)
    for (key, group), (left, right) in zip(groups, axes, strict=True):
        x = np.arange(len(group))
        short = [str(name).replace(" (optimistic: same-bar close)", " (optimistic)") for name in group["rung"]]
        labels = [textwrap.fill(name, 14, break_long_words=False) for name in short]
        returns = 100 * group["total_return"].to_numpy()
        errors = 100 * np.vstack([returns / 100 - group["total_return_lo"], group["total_return_hi"] - returns / 100])
        left.errorbar(x, returns, yerr=np.nan_to_num(errors), marker="o", capsize=4, label="agent (95% CI)")
        left.plot(x, 100 * group["bh_total_return"].to_numpy(), marker="s", linestyle="--", label="buy-and-hold")
        left.axhline(0.0, color="grey", linewidth=0.8)
        left.set_xticks(x, labels, fontsize=8)
        left.set_ylabel("test return %")
        left.set_title(f"{key[0]}, commission {key[1]:g}")
        left.legend(fontsize=8)
        right.bar(x, group["trades_per_session"].to_numpy(), color="tab:grey")
        right.set_xticks(x, labels, fontsize=8)
        right.set_ylabel("trades per session")
    fig.tight_layout()
    save_figure(fig, path)
