"""The day-trading desk as a cell: walk-forward windows (indices, out of sample), the data source
and window checks at the config boundary, one tiny cell end to end, and its reproducibility."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from tradebrain.core.config import with_overrides
from tradebrain.core.errors import ConfigError
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.experiment import (
    DayTradingExperimentConfig,
    WalkForward,
    Window,
    load_market,
    run_daytrading_cell,
    session_windows,
    walk_forward_windows,
)
from tradebrain.desks.registry import get_desk
from tradebrain.experiments.cell import CellTask, execute_cell
from tradebrain.experiments.grid import expand
from tradebrain.experiments.spec import load_spec

TINY_TRAIN = {"timesteps": 2048, "n_envs": 8}


@pytest.fixture(scope="module")
def bar_file(tmp_path_factory: pytest.TempPathFactory, future_bars: pd.DataFrame) -> Path:
    """The real 1-minute sample as a clean CSV (timestamp column; the sample's own header is short)."""
    path = tmp_path_factory.mktemp("bars") / "fut.csv"
    future_bars.drop(columns="symbol").to_csv(path, index=False)
    return path


def config(bar_file: Path, **fields: Any) -> DayTradingExperimentConfig:
    """A config on the sample with the given fields (walk_forward etc.)."""
    return DayTradingExperimentConfig.model_validate({"data": str(bar_file), "symbol": "FUT", **fields})


def test_walk_forward_windows_roll_by_the_step() -> None:
    windows = walk_forward_windows(41, WalkForward(train_sessions=20, test_sessions=5, step_sessions=5))
    assert windows == [Window(0, 20, 20, 25), Window(5, 25, 25, 30), Window(10, 30, 30, 35), Window(15, 35, 35, 40)]
    # a step shorter than the test period overlaps the tests; the last window ends on the last session
    overlapping = walk_forward_windows(10, WalkForward(train_sessions=4, test_sessions=3, step_sessions=1))
    assert [(w.train_start, w.test_start, w.test_stop) for w in overlapping] == [(0, 4, 7), (1, 5, 8), (2, 6, 9),
                                                                                  (3, 7, 10)]  # fmt: skip
    assert walk_forward_windows(25, WalkForward(train_sessions=20, test_sessions=5, step_sessions=7)) == [
        Window(0, 20, 20, 25)
    ]


def test_every_test_session_comes_after_its_windows_training_sessions(
    bar_file: Path, future_days: list[TradingDay]
) -> None:
    cfg = config(bar_file, walk_forward={"train_sessions": 8, "test_sessions": 3, "step_sessions": 4})
    days = load_market(cfg).days
    assert [day.label for day in days] == [day.label for day in future_days]  # the same 41 sessions
    windows = session_windows(cfg, days)
    assert len(windows) == (41 - 8 - 3) // 4 + 1
    for window in windows:
        train, test = window.split(days)
        assert len(train) == 8 and len(test) == 3
        assert train[-1].timestamps[-1] < test[0].timestamps[0]
        assert all(a.timestamps[-1] < b.timestamps[0] for a, b in itertools.pairwise(test))
    # without walk_forward: the desk's one split (first 30, last 11 sessions)
    (single,) = session_windows(config(bar_file), days)
    assert single == Window(0, 30, 30, 41)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"walk_forward": {"train_sessions": 40, "test_sessions": 5, "step_sessions": 5}},
         "walk_forward.train_sessions (40) + walk_forward.test_sessions (5)"),
        ({"walk_forward": {"train_sessions": 1, "test_sessions": 5, "step_sessions": 5}},
         "walk_forward.train_sessions"),
        ({"walk_forward": {"train_sessions": 20, "test_sessions": 0, "step_sessions": 5}},
         "walk_forward.test_sessions"),
        ({"walk_forward": {"train_sessions": 20, "test_sessions": 5, "step_sessions": 0}},
         "walk_forward.step_sessions"),
        ({"walk_forward": {"train_sessions": 20, "test_sessions": 5}}, "walk_forward.step_sessions"),
        ({"train_sessions": "35", "test_sessions": "11"}, "train_sessions / test_sessions"),
        ({"synthetic": True}, "not both"),
    ],
)  # fmt: skip
def test_bad_windows_and_sources_are_rejected_naming_the_field(
    bar_file: Path, fields: dict[str, Any], message: str
) -> None:
    assert get_desk("daytrading").config_cls is DayTradingExperimentConfig
    with pytest.raises(ConfigError, match=re.escape(message)):
        with_overrides(config(bar_file), fields, "spec base")


