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
                                  "last": listed["symbols"][0]["last"], "bars": 4012}]  # fmt: skip
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
    nothing = runner.invoke(app, ["data", "features", "NONE", "--store", str(tmp_path / "empty")])
    assert nothing.exit_code == 2 and "no bars of NONE" in nothing.output


def test_built_in_dataset_import(tmp_path: Path) -> None:
    result = _json(["data", "import", "--dataset", "googl-daily", "--store", str(tmp_path / "store")])
    assert result["rows"] == 2335 and result["symbols"] == ["GOOGL"]
