"""The scale bar store: one PostgreSQL table keyed by (symbol, ts), written and read with binary COPY.

Why binary COPY built with numpy: psycopg's per-row `write_row` costs microseconds per bar in
Python, while the COPY wire format of a fixed-width row is a numpy structured array, so a million
bars move in one buffer each way. Every write runs in ONE transaction (COPY into a temporary table,
then `INSERT ... ON CONFLICT (symbol, ts) DO UPDATE`), so a crash leaves the old or the new data,
never a mix; rows whose values do not change are not touched, so re-ingesting changes nothing.
Unknown vwap/trades are stored as SQL NULL and come back as NaN.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from tradebrain.data.schema import validate_bars
from tradebrain.data.store.base import VALUE_COLUMNS, check_symbol, empty_bars, finish_read, in_store_form, utc_bound

DEFAULT_DSN = "postgresql://127.0.0.1:5432/test"
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()
COPY_TRAILER = np.array([-1], dtype=">i2").tobytes()
PG_EPOCH_US = int(pd.Timestamp("2000-01-01", tz="UTC").value // 1000)
CHUNK_ROWS = 200_000
NULLABLE = ("vwap", "trades")


class PostgresBarStore:
    """BarStore over the PostgreSQL table `table` (created when missing) at `dsn`."""

    def __init__(self, dsn: str = DEFAULT_DSN, table: str = "bars") -> None:
        self.dsn = dsn
        self.table = table
        self._name = sql.Identifier(table)
        values = sql.SQL(", ").join(sql.SQL("{} double precision").format(sql.Identifier(c)) for c in VALUE_COLUMNS)
        with psycopg.connect(dsn) as connection:
            connection.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (symbol text NOT NULL, ts timestamptz NOT NULL, {}, "
                    "PRIMARY KEY (symbol, ts))"
                ).format(self._name, values)
            )

    def write(self, bars: pd.DataFrame) -> int:
        """Validate `bars` and upsert them in one transaction; return the number of bars given."""
        bars = in_store_form(validate_bars(bars))
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in VALUE_COLUMNS)
        selected = sql.SQL(", ").join(
            sql.SQL("NULLIF({0}, 'NaN')").format(sql.Identifier(c)) if c in NULLABLE else sql.Identifier(c)
            for c in VALUE_COLUMNS
        )
        updates = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in VALUE_COLUMNS)
        old = sql.SQL(", ").join(sql.SQL("{}.{}").format(self._name, sql.Identifier(c)) for c in VALUE_COLUMNS)
        new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in VALUE_COLUMNS)
        with psycopg.connect(self.dsn) as connection, connection.transaction():
            connection.execute(
                sql.SQL("CREATE TEMPORARY TABLE incoming (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                    self._name
                )
            )
            with connection.cursor().copy("COPY incoming FROM STDIN (FORMAT binary)") as copy:
                for chunk in copy_payload(bars):
                    copy.write(chunk)
            connection.execute(
                sql.SQL(
                    "INSERT INTO {name} (symbol, ts, {columns}) SELECT symbol, ts, {selected} FROM incoming "
                    "ON CONFLICT (symbol, ts) DO UPDATE SET {updates} WHERE ({old}) IS DISTINCT FROM ({new})"
                ).format(name=self._name, columns=columns, selected=selected, updates=updates, old=old, new=new)
            )
        return len(bars)

    def read(
        self, symbol: str, start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None
    ) -> pd.DataFrame:
        """Bars of `symbol` in [start, end) ordered by ts, via binary COPY TO parsed by numpy."""
        low, high = utc_bound(start, "start"), utc_bound(end, "end")
        conditions = [sql.SQL("symbol = {}").format(sql.Literal(check_symbol(symbol)))]
        if low is not None:
            conditions.append(sql.SQL("ts >= {}").format(sql.Literal(low.to_pydatetime())))
        if high is not None:
            conditions.append(sql.SQL("ts < {}").format(sql.Literal(high.to_pydatetime())))
        values = sql.SQL(", ").join(
            sql.SQL("coalesce({0}, 'NaN')").format(sql.Identifier(c)) if c in NULLABLE else sql.Identifier(c)
            for c in VALUE_COLUMNS
        )
        query = sql.SQL("COPY (SELECT ts, {} FROM {} WHERE {} ORDER BY ts) TO STDOUT (FORMAT binary)").format(
            values, self._name, sql.SQL(" AND ").join(conditions)
        )
        buffer = bytearray()
        with psycopg.connect(self.dsn) as connection, connection.cursor().copy(query) as copy:
            for data in copy:
                buffer += data
        return finish_read(_parse_copy(bytes(buffer)), symbol)

    def symbols(self) -> list[str]:
        """Every symbol with at least one bar, sorted."""
        with psycopg.connect(self.dsn) as connection:
            rows = connection.execute(sql.SQL("SELECT DISTINCT symbol FROM {} ORDER BY symbol").format(self._name))
            return [str(row[0]) for row in rows]

    def coverage(self, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
        """(first, last, count) of `symbol`'s bars (one index range scan)."""
        query = sql.SQL("SELECT min(ts), max(ts), count(*) FROM {} WHERE symbol = %s").format(self._name)
        with psycopg.connect(self.dsn) as connection:
            row = connection.execute(query, (check_symbol(symbol),)).fetchone()
        if row is None or not row[2]:
            return None
        return pd.Timestamp(row[0]).tz_convert("UTC"), pd.Timestamp(row[1]).tz_convert("UTC"), int(row[2])

    def delete(self, symbol: str) -> int:
        """Delete every bar of `symbol`; return how many there were."""
        query = sql.SQL("DELETE FROM {} WHERE symbol = %s").format(self._name)
        with psycopg.connect(self.dsn) as connection:
            return int(connection.execute(query, (check_symbol(symbol),)).rowcount)

    def drop(self) -> None:
        """Drop the whole table (tests and benchmarks clean up with it)."""
        with psycopg.connect(self.dsn) as connection:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._name))


