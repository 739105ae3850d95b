"""`python -m benchmarks`: env speed, SB3 training throughput and execution quality in one run.

Prints rich tables and writes `<out>/results.json` (with the machine info) and `<out>/results.md`.
`--only speed,training,quality` picks parts, `--quick` shrinks every budget for a smoke run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from rich.console import Console

from benchmarks import (
    backtest_speed,
    day_trading,
    market_making_quality,
    platform_speed,
    report,
    runner_overhead,
    store_speed,
)
from benchmarks.env_speed import SpeedResult, run_speed
from benchmarks.execution_quality import StudyResult, run_quality
from benchmarks.market_making_quality import run_market_making_quality
from benchmarks.training_speed import TrainingRow, run_training

PARTS = (
    "speed", "training", "quality", "mm-quality", "store", "backtest", "overhead", "daytrading-latency",
    "daytrading-learning", "platform",
)  # fmt: skip
T = TypeVar("T")


@dataclass(frozen=True)
class Budget:
    """How long each part runs: the full benchmark, or a smoke run (`--quick`)."""

    speed_seconds: float = 2.5
    speed_repeats: int = 3
    num_envs: int = 1024
    train_vec_timesteps: int = 100_000
    train_dummy_timesteps: int = 30_000
    quality_seeds: tuple[int, ...] = (0, 1, 2)
    quality_timesteps_scale: float = 1.0
    quality_episodes: int | None = None
    market_making_seeds: int = 2
    store_bars: int = 1_500_000
    backtest_bars: int = 1_000_000
    """How many of quality_seeds the market-making studies train (about 2 minutes each)."""
    daytrading_train_timesteps: int = 20_000
    daytrading_decisions: int = 10_000
    learning_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    learning_timesteps: int = 120_000
    learning_window: int = 20
    learning_workers: int = 2


QUICK = Budget(
    speed_seconds=0.25,
    train_vec_timesteps=20_000,
    train_dummy_timesteps=3_000,
    quality_seeds=(0,),
    quality_timesteps_scale=0.1,
    quality_episodes=200,
    store_bars=50_000,
    backtest_bars=20_000,
    daytrading_train_timesteps=4_096,
    daytrading_decisions=2_000,
    learning_seeds=(0, 1, 2),
    learning_timesteps=30_000,
    learning_window=10,
)


def parse_parts(values: Sequence[str] | None) -> tuple[str, ...]:
    """`--only` values (repeatable, comma-separated) as parts in run order; all parts when none."""
    if not values:
        return PARTS
    chosen = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(chosen - set(PARTS))
    if unknown:
        raise SystemExit(f"--only: unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    return tuple(part for part in PARTS if part in chosen)


def _timed(console: Console, label: str, work: Callable[[Callable[[str], None]], T]) -> T:
    """Run one part behind a rich status line that shows what it is doing now."""
    start = time.perf_counter()
    with console.status(f"[bold]{label}[/]") as status:
        result = work(lambda message: status.update(f"[bold]{label}[/]: {message}"))
    console.log(f"{label} took {time.perf_counter() - start:.0f} s")
    return result


def run(
    parts: Sequence[str] = PARTS,
    out: Path | None = None,
    budget: Budget | None = None,
    quick: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the chosen parts, print their tables, write results.json and results.md; return the results.

    `out` defaults to runs/bench, `budget` to the full benchmark. Torch runs on one thread (small
    networks train fastest so, and the machine may be shared); the caller's setting is restored.
    """
    with _single_thread_without_view_warnings():
        out = out or Path("runs/bench")
        budget = budget or Budget()
        console = console or Console()
        results: dict[str, Any] = {
            "machine": report.machine_info(),
            "settings": {"parts": list(parts), "quick": quick, "budget": report.jsonable(budget)},
        }
        speed: SpeedResult | None = None
        training: list[TrainingRow] | None = None
        quality: list[StudyResult] | None = None
        if "speed" in parts:
            speed = _timed(
                console,
                "env speed",
                lambda notify: run_speed(
                    budget.speed_seconds, budget.speed_repeats, budget.num_envs, on_progress=notify
                ),
            )
            results["speed"] = speed
            for table in report.speed_tables(speed):
                console.print(table)
            for note in speed.notes:
                console.print(f"[dim]note: {note}[/]")
        if "training" in parts:
            training = _timed(
                console,
                "training throughput",
                lambda notify: run_training(
                    budget.train_vec_timesteps, budget.train_dummy_timesteps, on_progress=notify
                ),
            )
            results["training"] = training
            console.print(report.training_table(training))
        if "quality" in parts:
            quality = _timed(
                console,
                "execution quality",
                lambda notify: run_quality(
                    budget.quality_seeds,
                    budget.quality_timesteps_scale,
                    budget.quality_episodes,
                    on_progress=notify,
                ),
            )
            results["quality"] = quality
            for table in report.quality_tables(quality):
                console.print(table)
        text = report.markdown(results, speed, training, quality)
        extra_parts: dict[str, tuple[str, Callable[[Callable[[str], None]], Any], Any]] = {
            "mm-quality": (
                "market-making quality",
                lambda notify: run_market_making_quality(
                    budget.quality_seeds[: budget.market_making_seeds],
                    budget.quality_timesteps_scale,
                    budget.quality_episodes,
                    on_progress=notify,
                ),
                market_making_quality,
            ),
            "store": (
                "bar store speed",
                lambda notify: store_speed.run_store_speed(budget.store_bars, on_progress=notify),
                store_speed,
            ),
            "backtest": (
                "backtest speed",
                lambda notify: backtest_speed.run_backtest_speed(budget.backtest_bars, on_progress=notify),
                backtest_speed,
            ),
            "overhead": (
                "experiment runner overhead",
                lambda notify: runner_overhead.run_runner_overhead(
                    *((2, 2000) if quick else (3, 100_000)), on_progress=notify
                ),
                runner_overhead,
            ),
            "daytrading-latency": (
                "day-trading decision latency",
                lambda notify: day_trading.run_latency(
                    budget.daytrading_train_timesteps, budget.daytrading_decisions, on_progress=notify
                ),
                day_trading,
            ),
            "daytrading-learning": (
                "MaskablePPO vs PPO-with-penalty",
                lambda notify: day_trading.run_learning(
                    budget.learning_seeds,
                    budget.learning_timesteps,
                    budget.learning_window,
                    budget.learning_workers,
                    on_progress=notify,
                ),
                day_trading,
            ),
            "platform": (
                "market-data platform",
                lambda notify: platform_speed.run_platform_speed(
                    *((50_000, 3_000, 30_000) if quick else (1_500_000, 30_000, 300_000)), on_progress=notify
                ),
                platform_speed,
            ),
        }
        for part, (label, work, module) in extra_parts.items():
            if part in parts:
                rows = _timed(console, label, work)
                results[part.replace("-", "_")] = rows
                console.print(module.table(rows))
                text += module.markdown(rows)
        json_path, md_path = report.write(out, results, text)
        console.print(f"wrote {json_path} and {md_path}")
        return results


