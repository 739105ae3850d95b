"""A backtest's report: equity vs buy-and-hold, drawdown, monthly returns, trades on the price,
the metrics table, plus the raw equity and trade files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tradebrain.backtest.engine import BacktestResult
from tradebrain.backtest.metrics import METRIC_DEFINITIONS, drawdown_series
from tradebrain.core.io import atomic_write_csv, atomic_write_text
from tradebrain.reports.common import Figure, data_uri, finite_json
from tradebrain.reports.plots import save_figure
from tradebrain.reports.render import render


def _equity(result: BacktestResult, benchmark: BacktestResult | None, path: Path) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(2.2, 1))
    equity = pd.Series(result.equity, index=result.timestamps)
    top.plot(equity.index, equity.to_numpy(), lw=1.4, label=result.policy_name)
    if benchmark is not None:
        top.plot(equity.index, benchmark.equity, lw=1.1, color="grey", label=f"{benchmark.policy_name} (benchmark)")
    top.set_ylabel("equity $")
    top.legend(loc="upper left", frameon=False)
    top.grid(alpha=0.3)
    bottom.fill_between(equity.index, -100 * drawdown_series(equity).to_numpy(), 0.0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    fig.suptitle("Equity (marked at each close) and drawdown from the running peak")
    save_figure(fig, path)


def _monthly(result: BacktestResult, path: Path) -> None:
    equity = pd.Series(result.equity, index=result.timestamps)
    monthly = equity.resample("ME").last().pct_change().dropna() * 100
    if monthly.empty:
        monthly = pd.Series([100 * (equity.iloc[-1] / equity.iloc[0] - 1)], index=[equity.index[-1]])
    table = pd.DataFrame({"year": monthly.index.year, "month": monthly.index.month, "r": monthly.to_numpy()})
    grid = table.pivot(index="year", columns="month", values="r").reindex(columns=range(1, 13))
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(grid) + 1.5))
    bound = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
    image = ax.imshow(grid.to_numpy(), cmap="RdYlGn", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(range(12), ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"])
    ax.set_yticks(range(len(grid)), [str(year) for year in grid.index])
    fig.colorbar(image, ax=ax, label="monthly return %")
    ax.set_title("Monthly returns")
    save_figure(fig, path)


def _trades(result: BacktestResult, closes: np.ndarray, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.2))
    ax.plot(result.timestamps, closes, lw=0.9, color="black", label="close")
    buys = [(f.timestamp, f.price) for f in result.fills if f.quantity > 0]
    sells = [(f.timestamp, f.price) for f in result.fills if f.quantity < 0]
    for points, marker, color, label in ((buys, "^", "tab:green", "buy"), (sells, "v", "tab:red", "sell")):
        if points:
            times, prices = zip(*points, strict=True)
            ax.scatter(times, prices, marker=marker, color=color, s=22, label=f"{label} ({len(points)})", zorder=3)
    ax.set_ylabel("price $")
    ax.legend(loc="upper left", frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("Fills on the price")
    save_figure(fig, path)


def write_backtest_report(
    result: BacktestResult,
    metrics: Mapping[str, float],
    closes: np.ndarray,
    out_dir: Path,
    *,
    title: str,
    benchmark: BacktestResult | None = None,
    benchmark_metrics: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Path]:
    """Write equity.csv, trades.csv, metrics.json, three PNGs and report.html; return their paths.

    Each file is written to a temporary and renamed into place, so a kill or a full disk leaves the
    old file or none, never a truncated one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in ("equity.csv", "trades.csv", "metrics.json", "report.html")}
    atomic_write_csv(result.equity_frame(), paths["equity.csv"])
    atomic_write_csv(result.trades_frame(), paths["trades.csv"], index=False)
    payload = {"metrics": dict(metrics), "benchmark": dict(benchmark_metrics or {})}
    atomic_write_text(paths["metrics.json"], json.dumps(finite_json(payload), indent=2))
    _equity(result, benchmark, out_dir / "equity.png")
    _monthly(result, out_dir / "monthly.png")
    _trades(result, closes, out_dir / "trades.png")
    captions = {
        "equity.png": ("Equity and drawdown", "Equity of the strategy and of the benchmark on the same bars."),
        "monthly.png": ("Monthly returns", "Return of each calendar month, %."),
        "trades.png": ("Trades", "Every fill on the close price."),
    }
    figures = [Figure(file, title, caption, data_uri(out_dir / file)) for file, (title, caption) in captions.items()]
    rows = [
        {"name": key, "value": _fmt(metrics.get(key)), "benchmark": _fmt((benchmark_metrics or {}).get(key)),
         "definition": definition}
        for key, definition in METRIC_DEFINITIONS.items()
    ]  # fmt: skip
    html = render(
        "backtest.html", name=title, date=date.today().isoformat(), rows=rows, figures=figures,
        benchmark=benchmark.policy_name if benchmark else None, notes=list(notes), config_sections={},
    )  # fmt: skip
    atomic_write_text(paths["report.html"], html)
    return paths


def _fmt(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "—" if value is None or np.isnan(value) else ("∞" if value > 0 else "-∞")
    return f"{value:,.4g}"
