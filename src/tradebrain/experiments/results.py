"""The results of an experiment as files: `results.json` (every cell and every configuration's
statistics), `results.csv` (one row per cell) and `summary.html` (tables and figures)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tradebrain.core.io import atomic_open, atomic_write_text
from tradebrain.desks.contract import AGENT
from tradebrain.experiments.aggregate import ConfigSummary, SeedStats
from tradebrain.experiments.runner import ExperimentRun
from tradebrain.reports.common import finite_json, fmt
from tradebrain.reports.experiments import TableCell, TableRow, write_experiment_summary


def format_value(metric: str, value: float) -> str:
    """A metric value as the desk reports show it ($, bps, rates as %)."""
    return fmt(metric.rsplit("/", 1)[-1], value)


def stat_cell(metric: str, stat: SeedStats | None) -> TableCell:
    """Mean with the 95% interval of the mean below it."""
    if stat is None:
        return TableCell("—")
    if stat.low == stat.high:  # one seed, or a value the seeds do not change (a baseline)
        return TableCell(format_value(metric, stat.mean))
    return TableCell(format_value(metric, stat.mean), f"[{format_value(metric, stat.low)}, "
                     f"{format_value(metric, stat.high)}]")  # fmt: skip


@dataclass(frozen=True)
class ResultTables:
    """The two tables of an experiment, as plain rows for the terminal and the HTML page."""

    columns: list[str]
    rows: list[TableRow]
    baseline_columns: list[str]
    baseline_rows: list[TableRow]


def build_tables(
    summaries: Sequence[ConfigSummary], headline: Sequence[str], comparison: tuple[str, str]
) -> ResultTables:
    """Configurations x headline metrics; and per configuration and baseline: the baseline's objective,
    agent minus baseline (objective, then a per-episode mean), and the probability the agent beats it."""
    columns = [*headline, "seeds"]
    rows = [
        TableRow(s.label, [*(stat_cell(name, s.metrics.get(name)) for name in headline), TableCell(str(len(s.seeds)))])
        for s in summaries
    ]
    objective, second = comparison
    baseline_columns = [f"baseline {objective}", f"agent − baseline {objective}", f"agent − baseline {second}",
                        "P(agent beats baseline)"]  # fmt: skip
    baseline_rows = []
    for summary in summaries:
        for baseline, estimate in summary.improvement.items():
            poi = TableCell(f"{estimate.value:.0%}", f"[{estimate.low:.0%}, {estimate.high:.0%}]")
            cells = [
                stat_cell(objective, summary.metrics.get(f"{baseline}/{objective}")),
                stat_cell(objective, summary.metrics.get(f"{AGENT}_minus_{baseline}/{objective}")),
                stat_cell(second, summary.metrics.get(f"{AGENT}_minus_{baseline}/{second}")),
                poi,
            ]
            baseline_rows.append(TableRow(f"{summary.label} vs {baseline}", cells))
    return ResultTables(columns, rows, baseline_columns, baseline_rows)


def results_data(run: ExperimentRun, summaries: Sequence[ConfigSummary]) -> dict[str, Any]:
    """JSON-ready results: the run, every cell (without per-episode data) and every configuration."""
    cells = []
    for cell in run.cells:
        record = run.records.get(cell.key)
        entry: dict[str, Any] = {"key": cell.key, "values": cell.values, "seed": cell.seed,
                                 "config_hash": cell.config_hash}  # fmt: skip
        if record is None:
            entry["status"] = "not run"
        else:
            entry |= {k: v for k, v in asdict(record).items() if k not in ("improvements", "provenance")}
        cells.append(entry)
    data: dict[str, Any] = finite_json({
        "name": run.name, "root": str(run.root), "tracking_uri": run.tracking_uri, "skipped": run.skipped,
        "interrupted": run.interrupted, "completed": sum(1 for c in cells if c["status"] == "completed"),
        "failed": sum(1 for c in cells if c["status"] == "failed"), "cells": cells,
        "configurations": [summary.as_dict() for summary in summaries],
    })  # fmt: skip
    return data


def write_results(
    run: ExperimentRun,
    summaries: Sequence[ConfigSummary],
    headline: Sequence[str],
    comparison: tuple[str, str],
    colors: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """results.json, results.csv and summary.html under runs/<spec>/ (baselines in the desk's `colors`);
    their paths. Each is written to a temporary and renamed into place: a kill or a full disk leaves the
    old file or none, never a truncated one."""
    run.root.mkdir(parents=True, exist_ok=True)
    data = results_data(run, summaries)
    paths = {"json": run.root / "results.json", "csv": run.root / "results.csv"}
    atomic_write_text(paths["json"], json.dumps(data, indent=2))
    metric_names = sorted({name for cell in data["cells"] for name in cell.get("metrics", {})})
    value_keys = list(run.cells[0].values) if run.cells else []
    with atomic_open(paths["csv"]) as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", *value_keys, "seed", "status", "seconds", "error", *metric_names])
        for cell in data["cells"]:
            metrics = cell.get("metrics", {})
            writer.writerow([cell["key"], *(cell["values"].get(k) for k in value_keys), cell["seed"], cell["status"],
                             cell.get("seconds", ""), cell.get("error") or "",
                             *(metrics.get(name, "") for name in metric_names)])  # fmt: skip
    tables = build_tables(summaries, headline, comparison)
    main = headline[0]
    notes = [f"{data['completed']} of {len(run.cells)} cells completed, {data['failed']} failed; "
             f"{run.skipped} were completed by an earlier run and skipped."]  # fmt: skip
    notes += [f"failed {c['key']} ({c['values']}, seed {c['seed']}): {c['error']}" for c in data["cells"]
              if c["status"] == "failed"]  # fmt: skip
    paths["html"] = write_experiment_summary(
        run.root, run.name, tables.columns, tables.rows, tables.baseline_columns, tables.baseline_rows, main,
        per_seed={s.label: s.per_seed[main] for s in summaries if main in s.per_seed},
        means={s.label: (s.metrics[main].mean, s.metrics[main].low, s.metrics[main].high) for s in summaries
               if main in s.metrics},
        improvement={s.label: {b: (e.value, e.low, e.high) for b, e in s.improvement.items()} for s in summaries},
        notes=notes, colors=colors,
    )  # fmt: skip
    return paths