def copy_payload(bars: pd.DataFrame) -> Iterator[bytes]:
    """The binary COPY stream of `bars` (store form) in chunks: signature, rows, trailer.

    Each row is (symbol text, ts timestamptz, 7 x float8), fixed width within one symbol, so a
    symbol's rows are one numpy structured array. NaN is sent as NaN and turned into NULL by the
    INSERT (a NULL would make the row variable-width).
    """
    yield COPY_SIGNATURE
    for symbol, group in bars.groupby("symbol", sort=True):
        name = str(symbol).encode()
        fields: list[tuple[str, str]] = [("count", ">i2"), ("symbol_len", ">i4"), ("symbol", f"S{len(name)}")]
        fields += [("ts_len", ">i4"), ("ts", ">i8")]
        for column in VALUE_COLUMNS:
            fields += [(f"{column}_len", ">i4"), (column, ">f8")]
        rows = np.empty(len(group), dtype=np.dtype(fields))
        rows["count"] = 2 + len(VALUE_COLUMNS)
        rows["symbol_len"] = len(name)
        rows["symbol"] = name
        rows["ts_len"] = 8
        rows["ts"] = np.asarray(group["timestamp"].array.asi8) - PG_EPOCH_US
        for column in VALUE_COLUMNS:
            rows[f"{column}_len"] = 8
            rows[column] = group[column].to_numpy(dtype=float)
        for begin in range(0, len(rows), CHUNK_ROWS):
            yield rows[begin : begin + CHUNK_ROWS].tobytes()
    yield COPY_TRAILER


def _parse_copy(data: bytes) -> pd.DataFrame:
    """The (ts, values...) rows of a binary COPY TO stream (no NULLs: the query coalesces them)."""
    fields: list[tuple[str, str]] = [("count", ">i2"), ("ts_len", ">i4"), ("ts", ">i8")]
    for column in VALUE_COLUMNS:
        fields += [(f"{column}_len", ">i4"), (column, ">f8")]
    dtype = np.dtype(fields)
    header = len(COPY_SIGNATURE)
    body = data[header : len(data) - len(COPY_TRAILER)]
    if not body:
        return empty_bars()
    rows = np.frombuffer(body, dtype=dtype)
    frame = pd.DataFrame({"timestamp": pd.to_datetime(rows["ts"].astype(np.int64) + PG_EPOCH_US, unit="us", utc=True)})
    for column in VALUE_COLUMNS:
        frame[column] = rows[column].astype(np.float64)
    return frame
