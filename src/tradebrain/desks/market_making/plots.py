"""Figures of a market-making report: quotes around the mid in one episode, and inventory paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, never a window: reports are written by CLI runs and servers
import matplotlib.pyplot as plt

from tradebrain.desks.market_making.desk import MarketMakingDesk
from tradebrain.desks.market_making.evaluate import MarketMakingOutcomes
from tradebrain.reports.plots import save_figure

MM_COLORS = MarketMakingDesk.colors
"""Fixed colours of the market-making baselines (blue, green, purple); agents take the warm colours
of `policy_colors`."""


def fill_sides(outcome: MarketMakingOutcomes, episode: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(bid filled, ask filled) per step of one episode, recovered from the fill count and the
    inventory change: +1 is a bid fill, -1 an ask fill, 0 with two fills both sides."""
    change = np.diff(outcome.inventory[episode])
    both = outcome.fills[episode] == 2
    return (change > 0) | both, (change < 0) | both


def plot_quotes(
    outcomes: Mapping[str, MarketMakingOutcomes], names: Sequence[str], colors: Mapping[str, str], path: Path
) -> None:
    """The mid path of the first episode with each named policy's bid and ask prices around it
    (held over each step), fills marked: ▲ on the bid (bought), ▼ on the ask (sold)."""
    first = outcomes[names[0]]
    dt, steps = first.dt, first.fills.shape[1]
    times = np.arange(steps + 1) * dt
    fig, ax = plt.subplots(figsize=(10.0, 5.4))
    ax.plot(times, first.mids[0], color="black", lw=1.6, label="mid", zorder=4)
    for name in names:
        outcome, color = outcomes[name], colors[name]
        mids = outcome.mids[0, :-1]
        bid, ask = mids - outcome.bid_offsets[0], mids + outcome.ask_offsets[0]
        ax.stairs(bid, times, color=color, lw=1.0, alpha=0.85, baseline=None, label=f"{name} bid / ask")
        ax.stairs(ask, times, color=color, lw=1.0, alpha=0.85, baseline=None, ls="--")
        bought, sold = fill_sides(outcome)
        centres = times[:-1] + dt / 2
        ax.scatter(centres[bought], bid[bought], marker="^", s=28, color=color, edgecolor="black", lw=0.4, zorder=5)
        ax.scatter(centres[sold], ask[sold], marker="v", s=28, color=color, edgecolor="black", lw=0.4, zorder=5)
        ax.plot([], [], ls="none", marker="^", color=color, mec="black", label=f"{name}: {bought.sum()} buys")
        ax.plot([], [], ls="none", marker="v", color=color, mec="black", label=f"{name}: {sold.sum()} sells")
    ax.set_xlabel("time t (model units; horizon T = " + f"{steps * dt:g})")
    ax.set_ylabel("price $")
    ax.set_title("Quotes around the mid, episode 0 (solid: bid, dashed: ask; ▲ bid hit, ▼ ask hit)")
    ax.set_xlim(0, times[-1])
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    save_figure(fig, path)


def plot_inventory_paths(
    outcomes: Mapping[str, MarketMakingOutcomes], colors: Mapping[str, str], path: Path, samples: int = 3
) -> None:
    """Inventory q_t, one panel per policy on a shared scale (overlaid, the wide bands hide the narrow
    ones): mean path, shaded 5%-95% of episodes, and a few thin sample paths."""
    count = len(outcomes)
    fig, axes = plt.subplots(1, count, figsize=(3.6 * count + 1.0, 4.4), sharey=True, squeeze=False)
    for ax, (name, outcome) in zip(axes[0], outcomes.items(), strict=True):
        color, inventory = colors[name], outcome.inventory
        times = np.arange(inventory.shape[1]) * outcome.dt
        for row in inventory[:samples]:
            ax.step(times, row, where="post", color=color, lw=0.7, alpha=0.55, zorder=1)
        low, high = np.percentile(inventory, [5, 95], axis=0)
        ax.fill_between(times, low, high, color=color, alpha=0.18, lw=0, step="post", zorder=2)
        ax.plot(times, inventory.mean(axis=0), color="black", lw=1.8, zorder=3)
        ax.axhline(0.0, color="black", lw=0.6)
        final = inventory[:, -1]
        ax.set_title(f"{name}\nfinal q: mean {final.mean():.2f}, std {final.std(ddof=1):.2f}", fontsize=10)
        ax.set_xlabel("time t (model units)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("inventory q (units)")
    fig.suptitle(
        f"Inventory paths: black the mean, shaded 5%-95% of episodes, thin lines episodes 0-{samples - 1}", y=1.02
    )
    save_figure(fig, path)
