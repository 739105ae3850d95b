"""Write a market-making desk's evaluation as a self-contained HTML page, PNG figures and raw data.

Like the execution report: figures embedded as data URIs, no external CSS or JS; `episodes.csv`
and `metrics.json` keep the numbers. Shares the execution report's helpers (config table, figure
records, JSON clean-up, number format) and its distribution plot.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from tradebrain.backtest.bootstrap import Estimate
from tradebrain.core.io import atomic_open, atomic_write_text
from tradebrain.desks.market_making.evaluate import MM_METRIC_LABELS, MarketMakingReport
from tradebrain.desks.market_making.plots import MM_COLORS, plot_inventory_paths, plot_quotes
from tradebrain.reports.common import Figure, config_sections, data_uri, finite_json, fmt, significance
from tradebrain.reports.plots import plot_distributions, policy_colors
from tradebrain.reports.render import render

BENCHMARKS = ("A-S inventory", "symmetric")
"""The baselines every agent is compared with, in the summary and the difference columns."""

TEMPLATES = Path(__file__).parent / "templates"
"""This desk's report page (it extends reports/templates/base.html)."""


def write_market_making_report(
    report: MarketMakingReport,
    out_dir: Path,
    *,
    title: str,
    config: BaseModel,
    agents: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Path:
    """Write quotes.png, inventory.png, pnl.png, episodes.csv, metrics.json and report.html into
    out_dir (created if needed); return the path of report.html.

    `agents` name the trained policies (summarised, and drawn in the quotes figure beside A-S);
    `config` is shown in full, so pass the whole study config. Every file is written to a temporary and
    renamed into place, so a kill or a full disk leaves the old file or none."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_episodes(report, out_dir / "episodes.csv")
    atomic_write_text(out_dir / "metrics.json", json.dumps(finite_json(report.as_dict()), indent=2))
    agents = [name for name in agents if name in report.outcomes]
    columns = {**MM_METRIC_LABELS, **{f"utility_minus_{b}": f"utility − {b} $" for b in BENCHMARKS}}
    html = render(
        "market_making.html",
        TEMPLATES,
        name=title,
        date=date.today().isoformat(),
        report=report,
        episodes=report.as_dict()["episodes"],
        agents=agents,
        summaries=[_summary(name, report) for name in agents or list(report.metrics)],
        labels=columns,
        rows=[
            {"name": name, "cells": [_cell(metrics.get(key)) for key in columns]}
            for name, metrics in report.metrics.items()
        ],
        config_sections=config_sections(config),
        figures=_figures(report, agents, out_dir),
        notes=list(notes),
    )
    return atomic_write_text(out_dir / "report.html", html)


def _write_episodes(report: MarketMakingReport, path: Path) -> None:
    """One row per policy and episode: terminal PnL $, final inventory, max |q|, number of fills."""
    with atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["policy", "episode", "pnl", "final_inventory", "max_abs_inventory", "fills"])
        for name, outcome in report.outcomes.items():
            peaks = abs(outcome.inventory).max(axis=1)
            totals = outcome.fills.sum(axis=1)
            for episode, pnl in enumerate(outcome.pnl):
                final = outcome.inventory[episode, -1]
                writer.writerow([name, episode, float(pnl), float(final), float(peaks[episode]), int(totals[episode])])


def _cell(estimate: Estimate | None) -> dict[str, str]:
    """{"value", "interval"} of a table cell, two decimals; a dash where the metric does not apply."""
    if estimate is None:
        return {"value": "—", "interval": ""}
    low, high = fmt("value", estimate.low), fmt("value", estimate.high)
    return {"value": fmt("value", estimate.value), "interval": f"[{low}, {high}]"}


def _usd(estimate: Estimate) -> str:
    """$62.31 [$58.10, $66.02]: an estimate with its interval, to the cent."""
    return f"{_money(estimate.value)} [{_money(estimate.low)}, {_money(estimate.high)}]"


def _money(value: float) -> str:
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def _summary(name: str, report: MarketMakingReport) -> str:
    """One sentence: the utility with its interval and its paired difference vs A-S and vs
    symmetric, each with whether the 95% interval excludes zero."""
    metrics = report.metrics[name]
    parts = [f"{name}: utility E−(γ/2)V = {_usd(metrics['utility'])}"]
    for other in BENCHMARKS:
        diff = metrics.get(f"utility_minus_{other}")
        if diff is not None:
            word = "above" if diff.value >= 0 else "below"
            parts.append(f"{_money(abs(diff.value))} {word} {other} (difference {_usd(diff)}; {significance(diff)})")
    return ", ".join(parts) + "."


def _figures(report: MarketMakingReport, agents: Sequence[str], out_dir: Path) -> list[Figure]:
    """Draw the three figures into out_dir and return them with their captions."""
    colors = policy_colors(list(report.outcomes), MM_COLORS)
    quoted = [*agents, *(["A-S inventory"] if "A-S inventory" in report.outcomes else [])]
    quoted = quoted or list(report.outcomes)[:1]
    plot_quotes(report.outcomes, quoted, colors, out_dir / "quotes.png")
    plot_inventory_paths(report.outcomes, colors, out_dir / "inventory.png")
    pnl = {name: outcome.pnl for name, outcome in report.outcomes.items()}
    episodes = report.as_dict()["episodes"]
    pnl_note = plot_distributions(
        pnl, colors, "terminal PnL $ (wealth at T minus initial wealth, inventory marked at the mid)",
        f"Terminal PnL per episode ({episodes} episodes per policy, the same seeded episodes)", out_dir / "pnl.png",
        zero_label="0 (break even)" if min(float(v.min()) for v in pnl.values()) <= 0 else None,
    )  # fmt: skip
    captions = {
        "quotes.png": (
            "Quotes in one episode",
            f"Episode 0: the mid (black) and the bid (solid) and ask (dashed) prices of {', '.join(quoted)}, "
            "each held over its step; ▲ marks a bid that was hit (the policy bought), ▼ an ask that was hit "
            "(it sold). Time in the model's units.",
        ),
        "inventory.png": (
            "Inventory",
            "Inventory q_t, one panel per policy on a shared scale: black line the mean over episodes, "
            "shaded 5%-95% of episodes, thin lines the first three episodes.",
        ),
        "pnl.png": (
            "PnL distribution",
            f"Terminal PnL per episode; step histograms on shared bins, dashed lines at the means. {pnl_note}",
        ),
    }
    return [Figure(file, head, text, data_uri(out_dir / file)) for file, (head, text) in captions.items()]
