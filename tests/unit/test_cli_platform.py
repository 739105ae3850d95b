"""`tradebrain platform ...` end to end in one process (the in-process bus): a replay lands in the
store once however often it is played, and bad options exit 2 naming the option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.data.sources.synthetic import synthetic_intraday
from tradebrain.data.store.parquet import ParquetBarStore

runner = CliRunner()


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_replay_is_stored_once_however_often_it_plays(tmp_path: Path) -> None:
    bars = synthetic_intraday("AAA", days=2)
    file = tmp_path / "aaa.csv"
    bars.to_csv(file, index=False)
    store = tmp_path / "store"
    for _ in range(2):
        result = _json(["platform", "replay", str(file), "--speed", "inf", "--store", str(store)])
        assert result["published"] == len(bars) and result["rejected"] == 0
    kept = ParquetBarStore(store).read("AAA")
    assert len(kept) == len(bars) and kept["timestamp"].is_unique


def test_up_plays_a_synthetic_source_into_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = _json(["platform", "up", "--source", "synthetic:AAA,BBB", "--speed", "inf", "--until-done",
                    "--store", str(store)])  # fmt: skip
    assert result["published"] == result["stored"] == 2 * 5 * 390
    assert ParquetBarStore(store).symbols() == ["AAA", "BBB"]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["platform", "up", "--role", "boss"], "--role"),
        (["platform", "up", "--role", "storage"], "--bus nats://"),
        (["platform", "up"], "--source"),
        (["platform", "up", "--source", "bloomberg"], "--source"),
        (["platform", "up", "--source", "replay:/nope.csv"], "nope.csv"),
        (["platform", "up", "--source", "synthetic:AAA", "--bus", "kafka://x"], "kafka://x"),
        (["platform", "history", "AAA", "--start", "2024-01-03", "--end", "2024-01-02"], "--start"),
        (["platform", "history", "AAA", "--start", "yesterday-ish", "--end", "2024-01-02"], "--start"),
        (["platform", "history", "AAA", "--start", "2024-01-02", "--end", "2024-01-03", "--out", "x.txt"], "--out"),
    ],
)
def test_bad_options_exit_2_naming_the_fix(args: list[str], expect: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert expect in result.output
