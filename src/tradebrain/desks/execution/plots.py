"""The execution report's own figure: holdings paths over the horizon."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt

from tradebrain.desks.execution.desk import ExecutionDesk
from tradebrain.desks.execution.evaluate import ExecutionOutcomes
from tradebrain.reports.plots import policy_colors, save_figure

BASELINE_COLORS = ExecutionDesk.colors
"""The execution baselines' colours in every figure of its report."""


def plot_inventory(
    outcomes: Mapping[str, ExecutionOutcomes],
    shares: float,
    tau: float,
    agents: Collection[str],
    path: Path,
    samples: int = 20,
) -> None:
    """Holdings x_k/X against t_k in days: mean path and 5%-95% band per policy, plus thin sample
    paths of the agents, whose paths (unlike a static schedule's) differ between episodes."""
    colors = policy_colors(list(outcomes), BASELINE_COLORS)
    fig, ax = plt.subplots(figsize=(8.5, 5.0))
    for name, outcome in outcomes.items():
        fraction = outcome.holdings / shares
        times = np.arange(fraction.shape[1]) * tau
        color = colors[name]
        if name in agents:
            for row in fraction[:samples]:
                ax.plot(times, row, color=color, lw=0.6, alpha=0.3, zorder=1)
        low, high = np.percentile(fraction, [5, 95], axis=0)
        ax.fill_between(times, low, high, color=color, alpha=0.15, lw=0, zorder=2)
        marker = "o" if len(times) <= 31 else None
        label = f"{name} (+ {min(samples, len(fraction))} sample episodes)" if name in agents else name
        ax.plot(times, fraction.mean(axis=0), color=color, lw=2, marker=marker, ms=4, label=label, zorder=3)
    ax.set_xlabel("time $t_k$ (days)")
    ax.set_ylabel("holdings $x_k/X$ (fraction of the block left)")
    ax.set_title("Holdings over the horizon: mean path, shaded 5%-95% of episodes")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", frameon=True, framealpha=0.9)
    save_figure(fig, path)
