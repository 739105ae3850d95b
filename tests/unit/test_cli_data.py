"""`tradebrain data ...` end to end on the real samples in ../shared/data and on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.data.features import FEATURE_NAMES

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
runner = CliRunner()


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data (the real samples) is not next to the repository")
def test_import_list_show_and_features_of_the_daily_sample(tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "store")]
    imported = _json(["data", "import", str(DATA / "nvda-daily-1999-2014.csv"), "--symbol", "NVDA", *store])
    assert imported["rows"] == imported["written"] == 4012
    again = _json(["data", "import", str(DATA / "nvda-daily-1999-2014.csv"), "--symbol", "NVDA", *store])
    assert again["rows"] == 4012  # idempotent: the store still holds each bar once
    listed = _json(["data", "list", *store])
    assert listed["symbols"] == [{"symbol": "NVDA", "first": listed["symbols"][0]["first"],
                                  "last": listed["symbols"][0]["last"], "bars": 4012, "interrupted": False,
                                  "status": "ok", "issues": []}]  # fmt: skip
    assert listed["symbols"][0]["first"].startswith("1999-01-22")
    shown = _json(["data", "show", "NVDA", "--start", "2014-01-01", "--rows", "2", *store])
    assert shown["bars"] == 252 and len(shown["rows"]) == 4
    features = _json(["data", "features", "NVDA", "--out", str(tmp_path / "f.parquet"), *store])
    assert features["rows"] == 4012 and (tmp_path / "f.parquet").is_file()
    assert set(features["features"]) == set(FEATURE_NAMES)


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data (the real samples) is not next to the repository")
def test_validate_the_minute_sample_with_its_short_header() -> None:
    with pytest.warns(UserWarning, match=r"header names 7 columns .* rows have 8 fields; the field after 'Date' holds"):
        result = _json(["data", "validate", str(DATA / "index-future-1min-2006.csv"), "--symbol", "FDAX"])
    assert result["rows"] == 30889 and result["valid"]


def test_bad_files_exit_with_the_row_and_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10,9,8,10.5,100\n")
    result = runner.invoke(app, ["data", "validate", str(bad), "--symbol", "X"])
    assert result.exit_code == 2
    assert "row 1" in result.output and "high" in result.output
    missing = runner.invoke(app, ["data", "import", str(tmp_path / "nope.csv"), "--symbol", "X"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    (tmp_path / "empty").mkdir()
    nothing = runner.invoke(app, ["data", "features", "NONE", "--store", str(tmp_path / "empty")])
    assert nothing.exit_code == 2 and "no bars of NONE" in nothing.output and "it is empty" in nothing.output


def test_built_in_dataset_import(tmp_path: Path) -> None:
    result = _json(["data", "import", "--dataset", "googl-daily", "--store", str(tmp_path / "store")])
    assert result["rows"] == 2335 and result["symbols"] == ["GOOGL"]


# ------------------------------------------------------------------ bad arguments, journal, doctor


def _fail(args: list[str]) -> str:
    """Run a command expected to exit 2; its output (the error names the fix)."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())  # rich wraps long lines


@pytest.fixture
def spy_store(tmp_path: Path) -> list[str]:
    """A store holding 3,000 bars of SPY and 200 of QQQ; its --store option."""
    from tradebrain.data.sources.synthetic import random_walk_bars
    from tradebrain.data.store import ParquetBarStore

    store = ParquetBarStore(tmp_path / "store")
    store.write(random_walk_bars(3000, "SPY", "2024-03-01", freq="20min"))
    store.write(random_walk_bars(200, "QQQ", "2024-03-01", freq="20min", seed=1))
    return ["--store", str(store.root)]


def test_unknown_symbols_are_rejected_with_the_known_ones_and_a_guess(spy_store: list[str]) -> None:
    shown = _fail(["data", "show", "SYP", *spy_store])
    assert "no bars of SYP" in shown and "did you mean SPY?" in shown and "QQQ, SPY" in shown
    assert "did you mean QQQ?" in _fail(["data", "features", "qqq", *spy_store])
    assert "did you mean" not in _fail(["data", "show", "ZZZZZZ", *spy_store])


def test_bad_ranges_and_row_counts_are_rejected(spy_store: list[str]) -> None:
    after = _fail(["data", "show", "SPY", "--start", "2024-03-10", "--end", "2024-03-02", *spy_store])
    assert "--start 2024-03-10 is not before --end 2024-03-02" in after
    assert "is not before" in _fail(["data", "show", "SPY", "--start", "2024-03-02", "--end", "2024-03-02", *spy_store])
    garbled = _fail(["data", "show", "SPY", "--start", "last tuesday", *spy_store])
    assert "--start 'last tuesday' is not a date or time" in garbled and "e.g. 2024-01-31" in garbled
    assert "--end 'x' is not a date" in _fail(["data", "show", "SPY", "--end", "x", *spy_store])
    assert "--rows" in _fail(["data", "show", "SPY", "--rows", "-3", *spy_store])
    none = _json(["data", "show", "SPY", "--rows", "0", *spy_store])
    assert none["bars"] == 3000 and none["rows"] == []