@contextlib.contextmanager
def _single_thread_without_view_warnings() -> Iterator[None]:
    """Torch on one thread while benchmarking (the caller's setting is restored), and no warnings
    about stocks-v0 returning views of its data (gymnasium's checker flags them on every step)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*share an object", category=UserWarning)
            yield
    finally:
        torch.set_num_threads(threads)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        metavar="PART",
        help=f"run only these parts ({'|'.join(PARTS)}); repeatable or comma-separated",
    )
    parser.add_argument("--quick", action="store_true", help="short timings and budgets, for a smoke run")
    parser.add_argument("--out", type=Path, default=Path("runs/bench"), help="output folder (default runs/bench)")
    parser.add_argument("--seeds", type=str, default=None, help="training seeds for quality, e.g. 0,1,2")
    args = parser.parse_args(argv)
    budget = QUICK if args.quick else Budget()
    if args.seeds:
        try:
            seeds = tuple(int(seed) for seed in args.seeds.split(","))
        except ValueError:
            parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
        budget = dataclasses.replace(budget, quality_seeds=seeds)
    console = Console()
    if not console.is_terminal:  # piped to a file: room for the quality tables
        console = Console(width=150)
    run(parse_parts(args.only), args.out, budget, args.quick, console)


if __name__ == "__main__":
    main()
