"""Figures shared by the desks' reports: consistent policy colours and per-episode distributions, saved as PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import numpy.typing as npt

matplotlib.use("Agg")  # files only, never a window: reports are written by CLI runs and servers
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tradebrain.core.io import atomic_path

Array = npt.NDArray[np.float64]

DPI = 110
CLIP = (0.5, 99.5)
"""Percentiles of the pooled non-constant samples that bound a distribution's x-axis."""
OTHER_COLORS = ("#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#000000")


def policy_colors(names: Sequence[str], fixed: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `fixed` colour of each policy that has one (a desk's baselines) and distinct warm colours
    for the others, so a report's figures agree."""
    fixed = fixed or {}
    others = iter(OTHER_COLORS * (1 + len(names) // len(OTHER_COLORS)))
    return {name: fixed.get(name) or next(others) for name in names}


def save_figure(fig: Figure, path: Path) -> None:
    """Write the figure (PNG unless `path` names another format) atomically: a full disk leaves the old
    file or none, never half an image. Releases its memory (reports run in long-lived processes)."""
    try:
        with atomic_path(path) as temporary:
            # the temporary's name ends in .tmp: the format comes from the target's suffix
            fig.savefig(temporary, dpi=DPI, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)


def _is_constant(values: Array) -> bool:
    """True for a spike (e.g. sell-now's cost without noise): drawn as a line, not a histogram."""
    return bool(np.ptp(values) <= 1e-9 * max(1.0, float(np.abs(values).max())))


def _overlaps(first: Array, second: Array) -> bool:
    return bool(first[0] <= second[1] and second[0] <= first[1])


def _on_scale(samples: Mapping[str, Array]) -> set[str]:
    """Varying samples to draw: with three or more, one whose central CLIP range overlaps no other's
    (sell-now's cost beside the schedules', say) is left off-scale, so the rest stay readable."""
    varying = {name: np.percentile(v, CLIP) for name, v in samples.items() if not _is_constant(v)}
    if len(varying) < 3:
        return set(varying)
    return {
        name
        for name, span in varying.items()
        if any(_overlaps(span, other) for key, other in varying.items() if key != name)
    }


def _axis_range(samples: Mapping[str, Array], shown: set[str], include: Sequence[float]) -> tuple[float, float]:
    """x-range from the CLIP percentiles of the pooled samples drawn (all if none varies), padded,
    so one policy's spike or a few outliers cannot squeeze the others into a single bin."""
    drawn = [samples[name] for name in shown]
    pooled = np.concatenate(drawn or list(samples.values()))
    low, high = np.percentile(pooled, CLIP) if drawn else (pooled.min(), pooled.max())
    low, high = min([float(low), *include]), max([float(high), *include])
    pad = 0.03 * (high - low) if high > low else max(1.0, abs(low) * 0.1)
    return low - pad, high + pad


def plot_distributions(
    samples: Mapping[str, Array],
    colors: Mapping[str, str],
    xlabel: str,
    title: str,
    path: Path,
    zero_label: str | None = None,
) -> str:
    """Overlaid step histograms (shared bins) with each mean dashed; constant samples drawn as a
    vertical line, or an arrow at the edge when off-scale. Returns a caption sentence on the clipping."""
    include = [0.0] if zero_label else []
    shown = _on_scale(samples)
    low, high = _axis_range(samples, shown, include)
    episodes = max(len(v) for v in samples.values())
    edges = np.linspace(low, high, int(np.clip(2 * np.sqrt(episodes), 12, 60)) + 1)
    fig, ax = plt.subplots(figsize=(9.0, 4.8))
    hidden = 0
    for name, values in samples.items():
        color, mean = colors[name], float(values.mean())
        if _is_constant(values):
            _mark_off_scale(ax, f"{name} (constant {mean:,.1f})", mean, color, (low, high))
            continue
        if name not in shown:
            _mark_off_scale(ax, f"{name} (mean {mean:,.1f})", mean, color, (low, high))
            continue
        inside = values[(values >= low) & (values <= high)]
        hidden += len(values) - len(inside)
        counts, _ = np.histogram(inside, bins=edges)
        ax.stairs(counts, edges, color=color, lw=1.8, label=f"{name} (mean {mean:,.1f})")
        ax.axvline(mean, color=color, ls="--", lw=1.3)
    if zero_label:
        ax.axvline(0.0, color="black", lw=1.0, label=zero_label)
    ax.set_xlim(low, high)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("episodes per bin")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="policy (dashed: mean)")
    save_figure(fig, path)
    total = sum(len(samples[name]) for name in shown)
    apart = sorted(name for name in samples if name not in shown and not _is_constant(samples[name]))
    note = f" {', '.join(apart)}: far from the others, marked at the edge with its mean." if apart else ""
    return (
        f"The x-axis spans the {CLIP[0]:g}%-{CLIP[1]:g}% range of the pooled episodes of the policies drawn "
        f"({low:,.1f} to {high:,.1f}); {hidden} of {total} values fall outside it and are not drawn.{note}"
    )


def _mark_off_scale(ax: Axes, label: str, value: float, color: str, span: tuple[float, float]) -> None:
    """A single value for a policy: a vertical line, or a labelled arrow at the edge if off-scale."""
    if span[0] <= value <= span[1]:
        ax.axvline(value, color=color, lw=2.2, alpha=0.8, label=label)
        return
    edge, align, arrow = (span[1], "right", "→") if value > span[1] else (span[0], "left", "←")
    ax.annotate(
        f"{label}, off-scale {arrow}",
        xy=(edge, 0.85),
        xycoords=("data", "axes fraction"),
        ha=align,
        va="center",
        color=color,
        fontsize=9,
        bbox={"boxstyle": "round", "fc": "white", "ec": color},
    )
