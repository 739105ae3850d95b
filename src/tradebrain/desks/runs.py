"""What every desk study does around its own training and evaluation: held-out evaluation seeds,
a run folder holding the resolved config, timed training, and the summary scripts read with --json."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import yaml
from pydantic import BaseModel, Field, field_validator

from tradebrain.core.config import StrictModel
from tradebrain.core.io import atomic_write_text

T = TypeVar("T")


class HeldOutEvaluation(StrictModel):
    """Evaluation on held-out seeded episodes, the same for every policy: how many, from which seed,
    which of the desk's baselines (`CHOICES`), and the bootstrap's seed. A desk adds its own fields."""

    CHOICES: ClassVar[tuple[str, ...]] = ()
    episodes: int = Field(1000, ge=10, description="held-out episodes per policy (same seeds for all)")
    seed_offset: int = Field(1_000_000, ge=0, description="first evaluation seed; training seeds stay below it")
    baselines: tuple[str, ...] = ()
    bootstrap_seed: int = 0

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in names if name not in cls.CHOICES]
        if unknown:
            raise ValueError(f"unknown baselines {unknown}; choose from {list(cls.CHOICES)}")
        return names


def evaluation_seeds(episodes: int, offset: int) -> list[int]:
    """Held-out seeds offset..offset+episodes-1; training never uses seeds in this range."""
    return list(range(offset, offset + episodes))


def write_config(config: BaseModel, folder: Path) -> Path:
    """folder/config.yaml: the fully resolved config, so the run is reproducible; written to a temporary
    and renamed into place, so a failure leaves the old file or none, never half a config."""
    return atomic_write_text(folder / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))


def start_run(config: BaseModel, name: str, runs_root: Path) -> Path:
    """runs_root/name, created, with the fully resolved config.yaml in it."""
    run_dir = runs_root / name
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(config, run_dir)
    return run_dir


def timed(work: Callable[[], T]) -> tuple[T, float]:
    """The result of `work` and the seconds it took."""
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def training_note(agent: str, timesteps: int, seed: int, seconds: float, episodes: int, offset: int) -> str:
    """One line for the report: how the agent was trained and on which held-out episodes it was judged."""
    return (
        f"{agent} trained for {timesteps:,} env steps (seed {seed}) in {seconds:.0f} s; evaluated on "
        f"{episodes:,} held-out episodes (seeds {offset:,}+), the same episodes for every policy."
    )


def run_summary(
    name: str, run_dir: Path, report: Path, model: Path | None, train_seconds: float, **extra: Any
) -> dict[str, Any]:
    """The JSON-ready head of a study's summary; desks add their own results after it."""
    return {
        "name": name,
        "run_dir": str(run_dir),
        "report": str(report),
        "model": str(model) if model else None,
        "train_seconds": train_seconds,
        **extra,
    }


class _Report(Protocol):
    def as_dict(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class Evaluation:
    """A saved model and the desk's baselines measured on the same held-out episodes: what `evaluate`
    returns for a desk whose report object already holds every policy's metrics."""

    name: str
    report: _Report

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the run's name and every policy's metrics with intervals."""
        return {"name": self.name, **self.report.as_dict()}
