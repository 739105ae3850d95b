"""Live sources without a broker: stored or file bars replayed at a chosen speed, and the
synthetic intraday generator played as a live feed. Both keep the `LiveSource` contract
(platform/sources.py), history included, so the provider's backfill path runs against them too.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.data.schema import validate_bars
from tradebrain.platform.subjects import check_symbol

FAST_ROWS = 10_000  # rows per table when replaying as fast as possible


def _merged(starts: np.ndarray, ends: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive [start, end) groups merged into runs of about `rows` rows (whole groups only)."""
    merged_starts, merged_ends = [int(starts[0])], []
    for lo, hi in zip(starts[1:], ends[:-1], strict=True):
        if lo - merged_starts[-1] >= rows:
            merged_ends.append(int(hi))
            merged_starts.append(int(lo))
    merged_ends.append(int(ends[-1]))
    return np.array(merged_starts), np.array(merged_ends)


class ReplaySource:
    """Plays `bars` (any symbols, the bar schema) in time order: the bars of one timestamp
    together, spaced by their real interval divided by `speed` (60: a minute bar every second;
    `math.inf`: as fast as the consumer takes them). Only subscribed symbols are played; `history`
    serves the whole table, as a broker's historical API would. `bars()` ends after the last bar."""

    def __init__(self, bars: pd.DataFrame, speed: float = 60.0, provider: str = "replay") -> None:
        if not (speed > 0):
            raise InputError(
                f"speed must be > 0 (60 plays a minute bar per second; inf as fast as possible), got {speed}"
            )
        self.table = validate_bars(bars)
        self.speed = float(speed)
        self.provider = provider
        self.subscribed: set[str] = set()
        self._closed = asyncio.Event()
        self._changed = asyncio.Event()
        self.history = self._history
        self.symbols = sorted(self.table["symbol"].unique())

    def _history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        table = self.table
        rows = (table["symbol"] == symbol) & (table["timestamp"] >= start) & (table["timestamp"] < end)
        return table.loc[rows].reset_index(drop=True)

    async def subscribe(self, symbols: Sequence[str]) -> None:
        """Play these symbols from now on; a symbol the table does not hold is an InputError."""
        unknown = sorted(set(map(check_symbol, symbols)) - set(self.symbols))
        if unknown:
            raise InputError(f"unknown symbols {unknown} for the {self.provider} source; it holds {self.symbols[:20]}")
        self.subscribed.update(symbols)
        self._changed.set()

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        """Stop playing these symbols."""
        self.subscribed.difference_update(symbols)

    async def close(self) -> None:
        """End `bars()`."""
        self._closed.set()

    async def bars(self) -> AsyncIterator[pd.DataFrame]:
        """The table's bars, one timestamp at a time, at `speed` times real time."""
        table = self.table.sort_values(["timestamp", "symbol"], kind="stable")
        stamps = pd.DatetimeIndex(table["timestamp"]).as_unit("ns").asi8  # int64: no Timestamp object per bar
        if not len(stamps):
            return
        starts = np.flatnonzero(np.r_[True, stamps[1:] != stamps[:-1]])
        ends = np.r_[starts[1:], len(table)]
        loop = asyncio.get_running_loop()
        began, first = loop.time(), int(stamps[0])
        if not math.isfinite(self.speed):  # as fast as the consumer takes them: many timestamps per table
            starts, ends = _merged(starts, ends, FAST_ROWS)
        for lo, hi in zip(starts, ends, strict=True):
            if self._closed.is_set():
                return
            while not self.subscribed and not self._closed.is_set():  # nothing to play until someone asks
                self._changed.clear()
                await self._changed.wait()
                began = loop.time() - (int(stamps[lo]) - first) / 1e9 / self.speed
            if math.isfinite(self.speed):
                due = began + (int(stamps[lo]) - first) / 1e9 / self.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            chunk = table.iloc[lo:hi]
            chunk = chunk[chunk["symbol"].isin(self.subscribed)]
            if len(chunk):
                yield chunk.reset_index(drop=True)


def synthetic_source(
    symbols: Sequence[str], days: int = 5, speed: float = 60.0, seed: int = 0, start: str = "2024-01-02"
) -> ReplaySource:
    """The synthetic intraday generator (data/sources/synthetic.py) as a live feed: `days` seeded
    sessions of one-minute bars per symbol, played at `speed` (provider "synthetic")."""
    from tradebrain.data.sources.synthetic import synthetic_intraday

    if not symbols:
        raise InputError("a synthetic source needs at least one symbol, e.g. ['SYN']")
    frames = [synthetic_intraday(check_symbol(s), days=days, start=start, seed=seed + i) for i, s in enumerate(symbols)]
    return ReplaySource(pd.concat(frames, ignore_index=True), speed, provider="synthetic")