def test_a_missing_bar_file_is_a_config_error_on_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data='.*nowhere\.csv'.*no such bar file"):
        DayTradingExperimentConfig.model_validate({"data": str(tmp_path / "nowhere.csv"), "symbol": "X"})
    with pytest.raises(ValueError, match="'synthetic: false' needs a bar file"):
        DayTradingExperimentConfig.model_validate({"synthetic": False})


def test_a_spec_with_too_long_windows_fails_before_any_work(make_spec: Callable[..., Path], bar_file: Path) -> None:
    base = {"data": str(bar_file), "symbol": "FUT",
            "walk_forward": {"train_sessions": 30, "test_sessions": 12, "step_sessions": 5}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"walk_forward\.train_sessions"):
        load_spec(make_spec(name="dt", desk="daytrading", base=base))


def test_a_tiny_walk_forward_cell_gives_finite_metrics_per_window(
    make_spec: Callable[..., Path], bar_file: Path, tmp_path: Path
) -> None:
    base = {"data": str(bar_file), "symbol": "FUT", "train": TINY_TRAIN,
            "walk_forward": {"train_sessions": 10, "test_sessions": 3, "step_sessions": 28}}  # fmt: skip
    cell = expand(load_spec(make_spec(name="dt", desk="daytrading", base=base)))[0]
    record = execute_cell(CellTask(cell, str(tmp_path / "cell"), write_report=False, tensorboard=False))
    assert record.completed, record.error
    metrics = record.metrics
    assert metrics["agent/windows"] == 2.0
    for who in ("agent", "buy-and-hold", "agent_minus_buy-and-hold"):
        for key in ("total_return", "sharpe", "max_drawdown", "number_of_trades", "walk_forward_return"):
            assert math.isfinite(metrics[f"{who}/{key}"]), f"{who}/{key}"
    (gains,) = record.improvements.values()
    assert list(record.improvements) == ["buy-and-hold"] and len(gains) == 2
    assert metrics["agent_minus_buy-and-hold/total_return"] == pytest.approx(sum(gains) / 2)
    assert metrics["agent/negative_total_return"] == -metrics["agent/total_return"]
    folder = tmp_path / "cell"
    assert (folder / "window-0" / "policy.npz").is_file() and (folder / "window-1" / "policy.npz").is_file()
    equity = pd.read_csv(folder / "equity.csv")
    assert sorted(equity["window"].unique()) == [0, 1] and len(equity) == 6
    assert set(equity["session"]) == {10, 11, 12, 38, 39, 40}


def test_the_same_cell_twice_gives_identical_metrics(bar_file: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = config(bar_file, train=TINY_TRAIN,
                 walk_forward={"train_sessions": 10, "test_sessions": 3, "step_sessions": 28})  # fmt: skip
    first = run_daytrading_cell(cfg, tmp_path / "a", False)
    second = run_daytrading_cell(cfg, tmp_path / "b", False)
    assert first.metrics == second.metrics
    assert first.improvements == second.improvements


def test_tuning_reports_validation_values_on_held_out_training_sessions(bar_file: Path) -> None:
    desk = get_desk("daytrading")
    cfg = config(bar_file, train={**TINY_TRAIN, "timesteps": 4096},
                 walk_forward={"train_sessions": 10, "test_sessions": 3, "step_sessions": 3})  # fmt: skip
    reported: list[tuple[int, float]] = []

    def report(steps: int, value: float) -> bool:
        reported.append((steps, value))
        return False

    value = desk.tune_trial(cfg, 2048, 10, 0, report)
    assert [steps for steps, _ in reported] == [2048, 4096]
    assert value == reported[-1][1] and all(math.isfinite(v) for _, v in reported)
