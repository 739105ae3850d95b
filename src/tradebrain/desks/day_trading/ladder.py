"""The realism ladder: day-trading policies backtested as fills become realistic.

Why: a result that assumes every order fills at the close of the bar that decided it, with no
spread and no delay, can owe more to that assumption than to the strategy on one-minute bars.
Two modes, each against buy-and-hold at the same rung on the same test sessions:

- test only (`run_ladder`): each trained cell of a study (its exported policy, unchanged, trained
  under the study's fills) re-run at every rung, so a user sees how much of its edge is left once
  fills look like a real venue's;
- train and test (`run_trained_ladder`): every cell trained afresh under each rung's fills and
  tested under them, so the agent meets the fills it trained with. The env fills whole orders, so
  the participation-cap rung trains under the rung before it (the cap changes little at these
  sizes) and is tested under the cap.

The rungs:

1. close: the same bar's close (optimistic: the decision saw that price);
2. next open: the next bar's open;
3. + spread: the next open, paying half the spread estimated from the bars' high-low range
   (Corwin-Schultz, market/venue.py) on each side;
4. + 1 bar latency: the order reaches the venue one bar after the decision;
5. + 10% participation cap: at most a tenth of each bar's volume fills, the rest keeps working
   (partial fills) until it fills or the next decision cancels it; the forced exit at the session's
   close is not capped.

Per mode, rung and (symbol, commission): return, Sharpe, trades per session and the agent minus
buy-and-hold return, each as the mean and 95% Student-t interval across seeds.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tradebrain.core.config import with_updates
from tradebrain.core.errors import InputError
from tradebrain.core.io import atomic_write_csv
from tradebrain.desks.day_trading.backtest import backtest_days, buy_and_hold_days
from tradebrain.desks.day_trading.study import (
    BOUNDS,
    Cell,
    DayTradingDeskConfig,
    SymbolData,
    run_study,
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
    exported policy) re-run at every rung; `trained` names the fills it trained under."""
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
            rows.append({"trained": config.env.venue.label(), "symbol": cell.symbol, "commission": cell.commission,
                         "seed": cell.seed, "rung": rung.name} | metrics)  # fmt: skip
    return pd.DataFrame(rows)


TRAINED_AT_RUNG = "at each rung"
"""The `trained` value of the second mode's rows."""


def training_venue(rung: Rung) -> VenueConfig:
    """The fills a cell trains under for `rung`: the rung's own, without a participation cap
    (the env fills whole orders; desks/day_trading/config.py)."""
    return rung.venue.model_copy(update={"participation": None})


