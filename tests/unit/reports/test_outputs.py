"""Result files (reports, figures, metrics, tables) are written whole or not at all through core/io, and a
failed write names the file it was writing."""

from __future__ import annotations

import errno
import json
import stat
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.backtest.metrics import summarize
from tradebrain.backtest.strategies import make_strategy
from tradebrain.core.io import atomic_open, atomic_path, atomic_write_csv, atomic_write_text
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.reports.backtest import write_backtest_report
from tradebrain.reports.plots import save_figure

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _temporaries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".tmp"))


def test_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    assert atomic_write_text(target, "new ✓") == target
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert _temporaries(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_names_the_target(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text('{"old": 1}')
    with pytest.raises(OSError) as raised, atomic_path(target) as temporary:
        temporary.write_text('{"new": ')  # half the file, then the device is full
        raise OSError(errno.ENOSPC, "No space left on device")
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(target)  # the command line names this file
    assert target.read_text() == '{"old": 1}'
    assert _temporaries(tmp_path) == []


def test_an_error_naming_another_file_is_not_renamed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as raised, atomic_path(tmp_path / "out.csv"):
        (tmp_path / "missing" / "input.csv").read_text()
    assert raised.value.filename == str(tmp_path / "missing" / "input.csv")


def test_csv_outputs_match_pandas_and_the_csv_module(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y,z"]})
    atomic_write_csv(frame, tmp_path / "frame.csv", index=False)
    frame.to_csv(tmp_path / "direct.csv", index=False)
    assert (tmp_path / "frame.csv").read_bytes() == (tmp_path / "direct.csv").read_bytes()
    with atomic_open(tmp_path / "rows.csv") as handle:
        handle.write("a,b\r\n")
    assert (tmp_path / "rows.csv").read_bytes() == b"a,b\r\n"  # newline="" keeps the csv module's line ends


def test_save_figure_writes_a_png_atomically_and_closes_the_figure(tmp_path: Path) -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_MAGIC)
    assert not plt.fignum_exists(fig.number)
    assert _temporaries(tmp_path) == []


def test_a_figure_that_fails_to_save_keeps_the_old_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "plot.png"
    target.write_bytes(PNG_MAGIC + b"old")
    fig, _ = plt.subplots()

    def full(self: object, path: Path, **options: object) -> None:
        Path(path).write_bytes(PNG_MAGIC[:4])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(fig), "savefig", full)
    with pytest.raises(OSError, match="No space left") as raised:
        save_figure(fig, target)
    assert raised.value.filename == str(target)
    assert target.read_bytes() == PNG_MAGIC + b"old"
    assert not plt.fignum_exists(fig.number) and _temporaries(tmp_path) == []


def test_a_backtest_report_whose_page_fails_half_way_keeps_the_old_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """report.html, written last, fails half way as on a full disk: the old page stays whole, the files
    written before it are whole, and no temporary is left."""
    bars = random_walk_bars(120, freq="D", seed=1)
    result = run_backtest(bars, make_strategy("sma-crossover", fast=5, slow=20), BacktestConfig())
    metrics = summarize(result.equity_frame()["equity"], result.trades_frame())
    closes = bars["close"].to_numpy()
    paths = write_backtest_report(result, metrics, closes, tmp_path, title="first")
    old = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    written: list[str] = []
    real = Path.write_text

    def page_fails(self: Path, data: str, *args: object, **kwargs: object) -> int:
        written.append(self.name)
        if len(written) == 2:  # metrics.json (the CSVs go through atomic_open), then report.html
            real(self, data[: len(data) // 2], encoding="utf-8")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", page_fails)
    with pytest.raises(OSError) as raised:
        write_backtest_report(result, metrics, closes, tmp_path, title="second")
    assert raised.value.filename == str(paths["report.html"])
    assert paths["report.html"].read_bytes() == old["report.html"]
    assert json.loads(paths["metrics.json"].read_text())["metrics"]  # whole, readable JSON
    assert _temporaries(tmp_path) == []


def test_outputs_get_the_permissions_of_a_plain_write(tmp_path: Path) -> None:
    plain = tmp_path / "plain.html"
    plain.write_text("x")
    fresh = atomic_write_text(tmp_path / "fresh.html", "x")
    assert stat.S_IMODE(fresh.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)  # not the temporary's 0600
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o640)
    atomic_write_text(kept, "[]")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
