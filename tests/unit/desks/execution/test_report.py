from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tradebrain.desks.execution.report import write_execution_report
from tradebrain.desks.execution.study import EvaluateConfig, ExecutionDeskConfig, analyze, baseline_policies, evaluate

EPISODES = 50


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExecutionDeskConfig]:
    config = ExecutionDeskConfig(name="report-check", evaluate=EvaluateConfig(episodes=EPISODES))
    report = evaluate(config, baseline_policies(config), progress=False)
    out_dir = tmp_path_factory.mktemp("report")
    path = write_execution_report(
        report, config, out_dir, title=config.name, analysis=analyze(config), notes=["a note for the reader"]
    )
    assert path == out_dir / "report.html"
    return out_dir, config


def test_figures_are_real_pngs(written: tuple[Path, ExecutionDeskConfig]) -> None:
    out_dir, _ = written
    for name in ("inventory.png", "costs.png", "savings.png"):
        data = (out_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert len(data) > 5_000, name


def test_html_is_self_contained_and_names_everything(written: tuple[Path, ExecutionDeskConfig]) -> None:
    out_dir, config = written
    html = (out_dir / "report.html").read_text()
    assert config.name in html
    for policy in ("TWAP", "AC-optimal", "VWAP", "sell-now"):
        assert policy in html
    assert html.count("data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=\"https?://", html)
    assert "0.6071" in html  # the exact discrete kappa
    assert "a note for the reader" in html


def test_raw_data_files(written: tuple[Path, ExecutionDeskConfig]) -> None:
    out_dir, config = written
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert set(metrics["policies"]) == {"TWAP", "AC-optimal", "VWAP", "sell-now"}
    assert metrics["analysis"]["kappa"] == pytest.approx(0.607076, rel=1e-5)
    with (out_dir / "episodes.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 * EPISODES
    holdings = [key for key in rows[0] if key.startswith("x_")]
    assert len(holdings) == config.task.steps + 1
    twap = [row for row in rows if row["policy"] == "TWAP"]
    assert float(twap[0]["x_0"]) == config.task.shares and float(twap[0]["x_5"]) == 0.0
    bps = float(twap[0]["shortfall_usd"]) * 1e4 / (config.task.shares * config.market.s0)
    assert float(twap[0]["shortfall_bps"]) == pytest.approx(bps)