def run_trained_ladder(
    data: Sequence[SymbolData],
    commissions: Sequence[float],
    seeds: Sequence[int],
    config: DayTradingDeskConfig,
    run_dir: Path,
    rungs: Sequence[Rung] = RUNGS,
    on_cell: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The second mode: for each rung, every (symbol, commission, seed) trained under the rung's
    fills (`training_venue`) and tested under the rung's; rows as `run_ladder`'s, `trained` set to
    TRAINED_AT_RUNG. Each rung's cells are written under run_dir/ladder-train/rung-<k>/."""
    rows = []
    for k, rung in enumerate(rungs, start=1):
        rung_config = with_updates(config, {"env.venue": training_venue(rung).model_dump()})

        def rung_cell(label: str, name: str = rung.name) -> None:
            if on_cell is not None:
                on_cell(f"{name}: {label}")

        study = run_study(data, commissions, seeds, rung_config, run_dir / "ladder-train" / f"rung-{k}", rung_cell)
        cells = run_ladder(study.cells, data, rung_config, [rung])
        rows.append(cells.assign(trained=TRAINED_AT_RUNG))
    return pd.concat(rows, ignore_index=True)


def summarise_ladder(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (trained, symbol, commission, rung), in rung order: each metric's mean and 95% interval across seeds."""
    order = {name: index for index, name in enumerate(dict.fromkeys(rows["rung"]))}
    out = []
    keys = ["trained", "symbol", "commission", "rung"]
    for (trained, symbol, commission, rung), group in rows.groupby(keys, sort=False):
        row: dict[str, object] = {"trained": trained, "symbol": symbol, "commission": commission, "rung": rung,
                                  "seeds": len(group)}  # fmt: skip
        for key in (*LADDER_METRICS, "bh_total_return"):
            bounds = BOUNDS.get(key, (-math.inf, math.inf)) if key != "trades_per_session" else (0.0, math.inf)
            mean, low, high = t_interval(group[key].tolist(), bounds)
            row |= {key: mean, f"{key}_lo": low, f"{key}_hi": high}
        out.append(row)
    table = pd.DataFrame(out)
    table["_order"] = table["rung"].map(order)
    trained_order = {name: index for index, name in enumerate(dict.fromkeys(rows["trained"]))}
    table["_trained"] = table["trained"].map(trained_order)
    return table.sort_values(["symbol", "commission", "_trained", "_order"], kind="stable").drop(
        columns=["_order", "_trained"]
    )


def write_ladder(rows: pd.DataFrame, table: pd.DataFrame, run_dir: Path) -> dict[str, Path]:
    """ladder_cells.csv (every cell at every rung), ladder.csv (the summary) and ladder.png."""
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {"cells": run_dir / "ladder_cells.csv", "summary": run_dir / "ladder.csv", "plot": run_dir / "ladder.png"}
    atomic_write_csv(rows, paths["cells"], index=False)
    atomic_write_csv(table, paths["summary"], index=False)
    plot_ladder(table, paths["plot"])
    return paths


def plot_ladder(table: pd.DataFrame, path: Path) -> None:
    """Per (symbol, commission): the agent's return by rung (one line per training mode, with its
    95% interval) and buy-and-hold's, beside trades per session, so the cost of each realism step
    reads off one figure."""
    import matplotlib.pyplot as plt

    from tradebrain.reports.plots import save_figure

    groups = list(table.groupby(["symbol", "commission"], sort=False))
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.4 * len(groups)), squeeze=False)
    for (key, group), (left, right) in zip(groups, axes, strict=True):
        names = list(dict.fromkeys(group["rung"]))
        x = np.arange(len(names))
        short = [str(name).replace(" (optimistic: same-bar close)", " (optimistic)") for name in names]
        labels = [textwrap.fill(name, 14, break_long_words=False) for name in short]
        modes = list(dict.fromkeys(group["trained"]))
        width = 0.8 / len(modes)
        for m, (mode, rows) in enumerate(group.groupby("trained", sort=False)):
            at = x[[names.index(name) for name in rows["rung"]]]
            returns = 100 * rows["total_return"].to_numpy()
            low, high = 100 * rows["total_return_lo"].to_numpy(), 100 * rows["total_return_hi"].to_numpy()
            errors = np.nan_to_num(np.vstack([returns - low, high - returns]))
            label = f"agent trained {mode}" if mode == TRAINED_AT_RUNG else f"agent trained under {mode}"
            left.errorbar(at + (m - (len(modes) - 1) / 2) * 0.08, returns, yerr=errors, marker="o", capsize=4,
                          label=f"{label} (95% CI)")  # fmt: skip
            right.bar(at + (m - (len(modes) - 1) / 2) * width, rows["trades_per_session"].to_numpy(), width=width,
                      label=label)  # fmt: skip
        held = group.drop_duplicates("rung")
        left.plot(x[[names.index(name) for name in held["rung"]]], 100 * held["bh_total_return"].to_numpy(),
                  marker="s", linestyle="--", color="grey", label="buy-and-hold")  # fmt: skip
        left.axhline(0.0, color="grey", linewidth=0.8)
        left.set_xticks(x, labels, fontsize=8)
        left.set_ylabel("test return %")
        left.set_title(f"{key[0]}, commission {key[1]:g}")
        left.legend(fontsize=7)
        right.set_xticks(x, labels, fontsize=8)
        right.set_ylabel("trades per session")
        if len(modes) > 1:
            right.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
