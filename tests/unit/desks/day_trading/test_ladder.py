"""The realism ladder re-runs the same policies as fills get realistic: the close rung is the study's
own backtest, each rung after it only adds frictions, and the summary has one row per rung."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from tests.unit.desks.day_trading.test_backtest import random_policy

from tradebrain.core.config import with_updates
from tradebrain.desks.day_trading.backtest import backtest_days
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.ladder import (
    RUNGS,
    TRAINED_AT_RUNG,
    run_ladder,
    run_trained_ladder,
    rung_metrics,
    summarise_ladder,
    training_venue,
    write_ladder,
)
from tradebrain.desks.day_trading.study import Cell, DayTradingDeskConfig, SymbolData, session_metrics
from tradebrain.market.venue import VenueConfig
from tradebrain.rl.export import ExportedPolicy

CONFIG = DayTradingDeskConfig(train_sessions="30", test_sessions="11")


@pytest.fixture(scope="module")
def data(future_bars: pd.DataFrame, future_days: list[TradingDay]) -> SymbolData:
    return SymbolData("FUT", future_bars, future_days)


def _cells(folder: Path, n_inputs: int) -> list[Cell]:
    cells = []
    for seed in range(3):
        path = random_policy(n_inputs, seed).save(folder / f"policy-{seed}.npz")
        empty = pd.Series(dtype=float)
        cells.append(Cell("FUT", 0.0, seed, {}, {}, empty, empty, 0.0, path))
    return cells


def test_the_rung_of_the_studys_own_fills_is_the_studys_own_backtest(data: SymbolData) -> None:
    policy = random_policy(data.days[0].features.shape[1] + 2, 0)
    test_days = data.days[-11:]
    own = session_metrics(backtest_days(data.bars, test_days, policy, CONFIG.env), test_days)
    (rung,) = [rung for rung in RUNGS if rung.venue == CONFIG.env.venue]  # next open + range spread
    same = rung_metrics(policy, data, CONFIG, 0.0, rung.venue)
    assert same["total_return"] == pytest.approx(own["total_return"], rel=1e-12)
    assert same["trades_per_session"] == pytest.approx(own["number_of_trades"] / 11)
    close_env = CONFIG.env.model_copy(update={"venue": RUNGS[0].venue})
    at_close = session_metrics(backtest_days(data.bars, test_days, policy, close_env), test_days)
    close = rung_metrics(policy, data, CONFIG, 0.0, RUNGS[0].venue)
    assert close["total_return"] == pytest.approx(at_close["total_return"], rel=1e-12)


def test_a_spread_costs_the_agent_and_buy_and_hold(data: SymbolData) -> None:
    policy = random_policy(data.days[0].features.shape[1] + 2, 1)
    plain = rung_metrics(policy, data, CONFIG, 0.0, VenueConfig(fill="next_open", spread="none"))
    wide = rung_metrics(policy, data, CONFIG, 0.0, VenueConfig(fill="next_open", spread="fixed", spread_bps=20))
    assert wide["bh_total_return"] < plain["bh_total_return"]
    if plain["trades_per_session"] > 0:
        assert wide["total_return"] < plain["total_return"]


def test_ladder_rows_summary_and_files(data: SymbolData, tmp_path: Path) -> None:
    cells = _cells(tmp_path, data.days[0].features.shape[1] + 2)
    rows = run_ladder(cells, [data], CONFIG)
    assert len(rows) == len(cells) * len(RUNGS)
    assert set(rows["trained"]) == {CONFIG.env.venue.label()}
    summary = summarise_ladder(rows)
    assert list(summary["rung"]) == [rung.name for rung in RUNGS]
    assert (summary["seeds"] == 3).all()
    assert (summary["total_return_lo"] <= summary["total_return"]).all()
    assert (summary["total_return"] <= summary["total_return_hi"]).all()
    paths = write_ladder(rows, summary, tmp_path / "run")
    assert paths["plot"].read_bytes().startswith(b"\x89PNG")
    assert len(pd.read_csv(paths["summary"])) == len(RUNGS)


def test_the_ladder_needs_trained_cells(data: SymbolData) -> None:
    from tradebrain.core.errors import InputError

    empty = pd.Series(dtype=float)
    with pytest.raises(InputError, match="exported policy"):
        run_ladder([Cell("FUT", 0.0, 0, {}, {}, empty, empty, 0.0, None)], [data], CONFIG)


def test_exported_policies_round_trip(tmp_path: Path, data: SymbolData) -> None:
    policy = random_policy(data.days[0].features.shape[1] + 2, 2)
    loaded = ExportedPolicy.load(policy.save(tmp_path / "p.npz"))
    assert loaded.n_inputs == policy.n_inputs


@pytest.mark.parametrize(
    "venue",
    [
        VenueConfig(fill="next_open", spread="range", latency_bars=2),
        VenueConfig(fill="next_open", spread="range", latency_bars=1, participation=0.1),
    ],
    ids=["latency", "participation"],
)
def test_the_compiled_agent_decides_as_the_python_one_with_orders_in_flight(
    data: SymbolData, venue: VenueConfig
) -> None:
    policy = random_policy(data.days[0].features.shape[1] + 2, 3)
    days = data.days[-3:]
    compiled = backtest_days(data.bars, days, policy, CONFIG.env, venue=venue)
    python = backtest_days(data.bars, days, policy, CONFIG.env, venue=venue, compiled=False)
    assert compiled.equity.tolist() == python.equity.tolist()
    assert len(compiled.fills) == len(python.fills) > 0


def test_the_second_mode_trains_each_cell_under_its_rungs_fills(data: SymbolData, tmp_path: Path) -> None:
    """Each rung's cells train under the rung's fills (the cap rung under the rung before it: the
    env fills whole orders) and are tested under the rung's own."""
    import torch

    torch.set_num_threads(1)
    tiny = with_updates(CONFIG, {"train.timesteps": 512, "train.n_envs": 2, "train.hyperparams": {"n_steps": 256,
                                 "batch_size": 256, "n_epochs": 1}})  # fmt: skip
    rungs = [RUNGS[0], RUNGS[-1]]
    rows = run_trained_ladder([data], [0.0], [0, 1], tiny, tmp_path, rungs)
    assert len(rows) == 2 * len(rungs) and set(rows["trained"]) == {TRAINED_AT_RUNG}
    assert list(dict.fromkeys(rows["rung"])) == [rung.name for rung in rungs]
    trained = [yaml.safe_load((tmp_path / "ladder-train" / f"rung-{k}" / "FUT" / "commission-0" / "seed-0" /
                               "config.yaml").read_text())["env"]["venue"] for k in (1, 2)]  # fmt: skip
    assert trained[0]["fill"] == "close" and trained[1]["latency_bars"] == 1
    assert trained[1]["participation"] is None  # trained without the cap, tested with it
    assert training_venue(RUNGS[-1]) == RUNGS[-2].venue
    summary = summarise_ladder(rows)
    assert list(summary["rung"]) == [rung.name for rung in rungs] and (summary["seeds"] == 2).all()