def test_commands_other_than_import_never_create_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    for command in (["list"], ["show", "SPY"], ["features", "SPY"], ["doctor"]):
        output = _fail(["data", *command, "--store", str(missing)])
        assert f"store {missing} does not exist" in output and "tradebrain data import" in output
        assert not missing.exists()


def test_a_store_path_that_is_a_file_is_a_clean_error(tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    bars.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n")
    for command in (["list"], ["import", str(bars), "--symbol", "X"]):
        assert "is a file, not a folder" in _fail(["data", *command, "--store", str(bars)])
    nested = _fail(["data", "import", str(bars), "--symbol", "X", "--store", str(bars / "store")])
    assert "part of that path is a file" in nested


def test_schema_and_prefix_need_postgres(spy_store: list[str]) -> None:
    assert "apply to PostgreSQL only" in _fail(["data", "list", "--table-prefix", "me_", *spy_store])


def test_an_unreachable_postgres_is_named_with_its_password_masked() -> None:
    output = _fail(["data", "list", "--postgres", "postgresql://me:s3cret@127.0.0.1:1/db?connect_timeout=2"])
    assert "cannot connect to PostgreSQL at postgresql://me:***@127.0.0.1:1/db" in output
    assert "s3cret" not in output and "pg_isready" in output
    assert "not a valid DSN" in _fail(["data", "list", "--postgres", "this is not a dsn"])


def test_features_are_written_in_the_format_the_suffix_names(spy_store: list[str], tmp_path: Path) -> None:
    import pandas as pd

    csv, pq = tmp_path / "out" / "f.csv", tmp_path / "out" / "f.pq"
    _json(["data", "features", "SPY", "--out", str(csv), *spy_store])
    _json(["data", "features", "SPY", "--out", str(pq), *spy_store])
    from_csv, from_parquet = pd.read_csv(csv), pd.read_parquet(pq)
    assert csv.read_bytes()[:4] != b"PAR1" and pq.read_bytes()[:4] == b"PAR1"
    assert len(from_csv) == len(from_parquet) == 3000
    assert list(from_csv.columns) == list(from_parquet.columns)
    output = _fail(["data", "features", "SPY", "--out", str(tmp_path / "f.txt"), *spy_store])
    assert "--out" in output and ".parquet, .pq, .csv" in output and not (tmp_path / "f.txt").exists()
    (tmp_path / "a_file").write_text("x")
    blocked = _fail(["data", "features", "SPY", "--out", str(tmp_path / "a_file" / "f.csv"), *spy_store])
    assert "a_file is a file, not a folder" in blocked
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_import_and_validate_take_the_encoding_and_delimiter(tmp_path: Path) -> None:
    latin = tmp_path / "bars.csv"
    rows = (
        "Date;Open;High;Low;Close;Volume;Börse\n2024-01-02;10;11;9;10.5;100;Zürich\n2024-01-03;10;12;9;11;90;Zürich\n"
    )
    latin.write_bytes(rows.encode("latin-1"))
    assert "--encoding" in _fail(["data", "validate", str(latin), "--symbol", "X"])
    checked = _json(["data", "validate", str(latin), "--symbol", "X", "--encoding", "latin-1", "--delimiter", ";"])
    assert checked["rows"] == 2
    store = ["--store", str(tmp_path / "store")]
    imported = _json(
        ["data", "import", str(latin), "--symbol", "X", "--encoding", "latin-1", "--delimiter", ";", *store]
    )
    assert imported["written"] == 2


def test_list_flags_an_interrupted_import_until_it_is_completed(spy_store: list[str], tmp_path: Path) -> None:
    import dataclasses
    import subprocess
    import sys

    from tradebrain.data.sources.synthetic import random_walk_bars
    from tradebrain.data.store import ParquetBarStore
    from tradebrain.data.store.journal import begin_import

    bars = random_walk_bars(500, "IWM", "2024-03-01", freq="20min", seed=2)
    source = tmp_path / "iwm.csv"
    bars.drop(columns="symbol").to_csv(source, index=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store = ParquetBarStore(spy_store[1])
    store.journal.begin(dataclasses.replace(begin_import(str(source.resolve()), bars), pid=dead.pid))
    store.write(bars.iloc[:100])  # what the killed import got to write
    listed = {row["symbol"]: row for row in _json(["data", "list", *spy_store])["symbols"]}
    assert listed["IWM"]["interrupted"] and listed["IWM"]["status"] == "interrupted" and listed["IWM"]["bars"] == 100
    assert "import the same file again" in listed["IWM"]["issues"][0]
    assert not listed["SPY"]["interrupted"] and listed["SPY"]["status"] == "ok"
    table = runner.invoke(app, ["data", "list", *spy_store])
    assert table.exit_code == 0 and "interrupted" in table.output
    shown = runner.invoke(app, ["data", "show", "IWM", *spy_store])
    assert shown.exit_code == 0 and "warning" in shown.output and "interrupted" in shown.output
    assert _fail(["data", "doctor", *spy_store])
    redone = _json(["data", "import", str(source), "--symbol", "IWM", *spy_store])
    assert len(redone["cleared"]) == 1
    listed = {row["symbol"]: row for row in _json(["data", "list", *spy_store])["symbols"]}
    first, last = str(bars["timestamp"].iloc[0]), str(bars["timestamp"].iloc[-1])
    assert listed["IWM"] == {"symbol": "IWM", "first": first, "last": last, "bars": 500, "interrupted": False,
                             "status": "ok", "issues": []}  # fmt: skip


def test_list_and_show_survive_a_damaged_month_of_another_symbol(spy_store: list[str]) -> None:
    from tradebrain.data.store import ParquetBarStore

    store = ParquetBarStore(spy_store[1])
    [(_, path)] = store.months("QQQ")
    path.write_bytes(b"truncated")
    result = runner.invoke(app, ["data", "list", "--json", *spy_store])
    assert result.exit_code == 0
    listed = {row["symbol"]: row for row in json.loads(result.stdout.strip().splitlines()[-1])["symbols"]}
    assert listed["SPY"]["bars"] == 3000 and listed["SPY"]["status"] == "ok"
    assert listed["QQQ"]["status"] == "quarantined" and listed["QQQ"]["bars"] == 0
    assert "re-import" in listed["QQQ"]["issues"][0]
    assert _json(["data", "show", "SPY", *spy_store])["bars"] == 3000


def test_doctor_exits_0_when_healthy_or_repaired_and_2_while_problems_remain(spy_store: list[str]) -> None:
    from tradebrain.data.store import ParquetBarStore

    assert _json(["data", "doctor", *spy_store])["healthy"]
    store = ParquetBarStore(spy_store[1])
    stray = store.month_dir("SPY", "2024-03") / ".part.parquet.dead.tmp"
    stray.write_bytes(b"x")
    reported = runner.invoke(app, ["data", "doctor", "--no-repair", "--json", *spy_store])
    assert reported.exit_code == 2 and stray.exists()
    assert not json.loads(reported.stdout.strip().splitlines()[-1])["healthy"]
    repaired = _json(["data", "doctor", *spy_store])
    assert repaired["healthy"] and not stray.exists()
    assert any(finding["status"] == "repaired" for finding in repaired["findings"])
    table = runner.invoke(app, ["data", "doctor", *spy_store])
    assert table.exit_code == 0 and "healthy" in table.output
    [(_, path)] = store.months("QQQ")
    path.write_bytes(b"truncated")
    assert "re-import" in _fail(["data", "doctor", *spy_store])


def test_an_import_stopped_by_an_error_is_flagged_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tradebrain.core.errors import TradebrainError
    from tradebrain.data.sources.synthetic import random_walk_bars
    from tradebrain.data.store import ParquetBarStore

    source = tmp_path / "hourly.csv"
    random_walk_bars(45 * 24, "X", "2024-03-01", freq="h").drop(columns="symbol").to_csv(source, index=False)
    store = ["--store", str(tmp_path / "store")]
    real, calls = ParquetBarStore.write, {"n": 0}

    def failing(self: ParquetBarStore, bars: object) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise TradebrainError("disk full (simulated)")
        return real(self, bars)  # type: ignore[arg-type]

    monkeypatch.setattr(ParquetBarStore, "write", failing)
    assert "disk full" in _fail(["data", "import", str(source), "--symbol", "X", *store])
    [listed] = _json(["data", "list", *store])["symbols"]  # this very process lives on: still interrupted
    assert listed["status"] == "interrupted" and listed["bars"] == 20 * 24
    assert "stopped by an error: TradebrainError: disk full (simulated)" in listed["issues"][0]
    monkeypatch.undo()
    assert len(_json(["data", "import", str(source), "--symbol", "X", *store])["cleared"]) == 1
    [listed] = _json(["data", "list", *store])["symbols"]
    assert listed["status"] == "ok" and listed["bars"] == 45 * 24
