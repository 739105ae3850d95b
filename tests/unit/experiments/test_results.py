"""The result files: tables with intervals, the CSV per cell, the HTML summary with its figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tradebrain.experiments.aggregate import aggregate
from tradebrain.experiments.grid import Cell
from tradebrain.experiments.results import build_tables, write_results
from tradebrain.experiments.runner import ExperimentRun
from tradebrain.experiments.store import CellRecord

HEADLINE = ("agent/objective_usd", "agent_minus_TWAP/objective_usd")


def _run(tmp_path: Path) -> ExperimentRun:
    cells = [Cell("execution", {"train.algo": algo}, seed, {}, digest)
             for algo, digest in (("ppo", "aaa"), ("sac", "bbb")) for seed in (0, 1, 2)]  # fmt: skip
    records: dict[str, CellRecord | None] = {}
    for index, cell in enumerate(cells):
        value = 100.0 + 10 * index
        metrics = {"agent/objective_usd": value, "TWAP/objective_usd": 150.0,
                   "agent_minus_TWAP/objective_usd": value - 150.0, "agent_minus_TWAP/shortfall_usd": -5.0}  # fmt: skip
        records[cell.key] = CellRecord(
            key=cell.key, config_hash=cell.config_hash, seed=cell.seed, values=cell.values, status="completed",
            metrics=metrics, improvements={"TWAP": [1.0, -2.0, 3.0, 0.5]},
        )  # fmt: skip
    failed = cells[-1]
    records[failed.key] = CellRecord(key=failed.key, config_hash=failed.config_hash, seed=failed.seed,
                                     values=failed.values, status="failed", error="RuntimeError: boom")  # fmt: skip
    return ExperimentRun("demo", tmp_path / "demo", cells, records, skipped=2, interrupted=False, tracking_uri=None)


def test_tables_show_means_with_intervals_and_constant_baselines_without(tmp_path: Path) -> None:
    run = _run(tmp_path)
    tables = build_tables(aggregate(run.cells, run.records), HEADLINE, ("objective_usd", "shortfall_usd"))
    assert [row.name for row in tables.rows] == ["train.algo=ppo", "train.algo=sac"]
    ppo = tables.rows[0].cells
    assert ppo[0].value == "$110" and ppo[0].interval.startswith("[$")
    assert ppo[-1].value == "3"  # seeds
    assert tables.rows[1].cells[-1].value == "2"  # the failed seed is left out
    baseline = tables.baseline_rows[0]
    assert baseline.name == "train.algo=ppo vs TWAP"
    assert baseline.cells[0].value == "$150" and baseline.cells[0].interval == ""  # the same on every seed
    assert baseline.cells[3].value == "75%"  # improvements 1, -2, 3, 0.5 on every seed: 3 of 4 positive


def test_files_hold_every_cell_and_the_summary(tmp_path: Path) -> None:
    run = _run(tmp_path)
    paths = write_results(run, aggregate(run.cells, run.records), HEADLINE, ("objective_usd", "shortfall_usd"))
    data = json.loads(paths["json"].read_text())
    assert (data["completed"], data["failed"], data["skipped"]) == (5, 1, 2)
    assert [c["label"] for c in data["configurations"]] == ["train.algo=ppo", "train.algo=sac"]
    with paths["csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and rows[-1]["status"] == "failed" and rows[-1]["error"] == "RuntimeError: boom"
    html = paths["html"].read_text()
    assert "train.algo=sac vs TWAP" in html and "RuntimeError: boom" in html
    assert "data:image/png;base64," in html
    assert (run.root / "improvement.png").is_file() and (run.root / "per_seed.png").is_file()
