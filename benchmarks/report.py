"""Present benchmark results: rich tables for the terminal, results.json and a markdown table.

Why: one run should leave a machine-readable record (with the machine it ran on, since speed
depends on it) and a table ready to paste into the README.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.table import Table

from benchmarks.env_speed import SpeedResult
from benchmarks.execution_quality import SeedResult, StudyResult
from benchmarks.training_speed import TrainingRow
from tradebrain.backtest.bootstrap import Estimate

PACKAGES = ("tradebrain", "numpy", "numba", "torch", "gymnasium", "stable-baselines3", "gym-anytrading")


def machine_info() -> dict[str, Any]:
    """CPU count, load, Python and package versions, date and commit: what the numbers depend on."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "versions": versions,
        "git_commit": commit,
    }


def jsonable(value: Any) -> Any:
    """Dataclasses (results, Estimates) and paths as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def verdict(passed: bool, markup: bool = True) -> str:
    """PASS or MISS, coloured for the terminal."""
    word = "PASS" if passed else "MISS"
    if not markup:
        return word
    return f"[green]{word}[/]" if passed else f"[red]{word}[/]"


def interval(estimate: Estimate, digits: int = 0, unit: str = "", scale: float = 1.0) -> str:
    """`value [low, high]` (times `scale`) with thousands separators."""
    value, low, high = (x * scale for x in (estimate.value, estimate.low, estimate.high))
    return f"{value:,.{digits}f}{unit} [{low:,.{digits}f}, {high:,.{digits}f}]"


def speed_tables(result: SpeedResult) -> list[Table]:
    """Steps/s per env, and the ratios against the reference with PASS/MISS."""
    rows = Table(title=f"Env speed (median of {result.repeats} x {result.seconds:g} s)")
    rows.add_column("env")
    rows.add_column("env steps/s", justify="right")
    rows.add_column("µs/step", justify="right")
    for row in result.rows:
        rows.add_row(row.label, f"{row.steps_per_s:,.0f}", f"{1e6 / row.steps_per_s:.3f}")
    ratios = Table(title="Speed vs reference")
    for column in ("ratio", "value", "target", "result"):
        ratios.add_column(column, justify="left" if column == "ratio" else "right")
    for ratio in result.ratios:
        ratios.add_row(ratio.label, f"{ratio.value:.2f}x", f">= {ratio.target:g}x", verdict(ratio.passed))
    return [rows, ratios]


def training_table(rows: list[TrainingRow]) -> Table:
    """PPO env steps/s per training env."""
    table = Table(title="SB3 PPO training throughput")
    for column in ("run", "env steps", "seconds", "env steps/s"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for row in rows:
        table.add_row(row.label, f"{row.timesteps:,}", f"{row.seconds:.1f}", f"{row.steps_per_s:,.0f}")
    return table


def _seed_cells(study: StudyResult, seed: SeedResult, markup: bool) -> list[str]:
    objective = seed.objective_usd
    return [
        str(seed.seed),
        f"{objective[study.agent].value / 1e3:,.1f}",
        f"{objective['AC-optimal'].value / 1e3:,.1f}",
        f"{objective['TWAP'].value / 1e3:,.1f}",
        interval(seed.gap_pct, 2),
        interval(seed.minus_ac, 1, scale=1e-3),
        interval(seed.minus_twap, 1, scale=1e-3),
        f"{seed.train_seconds:.0f}+{seed.eval_seconds:.0f}",
        verdict(seed.passed, markup),
    ]


QUALITY_COLUMNS = (
    "seed",
    "agent E+λV k$",
    "AC E+λV k$",
    "TWAP E+λV k$",
    "gap to AC % [95% CI]",
    "agent−AC k$ [95% CI]",
    "agent−TWAP k$ [95% CI]",
    "train+eval s",
    "result",
)


def summary(study: StudyResult, markup: bool = True) -> str:
    """The study's verdict in one line: mean gap to AC, and how many seeds met the per-seed target."""
    met = sum(seed.passed for seed in study.seeds)
    ci = study.mean_gap_ci
    over_seeds = f" [{ci[0]:+.2f}, {ci[1]:+.2f}] over seeds" if ci else ""
    return (
        f"{study.episodes:,} held-out episodes; mean gap to AC {study.mean_gap_pct:+.2f}%{over_seeds}; "
        f"{met}/{len(study.seeds)} seeds met the target — {verdict(study.passed, markup)}"
    )


def quality_tables(studies: list[StudyResult]) -> list[Table]:
    """Per study: each seed's objectives, the gap to AC and the paired differences with 95% CIs."""
    tables = []
    for study in studies:
        table = Table(title=f"{study.name} ({study.config}): {study.target}", caption=summary(study))
        for column in QUALITY_COLUMNS:
            table.add_column(column, justify="right")
        for seed in study.seeds:
            table.add_row(*_seed_cells(study, seed, markup=True))
        tables.append(table)
    return tables


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(
    results: dict[str, Any],
    speed: SpeedResult | None,
    training: list[TrainingRow] | None,
    quality: list[StudyResult] | None,
) -> str:
    """The results as markdown tables, for the README."""
    machine, versions = results["machine"], results["machine"]["versions"]
    quick = " — **quick run (smoke budgets)**" if results["settings"]["quick"] else ""
    lines = [
        "# tradebrain benchmarks",
        "",
        f"{machine['date']}, {machine['cpus_usable']} CPUs ({machine['processor']}), "
        f"Python {machine['python']}, numpy {versions['numpy']}, torch {versions['torch']}{quick}",
    ]
    if speed is not None:
        lines += ["", f"## Env speed (median of {speed.repeats} x {speed.seconds:g} s)", ""]
        lines += _markdown_table(["env", "env steps/s"], [[r.label, f"{r.steps_per_s:,.0f}"] for r in speed.rows])
        lines += [""]
        lines += _markdown_table(
            ["ratio", "value", "target", "result"],
            [[r.label, f"{r.value:.2f}x", f">= {r.target:g}x", verdict(r.passed, False)] for r in speed.ratios],
        )
    if training is not None:
        lines += ["", "## PPO training throughput", ""]
        lines += _markdown_table(
            ["run", "env steps", "seconds", "env steps/s"],
            [[r.label, f"{r.timesteps:,}", f"{r.seconds:.1f}", f"{r.steps_per_s:,.0f}"] for r in training],
        )
    for study in quality or []:
        lines += ["", f"## {study.name}: {study.target}", ""]
        lines += [f"`{study.config}`: {summary(study, markup=False)}", ""]
        lines += _markdown_table(list(QUALITY_COLUMNS), [_seed_cells(study, s, False) for s in study.seeds])
    return "\n".join(lines) + "\n"


def write(out: Path, results: dict[str, Any], text: str) -> tuple[Path, Path]:
    """Write results.json and results.md under `out` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "results.json", out / "results.md"
    json_path.write_text(json.dumps(jsonable(results), indent=2) + "\n")
    md_path.write_text(text)
    return json_path, md_path
