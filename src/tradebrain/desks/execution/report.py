"""Write an execution desk's evaluation as a self-contained HTML page, PNG figures and raw data.

The page embeds its figures as data URIs and carries no external CSS or JS, so it can be mailed or
archived as one file; `episodes.csv` and `metrics.json` keep the numbers for any later analysis.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from tradebrain.backtest.bootstrap import Estimate
from tradebrain.core.io import atomic_open, atomic_write_text
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.evaluate import METRIC_LABELS, ExecutionReport
from tradebrain.desks.execution.plots import BASELINE_COLORS, plot_inventory
from tradebrain.reports.common import Figure, compact_usd, config_sections, data_uri, finite_json, fmt, significance
from tradebrain.reports.plots import plot_distributions, policy_colors
from tradebrain.reports.render import render

TEMPLATES = Path(__file__).parent / "templates"
"""This desk's report page (it extends reports/templates/base.html)."""


def write_execution_report(
    report: ExecutionReport,
    config: ExecutionEnvConfig,
    out_dir: Path,
    *,
    title: str,
    agents: Sequence[str] = (),
    analysis: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write inventory.png, costs.png, savings.png, episodes.csv, metrics.json and report.html into
    out_dir (created if needed); return the path of report.html.

    `agents` name the trained policies (summarised and drawn with sample paths); `config` is shown
    in full, so pass the whole study config (any subclass of ExecutionEnvConfig). Every file is written
    to a temporary and renamed into place, so a kill or a full disk leaves the old file or none."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_episodes(report, config, out_dir / "episodes.csv")
    metrics = {**report.as_dict(), **({"analysis": dict(analysis)} if analysis is not None else {})}
    atomic_write_text(out_dir / "metrics.json", json.dumps(finite_json(metrics), indent=2))
    agents = [name for name in agents if name in report.outcomes]
    html = render(
        "execution.html",
        TEMPLATES,
        name=title,
        date=date.today().isoformat(),
        report=report,
        episodes=report.as_dict()["episodes"],
        agents=agents,
        summaries=[_summary(name, report) for name in agents or list(report.metrics)[1:]],
        labels=METRIC_LABELS,
        rows=_metric_rows(report),
        closed_form=_closed_form(analysis, report) if analysis is not None else None,
        config_sections=config_sections(config),
        figures=_figures(report, config, agents, out_dir),
        notes=list(notes),
    )
    return atomic_write_text(out_dir / "report.html", html)


def _bps_per_dollar(config: ExecutionEnvConfig) -> float:
    """Basis points of the arrival notional X*s0 per dollar, the scale of every bps number."""
    return 1e4 / (config.task.shares * config.market.s0)


def _write_episodes(report: ExecutionReport, config: ExecutionEnvConfig, path: Path) -> None:
    """One row per policy and episode: shortfall in $ and bps, then holdings x_0..x_N in shares."""
    scale = _bps_per_dollar(config)
    with atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "policy",
                "episode",
                "shortfall_usd",
                "shortfall_bps",
                *(f"x_{k}" for k in range(config.task.steps + 1)),
            ]
        )
        for name, outcome in report.outcomes.items():
            for episode, (cost, holdings) in enumerate(zip(outcome.shortfall, outcome.holdings, strict=True)):
                writer.writerow([name, episode, float(cost), float(cost) * scale, *map(float, holdings)])


def _cell(metric: str, estimate: Estimate | None) -> dict[str, str]:
    """{"value", "interval"} of a table cell; a dash where the metric does not apply."""
    if estimate is None:
        return {"value": "—", "interval": ""}
    low, high = fmt(metric, estimate.low, unit=False), fmt(metric, estimate.high, unit=False)
    return {"value": fmt(metric, estimate.value), "interval": f"[{low}, {high}]"}


def _metric_rows(report: ExecutionReport) -> list[dict[str, Any]]:
    """One row per policy with a cell per METRIC_LABELS column."""
    return [
        {"name": name, "cells": [_cell(key, metrics.get(key)) for key in METRIC_LABELS]}
        for name, metrics in report.metrics.items()
    ]


