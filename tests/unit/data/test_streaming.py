"""StreamingFeatures equals compute_features bar for bar (real and synthetic bars), warms up like
it, and rejects bad bars at the boundary without touching its state."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradebrain.core.errors import InputError
from tradebrain.data.features import FEATURE_NAMES, WARMUP_BARS, compute_features
from tradebrain.data.sources.files import read_bars_csv
from tradebrain.data.sources.synthetic import synthetic_intraday
from tradebrain.data.streaming import FIRST_VALID_BAR, StreamingFeatures, ewm_alpha, pairwise_sum

SAMPLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "index-future-1min-2006.csv"
RTOL, ATOL = 1e-9, 1e-12


def _stream(bars: pd.DataFrame, names: tuple[str, ...] = FEATURE_NAMES) -> tuple[np.ndarray, list[bool]]:
    """Every bar's streamed features (NaN rows in the warm-up) and `ready` after each update."""
    streaming = StreamingFeatures(names)
    out = np.full((len(bars), len(names)), np.nan)
    ready = []
    columns = [bars[name].to_numpy() for name in ("open", "high", "low", "close", "volume", "vwap")]
    for i, stamp in enumerate(bars["timestamp"]):
        values = streaming.update(stamp, *(float(column[i]) for column in columns))
        if values is not None:
            out[i] = values
        ready.append(streaming.ready)
    return out, ready


def _assert_equal(bars: pd.DataFrame, names: tuple[str, ...] = FEATURE_NAMES) -> None:
    expected = compute_features(bars)[list(names)].to_numpy()
    got, ready = _stream(bars, names)
    complete = np.isfinite(expected).all(axis=1)
    first = int(np.argmax(complete))
    assert complete[first:].all()
    assert np.isnan(got[:first]).all() and not any(ready[:first]) and all(ready[first:])
    for column, name in enumerate(names):
        np.testing.assert_allclose(got[first:, column], expected[first:, column], rtol=RTOL, atol=ATOL, err_msg=name)


def test_equal_to_compute_features_on_the_real_one_minute_sample() -> None:
    if not SAMPLE.is_file():
        pytest.skip(f"real sample not found at {SAMPLE}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bars = read_bars_csv(SAMPLE, "FUT")
    _assert_equal(bars)


@pytest.mark.parametrize("seed", [0, 7])
def test_equal_to_compute_features_on_synthetic_bars(seed: int) -> None:
    bars = synthetic_intraday(days=4, seed=seed)
    rng = np.random.default_rng(seed)
    bars["vwap"] = np.where(rng.random(len(bars)) < 0.5, np.nan, (bars["high"] + bars["low"]) / 2)
    bars.loc[rng.random(len(bars)) < 0.05, "volume"] = 0.0  # zero-volume bars: VWAP falls back, z-score copes
    _assert_equal(bars)


def test_a_subset_of_features_warms_up_at_its_own_first_bar() -> None:
    bars = synthetic_intraday(days=1, seed=3)
    names = ("log_high_low", "psar_dist", "rsi_9")
    _assert_equal(bars, names)
    _, ready = _stream(bars, names)
    assert ready.index(True) == max(FIRST_VALID_BAR[name] for name in names) == 8
    assert max(FIRST_VALID_BAR[name] for name in FEATURE_NAMES) == WARMUP_BARS - 1


def test_book_imbalance_needs_the_book_sizes() -> None:
    streaming = StreamingFeatures(("log_high_low", "book_imbalance"))
    stamp = pd.Timestamp("2024-01-02 15:00", tz="UTC")
    values = streaming.update(stamp, 100.0, 101.0, 99.0, 100.0, 5.0, bid_size_1=30.0, ask_size_1=10.0)
    assert values is not None and values[1] == 0.5 and values[0] == pytest.approx(math.log(101 / 99))
    with pytest.raises(InputError, match="bid_size_1"):
        streaming.update(stamp + pd.Timedelta(minutes=1), 100.0, 101.0, 99.0, 100.0, 5.0)


def test_bad_bars_raise_naming_the_field_and_leave_the_state_untouched() -> None:
    bars = synthetic_intraday(days=1, seed=1).iloc[:80].reset_index(drop=True)
    bars["vwap"] = np.nan  # typical price, as an update without vwap
    clean, _ = _stream(bars)
    streaming = StreamingFeatures()
    stamps = list(bars["timestamp"])
    rows = bars[["open", "high", "low", "close", "volume"]].to_numpy()
    got = []
    for i, stamp in enumerate(stamps):
        if i == 60:
            o, h, lo, c, v = rows[i]
            for bad, field in (
                ((o, h, lo, math.nan, v), "close"),
                ((o, math.inf, lo, c, v), "high"),
                ((-o, h, lo, c, v), "open"),
                ((o, h, lo, c, -1.0), "volume"),
                ((o, lo * 0.99, lo, c, v), "high"),
                ((o, h, h * 1.01, c, v), "low"),
            ):
                with pytest.raises(InputError, match=field):
                    streaming.update(stamp, *bad)
            with pytest.raises(InputError, match="timestamp"):
                streaming.update(stamps[i - 1], *rows[i])
            with pytest.raises(InputError, match="time zone"):
                streaming.update(stamp.tz_localize(None), *rows[i])
            with pytest.raises(InputError, match="vwap"):
                streaming.update(stamp, o, h, lo, c, v, vwap=-1.0)
        values = streaming.update(stamp, *rows[i])
        got.append(np.full(len(FEATURE_NAMES), np.nan) if values is None else values)
    np.testing.assert_array_equal(np.array(got), clean)  # the rejected bars changed nothing
    assert streaming.bars == len(bars)
    with pytest.raises(InputError, match="unknown feature"):
        StreamingFeatures(("ema_9_dst",))


def test_timestamps_as_int_nanoseconds_and_datetimes_agree() -> None:
    bars = synthetic_intraday(days=1, seed=2).iloc[:60]  # vwap None: the typical price in both
    rows = bars[["open", "high", "low", "close", "volume"]].to_numpy()
    as_ints, as_datetimes, as_numpy = StreamingFeatures(), StreamingFeatures(), StreamingFeatures()
    for stamp, row in zip(bars["timestamp"], rows, strict=True):
        a = as_ints.update(int(stamp.value), *row)
        b = as_datetimes.update(stamp.to_pydatetime(), *row)
        c = as_numpy.update(np.datetime64(stamp.value, "ns"), *row)
        if a is None:
            assert b is None and c is None
        else:
            assert b is not None and c is not None and np.array_equal(a, b) and np.array_equal(a, c)
    assert as_ints.ready
    with pytest.raises(InputError, match="not a timestamp"):
        as_ints.update(1.5, *rows[-1])


def test_helpers_mirror_pandas_and_numpy() -> None:
    values = list(np.random.default_rng(0).normal(size=14) * 1e3)
    assert pairwise_sum(values) == float(np.sum(np.array(values)))
    assert pairwise_sum(values[:5]) == float(np.sum(np.array(values[:5])))
    assert ewm_alpha(span=9) == 0.2 and ewm_alpha(alpha=1 / 9) == pytest.approx(1 / 9)
    series = pd.Series(np.random.default_rng(1).normal(100, 1, 50))
    expected = series.ewm(alpha=1 / 9, adjust=False).mean().to_numpy()
    from tradebrain.data.streaming import Ewm

    ewm = Ewm(ewm_alpha(alpha=1 / 9), 0)
    np.testing.assert_array_equal([ewm.update(x) for x in series], expected)
