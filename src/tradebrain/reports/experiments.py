"""An experiment's HTML summary: per-configuration results across seeds, the comparison with the
desk's baselines, and figures of the headline metric per seed and of the probability of improvement.

Takes plain data (labels, numbers, intervals), so this layer never imports the experiment runner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np

from tradebrain.core.io import atomic_write_text
from tradebrain.reports.common import Figure, data_uri
from tradebrain.reports.plots import policy_colors, save_figure
from tradebrain.reports.render import render

Interval = tuple[float, float, float]
"""(value, low, high) of a 95% interval."""


@dataclass(frozen=True)
class TableCell:
    """A number as shown, and its interval line (may be empty)."""

    value: str
    interval: str = ""


@dataclass(frozen=True)
class TableRow:
    """One row of a summary table: a label and its cells, `name` as the sections macro expects."""

    name: str
    cells: list[TableCell]


def plot_per_seed(per_seed: Mapping[str, Sequence[float]], means: Mapping[str, Interval], metric: str,
                  path: Path) -> None:  # fmt: skip
    """The metric of every seed (dots) with the mean and its 95% interval (bar) per configuration."""
    labels = list(per_seed)
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(labels) + 1.6))
    for row, label in enumerate(labels):
        values = np.asarray(per_seed[label], dtype=float)
        ax.scatter(values, np.full(len(values), row), color="#1f77b4", s=22, alpha=0.7, zorder=3)
        value, low, high = means[label]
        ax.errorbar(value, row, xerr=[[value - low], [high - value]], fmt="D", color="#d62728", capsize=4, zorder=4)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"{metric}: each seed (dots), mean and 95% bootstrap interval (diamond)")
    save_figure(fig, path)


def plot_improvement(
    improvement: Mapping[str, Mapping[str, Interval]], path: Path, colors: Mapping[str, str] | None = None
) -> None:
    """P(agent beats the baseline on an episode) per configuration and baseline, with 95% intervals;
    `colors`: the desk's baseline colours, so they match its reports."""
    labels = list(improvement)
    baselines = sorted({name for values in improvement.values() for name in values})
    colors = policy_colors(baselines, colors)
    height = 0.8 / max(len(baselines), 1)
    fig, ax = plt.subplots(figsize=(8.5, 0.5 * len(labels) * max(len(baselines), 1) * 0.6 + 1.8))
    for index, baseline in enumerate(baselines):
        rows = [row for row, label in enumerate(labels) if baseline in improvement[label]]
        values = [improvement[labels[row]][baseline] for row in rows]
        centers = np.asarray(rows, dtype=float) - 0.4 + height * (index + 0.5)
        points = np.asarray([value for value, _, _ in values])
        errors = np.asarray([[value - low, high - value] for value, low, high in values]).T
        ax.barh(centers, points, height=height * 0.9, xerr=errors, capsize=2, label=baseline, alpha=0.8,
                color=colors[baseline])  # fmt: skip
    ax.axvline(0.5, color="black", lw=0.8, ls="--")
    ax.set_xlim(0, 1)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("probability of improvement (ties count half)")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.set_title("How often the agent beats each baseline, over seeds and episodes")
    save_figure(fig, path)


def write_experiment_summary(
    out_dir: Path,
    title: str,
    columns: Sequence[str],
    rows: Sequence[TableRow],
    baseline_columns: Sequence[str],
    baseline_rows: Sequence[TableRow],
    headline: str,
    per_seed: Mapping[str, Sequence[float]],
    means: Mapping[str, Interval],
    improvement: Mapping[str, Mapping[str, Interval]],
    notes: Sequence[str] = (),
    colors: Mapping[str, str] | None = None,
) -> Path:
    """Write `summary.html` (with its PNG figures beside it), each file atomically; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    if per_seed:
        plot_per_seed(per_seed, means, headline, out_dir / "per_seed.png")
        figures.append(Figure("per_seed.png", f"{headline} per seed", "Each configuration over its training seeds.",
                              data_uri(out_dir / "per_seed.png")))  # fmt: skip
    if improvement:
        plot_improvement(improvement, out_dir / "improvement.png", colors)
        caption = ("Share of (seed, held-out episode) pairs where the agent's cost is lower than the baseline's; "
                   "intervals from a two-level bootstrap (seeds, then episodes).")  # fmt: skip
        figures.append(Figure("improvement.png", "Probability of improvement", caption,
                              data_uri(out_dir / "improvement.png")))  # fmt: skip
    html = render(
        "experiment.html", title=title, date=date.today().isoformat(),
        columns=list(columns), rows=rows, baseline_columns=list(baseline_columns), baseline_rows=baseline_rows,
        figures=figures, notes=list(notes),
    )  # fmt: skip
    path = out_dir / "summary.html"
    atomic_write_text(path, html)
    return path
