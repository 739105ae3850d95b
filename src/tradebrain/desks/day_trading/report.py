"""The day-trading study's report: the agent vs buy-and-hold by symbol and commission (means and
95% intervals across seeds), return and win rate by commission, and equity curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import pandas as pd
from pydantic import BaseModel

from tradebrain.core.io import atomic_write_text
from tradebrain.reports.common import Figure, config_sections, data_uri
from tradebrain.reports.plots import save_figure
from tradebrain.reports.render import render

COLUMNS = (
    ("agent_total_return", "agent return", "%"),
    ("bh_total_return", "buy-and-hold return", "%"),
    ("agent_sharpe", "agent Sharpe", ""),
    ("bh_sharpe", "buy-and-hold Sharpe", ""),
    ("agent_max_drawdown", "agent max drawdown", "%"),
    ("bh_max_drawdown", "buy-and-hold max drawdown", "%"),
    ("agent_number_of_trades", "agent trades", "n"),
    ("agent_win_rate", "agent win rate", "%"),
)

TEMPLATES = Path(__file__).parent / "templates"
"""This desk's report page (it extends reports/templates/base.html)."""


def _number(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    if unit == "%":
        return f"{100 * value:+.2f}%" if abs(value) < 10 else f"{100 * value:+,.0f}%"
    if unit == "n":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def table_rows(table: pd.DataFrame) -> list[dict[str, object]]:
    """The aggregate table as report rows: each cell's mean and its interval."""
    rows = []
    for record in table.to_dict("records"):
        cells = []
        for key, _, unit in COLUMNS:
            lo, hi = record.get(f"{key}_lo", math.nan), record.get(f"{key}_hi", math.nan)
            interval = (
                ""
                if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi
                else (f"[{_number(lo, unit)}, {_number(hi, unit)}]")
            )
            cells.append({"value": _number(record[key], unit), "interval": interval})
        rows.append({"symbol": record["symbol"], "commission": f"{record['commission']:g}", "cells": cells})
    return rows


def _by_commission(table: pd.DataFrame, metric: str, title: str, ylabel: str, path: Path, with_bh: bool) -> None:
    symbols = list(dict.fromkeys(table["symbol"]))
    fig, axes = plt.subplots(1, len(symbols), figsize=(4.2 * len(symbols) + 1, 3.8), squeeze=False, sharey=True)
    for ax, symbol in zip(axes[0], symbols, strict=True):
        rows = table[table["symbol"] == symbol].sort_values("commission")
        x = rows["commission"].to_numpy() * 1e4  # bps
        mean = 100 * rows[f"agent_{metric}"].to_numpy()
        lo = 100 * rows[f"agent_{metric}_lo"].to_numpy()
        hi = 100 * rows[f"agent_{metric}_hi"].to_numpy()
        ax.plot(x, mean, marker="o", label="agent (mean over seeds)")
        ax.fill_between(x, lo, hi, alpha=0.2, label="95% interval")
        if with_bh:
            ax.plot(x, 100 * rows[f"bh_{metric}"].to_numpy(), marker="s", color="grey", label="buy-and-hold")
        ax.axhline(0.0, color="black", lw=0.6)
        ax.set_title(symbol)
        ax.set_xlabel("commission (bps per side)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(frameon=False, fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def _curves(curves: Mapping[str, tuple[pd.Series, pd.Series]], path: Path) -> None:
    fig, axes = plt.subplots(len(curves), 1, figsize=(10, 2.8 * len(curves) + 0.5), squeeze=False)
    for ax, (label, (agent, held)) in zip(axes[:, 0], curves.items(), strict=True):
        ax.plot(agent.index, agent.to_numpy(), marker=".", label="agent")
        ax.plot(held.index, held.to_numpy(), marker=".", color="grey", label="buy-and-hold")
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("equity at session close")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    save_figure(fig, path)


def write_day_trading_report(
    table: pd.DataFrame,
    curves: Mapping[str, tuple[pd.Series, pd.Series]],
    config: BaseModel,
    out_dir: Path,
    *,
    title: str,
    algorithm: str,
    seeds: int,
    notes: Sequence[str] = (),
) -> Path:
    """report.html (with its PNGs) in `out_dir`: the table, return and win rate by commission per
    symbol, and the equity curves given (label -> (agent, buy-and-hold) at session closes). Every file is
    written to a temporary and renamed into place, so a failure leaves the old file or none."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _by_commission(table, "total_return", "Out-of-sample return by commission", "return %",
                   out_dir / "return_by_commission.png", with_bh=True)  # fmt: skip
    _by_commission(table, "win_rate", "Win rate by commission", "winning trades %",
                   out_dir / "win_rate_by_commission.png", with_bh=False)  # fmt: skip
    _curves(curves, out_dir / "equity.png")
    captions = {
        "return_by_commission.png": ("Return by commission", "Agent (mean, 95% interval over seeds) vs buy-and-hold."),
        "win_rate_by_commission.png": ("Win rate by commission", "Agent round trips profitable after fees."),
        "equity.png": ("Agent vs buy-and-hold", "Equity at each session close over the test sessions."),
    }  # fmt: skip
    figures = [
        Figure(file, heading, caption, data_uri(out_dir / file)) for file, (heading, caption) in captions.items()
    ]
    html = render(
        "day_trading.html",
        TEMPLATES, name=title, date=date.today().isoformat(), algorithm=algorithm, seeds=seeds,
        labels=[label for _, label, _ in COLUMNS], rows=table_rows(table), figures=figures, notes=list(notes),
        config_sections=config_sections(config),
    )  # fmt: skip
    path = out_dir / "report.html"
    atomic_write_text(path, html)
    return path
