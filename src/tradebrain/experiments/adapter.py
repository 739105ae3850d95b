"""What the experiment runner needs from a desk: its config model, how to run one cell, how to
score a model during tuning. One adapter per desk, registered by name in `experiments.desks`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

AGENT = "agent"
"""Metric prefix of the trained agent in every cell, whatever the algorithm (so cells line up)."""


@dataclass(frozen=True)
class CellOutput:
    """The measured outcome of one cell.

    `metrics`: flat name -> value (`<policy>/<metric>`, `agent_minus_<baseline>/<metric>`);
    `improvements`: baseline -> per-episode improvement of the agent over it (positive = agent better),
    the raw material of the probability of improvement."""

    metrics: dict[str, float]
    improvements: dict[str, list[float]] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)


ReportValue = Callable[[int, float], bool]
"""Called with (training steps so far, intermediate value); returns True when the trial should stop."""


@dataclass(frozen=True)
class DeskAdapter:
    """One desk as the experiment runner sees it."""

    name: str
    config_cls: type[BaseModel]
    run_cell: Callable[[Any, Path, bool], CellOutput]
    """(resolved desk config, output folder, write the HTML report?) -> outcome; writes artifacts."""
    tune_trial: Callable[[Any, int, int, int, ReportValue], float]
    """(config, eval_every, eval_episodes, validation_seed_offset, report) -> final objective (lower is better)."""
    objective: str
    """The cell metric that `tune_trial` optimises (it minimises E+λV, or maximises a utility by minimising
    its negative)."""
    headline: tuple[str, ...]
    """Metrics shown first in tables, in order."""
    tensorboard: Callable[[Any, Path], Any]
    """The config with TensorBoard logging into the given folder (does not change any result)."""
    comparison: tuple[str, str]
    """The two metrics compared with each baseline: the desk's objective, then a per-episode mean
    (each present as `<baseline>/<metric>` and `agent_minus_<baseline>/<metric>`)."""