def _summary(name: str, report: ExecutionReport) -> str:
    """One sentence: E+λV with its interval, how far from the AC optimum and the other comparisons,
    and the savings vs the reference, each with whether its paired interval excludes zero."""
    metrics = report.metrics[name]
    objective = metrics["objective_usd"]
    parts = [
        f"{name}: E+λV = {compact_usd(objective.value)} "
        f"[{compact_usd(objective.low, False)}, {compact_usd(objective.high, False)}]"
    ]
    others = sorted((key for key in metrics if key.startswith("objective_minus_")), key=lambda k: "AC" not in k)
    for key in others:
        other, diff = key.removeprefix("objective_minus_"), metrics[key]
        base = report.metrics[other]["objective_usd"].value
        where = "the AC optimum" if other == "AC-optimal" else other
        share = f"{abs(diff.value) / abs(base):.1%} " if base else ""
        parts.append(
            f"{share}{'above' if diff.value >= 0 else 'below'} {where} (difference {compact_usd(diff.value)} "
            f"[{compact_usd(diff.low, False)}, {compact_usd(diff.high, False)}]; {significance(diff)})"
        )
    sentence = ", ".join(parts)
    savings = metrics.get("savings_bps")
    if savings is not None:
        verb, sign = ("saves", 1) if savings.value >= 0 else ("costs more by", -1)
        low, high = sorted((sign * savings.low, sign * savings.high))
        sentence += (
            f"; {verb} {sign * savings.value:.1f} bps vs {report.reference} [{low:.1f}, {high:.1f}] "
            f"({significance(savings)})"
        )
    return sentence + "."


def _closed_form(analysis: Mapping[str, Any], report: ExecutionReport) -> dict[str, Any]:
    """kappa and, per schedule, the closed-form E, sqrt(V), V and E+λV beside the simulated ones."""
    rows = []
    for name, moments in analysis["schedules"].items():
        simulated = report.metrics.get(name, {})
        rows.append({
            "name": name,
            "expected": fmt("shortfall_usd", moments["expected"]),
            "std": fmt("shortfall_usd", math.sqrt(moments["variance"])),
            "variance": f"{moments['variance']:.4g}",
            "objective": fmt("shortfall_usd", moments["objective"]),
            "simulated_mean": _cell("shortfall_usd", simulated.get("shortfall_usd")),
            "simulated_objective": _cell("shortfall_usd", simulated.get("objective_usd")),
        })  # fmt: skip
    return {
        "kappa": f"{analysis['kappa']:.4g}",
        "kappa_approx": f"{analysis['kappa_continuous_approximation']:.4g}",
        "tau": f"{analysis['tau']:g}",
        "risk_aversion": f"{analysis['risk_aversion']:g}",
        "rows": rows,
    }


def _figures(report: ExecutionReport, config: ExecutionEnvConfig, agents: Sequence[str], out_dir: Path) -> list[Figure]:
    """Draw the three figures into out_dir and return them with their captions."""
    task, scale = config.task, _bps_per_dollar(config)
    colors = policy_colors(list(report.outcomes), BASELINE_COLORS)
    plot_inventory(report.outcomes, task.shares, task.tau, agents, out_dir / "inventory.png")
    notional = f"X·s0 = {compact_usd(task.shares * config.market.s0)}"
    costs = {name: outcome.shortfall * scale for name, outcome in report.outcomes.items()}
    costs_note = plot_distributions(
        costs, colors, f"implementation shortfall (bps of arrival notional {notional})",
        f"Implementation shortfall per episode ({report.as_dict()['episodes']} episodes per policy)",
        out_dir / "costs.png",
    )  # fmt: skip
    base = costs[report.reference]
    savings = {name: base - cost for name, cost in costs.items() if name != report.reference}
    savings_note = plot_distributions(
        savings, colors, f"savings vs {report.reference} (bps of {notional}; > 0: cheaper)",
        f"Savings vs {report.reference} per episode, paired on the same episodes", out_dir / "savings.png",
        zero_label=f"0 (same cost as {report.reference})",
    )  # fmt: skip
    sampled = f" Thin lines: the first 20 episodes of {', '.join(agents)}." if agents else ""
    captions = {
        "inventory.png": (
            "Holdings", f"Fraction of the {task.shares:,.0f}-share block still held at t_k = k·τ (τ = "
            f"{task.tau:g} days). Thick lines: mean over episodes; shaded: 5%-95% of episodes (a static "
            f"schedule has no spread).{sampled}",
        ),
        "costs.png": (
            "Cost distribution", f"Implementation shortfall per episode in bps of the arrival notional "
            f"({notional}); step histograms on shared bins, dashed lines at the means. A policy with the "
            f"same cost in every episode is drawn as a solid line. {costs_note}",
        ),
        "savings.png": (
            f"Savings vs {report.reference}", f"{report.reference} shortfall minus the policy's shortfall on "
            f"the same episode, bps; right of the black zero line the policy was cheaper. {savings_note}",
        ),
    }  # fmt: skip
    return [Figure(file, title, text, data_uri(out_dir / file)) for file, (title, text) in captions.items()]
