"""Cache-through bars: ask the slow remote source only for what the store does not have yet.

Why: a broker download of 1.5 million 1-minute bars takes minutes and counts against rate limits;
fetched once, the same bars are served from the local store in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.data.store.base import BarStore, utc_bound

BarSource = Callable[[str, pd.Timestamp, pd.Timestamp], pd.DataFrame]
"""A remote source: bars of `symbol` with start <= timestamp < end (may be empty)."""

ONE_MINUTE = pd.Timedelta(minutes=1)


class CachedBarSource:
    """`get` serves [start, end) from `store`, first fetching from `source` the parts outside the
    span the store covers for the symbol: [start, first bar) and [last bar + `bar`, end).

    Holes inside the covered span are not looked for (the store keeps what was fetched whole), and
    a range the source returned nothing for is asked again next time.
    """

    def __init__(self, store: BarStore, source: BarSource, bar: pd.Timedelta = ONE_MINUTE) -> None:
        if bar <= pd.Timedelta(0):
            raise InputError(f"bar={bar} must be a positive interval, e.g. pd.Timedelta(minutes=1)")
        self.store = store
        self.source = source
        self.bar = bar

    def missing(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """The [from, to) ranges of [start, end) that must come from the source."""
        covered = self.store.coverage(symbol)
        if covered is None:
            return [(start, end)]
        first, last, _ = covered
        gaps = []
        if start < first:
            gaps.append((start, min(end, first)))
        after = last + self.bar
        if end > after:
            gaps.append((max(start, after), end))
        return gaps

    def get(self, symbol: str, start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DataFrame:
        """Bars of `symbol` in [start, end): fetch the missing ranges, write them through, read."""
        low, high = utc_bound(start, "start"), utc_bound(end, "end")
        if low is None or high is None or not low < high:
            raise InputError(f"need start < end, got start={start!r} end={end!r}")
        for gap_start, gap_end in self.missing(symbol, low, high):
            fetched = self.source(symbol, gap_start, gap_end)
            if len(fetched):
                stamps = pd.to_datetime(fetched["timestamp"])
                inside = ((stamps >= gap_start) & (stamps < gap_end)).to_numpy()
                if inside.any():
                    self.store.write(fetched[inside])
        return self.store.read(symbol, low, high)
