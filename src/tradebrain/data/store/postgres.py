"""The scale bar store: one PostgreSQL table keyed by (symbol, ts), written and read with binary COPY.

Why binary COPY built with numpy: psycopg's per-row `write_row` costs microseconds per bar in
Python, while the COPY wire format of a fixed-width row is a numpy structured array, so a million
bars move in one buffer each way. Every write runs in ONE transaction (COPY into a temporary table,
then `INSERT ... ON CONFLICT (symbol, ts) DO UPDATE`), so a crash leaves the old or the new data,
never a mix; rows whose values do not change are not touched, so re-ingesting changes nothing.
Concurrent writers never lose a row (the upsert is atomic per key); a write that PostgreSQL aborts
because of a deadlock or a serialization failure between writers of the same rows is retried.
Unknown vwap/trades are stored as SQL NULL and come back as NaN.

Sharing a database: the table is `<prefix><table>` in `schema` (created when missing, the
connection's default schema when None), and the store's import journal (see journal.py) is the
table `<prefix><table>_imports` beside it, so users and test runs each keep their own store.
Connection failures (a bad DSN, a server down) raise a TradebrainError naming the DSN with its
password masked and saying what to check.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from tradebrain.core.errors import ConfigError, TradebrainError
from tradebrain.data.schema import validate_bars
from tradebrain.data.store.base import VALUE_COLUMNS, check_symbol, empty_bars, finish_read, in_store_form, utc_bound
from tradebrain.data.store.journal import ImportRecord, abandoned

if TYPE_CHECKING:
    from tradebrain.data.store.doctor import Finding

DEFAULT_DSN = "postgresql://127.0.0.1:5432/test"
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()
COPY_TRAILER = np.array([-1], dtype=">i2").tobytes()
PG_EPOCH_US = int(pd.Timestamp("2000-01-01", tz="UTC").value // 1000)
CHUNK_ROWS = 200_000
NULLABLE = ("vwap", "trades")
RETRYABLE = (errors.DeadlockDetected, errors.SerializationFailure)
DDL_LOCK = 0x74726164656272  # one advisory lock key for every store's CREATE SCHEMA/TABLE ("tradebr")
MAX_IDENTIFIER = 63  # PostgreSQL cuts longer names silently
JOURNAL_COLUMNS = (
    "id",
    "kind",
    "source",
    "symbols",
    "rows",
    "first",
    "last",
    "started",
    "pid",
    "host",
    "token",
    "note",
)


def masked(dsn: str) -> str:
    """`dsn` with its password replaced by ***, in URL or key=value form (for messages and logs)."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            if ":" in user:
                user = user.split(":", 1)[0] + ":***"
            netloc = f"{user}@{host}"
        query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query)
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)


def _short(error: Exception) -> str:
    """The first lines of a driver error, without psycopg's hint lines."""
    return " ".join(line.strip() for line in str(error).strip().splitlines() if line.strip())


class PostgresBarStore:
    """BarStore over the PostgreSQL table `<prefix><table>` in `schema` at `dsn`, with its import
    journal beside it (both created when missing, the schema too).

    `connect_timeout` (seconds) applies unless the DSN sets one; a write aborted by a deadlock or a
    serialization failure is retried up to `retries` times with jittered exponential back-off.
    `create=False` refuses to create a missing table (every command but `import` opens stores so).
    """

    def __init__(
        self,
        dsn: str = DEFAULT_DSN,
        table: str = "bars",
        *,
        schema: str | None = None,
        prefix: str = "",
        connect_timeout: float = 10.0,
        retries: int = 8,
        create: bool = True,
    ) -> None:
        self.dsn = dsn
        self.schema = schema or None
        self.prefix = prefix
        self.table = f"{prefix}{table}"
        self.journal_table = f"{self.table}_imports"
        self.retries = retries
        if not table:
            raise ConfigError("the table name is empty; pass a name such as table='bars'")
        for name, option in ((self.journal_table, "--table-prefix or the table name"), (self.schema or "", "--schema")):
            if len(name.encode()) > MAX_IDENTIFIER:
                raise ConfigError(f"{name!r} is longer than PostgreSQL's {MAX_IDENTIFIER} bytes; shorten {option}")
        try:
            given = conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as error:
            raise ConfigError(
                f"--postgres {masked(dsn)} is not a valid DSN ({_short(error)}); use e.g. postgresql://USER@HOST:5432/DB"
            ) from None
        self._connect_args: dict[str, Any] = {}
        if "connect_timeout" not in given:
            self._connect_args["connect_timeout"] = max(1, round(connect_timeout))
        self._name = self._identifier(self.table)
        self._journal_name = self._identifier(self.journal_table)
        self.journal = PostgresJournal(self)
        self._create(create)

    def _identifier(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name) if self.schema else sql.Identifier(name)

    @property
    def qualified(self) -> str:
        """The table's name as messages show it (schema.table)."""
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection to the store's database (committed when the block succeeds).

        Failing to connect, or losing the server in the block, raises a TradebrainError naming the
        DSN (password masked) and what to check; deadlocks and serialization failures pass through
        unchanged so that writers can retry them.
        """
        try:
            connection = psycopg.connect(self.dsn, **self._connect_args)
        except psycopg.OperationalError as error:
            raise TradebrainError(
                f"cannot connect to PostgreSQL at {masked(self.dsn)} ({_short(error)}); check that the server runs "
                "(pg_isready -h HOST -p PORT) and the host, port, database, user and password of the DSN (--postgres)"
            ) from None
        try:
            with connection:
                yield connection
        except RETRYABLE:
            raise
        except psycopg.OperationalError as error:
            raise TradebrainError(
                f"PostgreSQL at {masked(self.dsn)} failed ({_short(error)}); check that the server is up and retry"
            ) from error

    def _create(self, create: bool) -> None:
        """Create the schema, the table and the journal when missing, one store at a time (an advisory
        lock: concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL's catalog). Without
        `create` a missing bar table is a ConfigError (a mistyped --schema or --table-prefix must not
        make an empty store); a missing journal is always created (stores older than the journal)."""
        values = sql.SQL(", ").join(sql.SQL("{} double precision").format(sql.Identifier(c)) for c in VALUE_COLUMNS)
        with self.connection() as connection:
            names = (self._name.as_string(connection), self._journal_name.as_string(connection))
            found = connection.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL", names)
            bars_exist, journal_exists = found.fetchone() or (False, False)
            if bars_exist and journal_exists:
                return
            if not bars_exist and not create:
                raise ConfigError(
                    f"there is no bar table {self.qualified} at {masked(self.dsn)}; check --schema and "
                    "--table-prefix, or create the store by importing bars into it (tradebrain data import FILE "
                    "--symbol SYMBOL --postgres DSN ...)"
                )
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
            if self.schema:
                exists = connection.execute("SELECT to_regnamespace(%s) IS NOT NULL", (f'"{self.schema}"',)).fetchone()
                if not (exists and exists[0]):
                    connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            connection.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (symbol text NOT NULL, ts timestamptz NOT NULL, {}, "
                    "PRIMARY KEY (symbol, ts))"
                ).format(self._name, values)
            )
            connection.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, kind text NOT NULL, source text NOT NULL, "
                    "symbols text[] NOT NULL, rows bigint NOT NULL, first timestamptz NOT NULL, "
                    "last timestamptz NOT NULL, started timestamptz NOT NULL, pid integer NOT NULL, "
                    "host text NOT NULL, token text NOT NULL, note text NOT NULL)"
                ).format(self._journal_name)
            )

    def write(self, bars: pd.DataFrame) -> int:
        """Validate `bars` and upsert them in one transaction (retried on deadlock or serialization
        failure); return the number of bars given."""
        bars = in_store_form(validate_bars(bars))
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in VALUE_COLUMNS)
        selected = sql.SQL(", ").join(
            sql.SQL("NULLIF({0}, 'NaN')").format(sql.Identifier(c)) if c in NULLABLE else sql.Identifier(c)
            for c in VALUE_COLUMNS
        )
        updates = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in VALUE_COLUMNS)
        old = sql.SQL(", ").join(sql.SQL("target.{}").format(sql.Identifier(c)) for c in VALUE_COLUMNS)
        new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in VALUE_COLUMNS)
        upsert = sql.SQL(
            "INSERT INTO {name} AS target (symbol, ts, {columns}) SELECT symbol, ts, {selected} FROM incoming "
            "ON CONFLICT (symbol, ts) DO UPDATE SET {updates} WHERE ({old}) IS DISTINCT FROM ({new})"
        ).format(name=self._name, columns=columns, selected=selected, updates=updates, old=old, new=new)
        for attempt in range(self.retries + 1):
            try:
                with self.connection() as connection, connection.transaction():
                    connection.execute(
                        sql.SQL("CREATE TEMPORARY TABLE incoming (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                            self._name
                        )
                    )
                    with connection.cursor().copy("COPY incoming FROM STDIN (FORMAT binary)") as copy:
                        for chunk in copy_payload(bars):
                            copy.write(chunk)
                    connection.execute(upsert)
                return len(bars)
            except RETRYABLE as error:
                if attempt == self.retries:
                    raise TradebrainError(
                        f"writing to {self.qualified} at {masked(self.dsn)} failed {attempt + 1} times on conflicts "
                        f"with concurrent writers ({_short(error)}); retry when the other imports have finished"
                    ) from error
                time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

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
        with self.connection() as connection, connection.cursor().copy(query) as copy:
            for data in copy:
                buffer += data
        return finish_read(_parse_copy(bytes(buffer)), symbol)

    def symbols(self) -> list[str]:
        """Every symbol with at least one bar, sorted."""
        with self.connection() as connection:
            rows = connection.execute(sql.SQL("SELECT DISTINCT symbol FROM {} ORDER BY symbol").format(self._name))
            return [str(row[0]) for row in rows]

    def coverage(self, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
        """(first, last, count) of `symbol`'s bars (one index range scan)."""
        query = sql.SQL("SELECT min(ts), max(ts), count(*) FROM {} WHERE symbol = %s").format(self._name)
        with self.connection() as connection:
            row = connection.execute(query, (check_symbol(symbol),)).fetchone()
        if row is None or not row[2]:
            return None
        return pd.Timestamp(row[0]).tz_convert("UTC"), pd.Timestamp(row[1]).tz_convert("UTC"), int(row[2])

    def delete(self, symbol: str) -> int:
        """Delete every bar of `symbol`; return how many there were."""
        query = sql.SQL("DELETE FROM {} WHERE symbol = %s").format(self._name)
        with self.connection() as connection:
            return int(connection.execute(query, (check_symbol(symbol),)).rowcount)

    def drop(self, schema: bool = False) -> None:
        """Drop the table and its journal; with `schema=True` the store's schema and all it holds
        (tests and benchmarks clean up with it)."""
        with self.connection() as connection:
            if schema and self.schema:
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
                return
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}").format(self._name, self._journal_name))

    def doctor(self, repair: bool = True) -> list[Finding]:
        """Check the table (columns, key, rows without prices) and the journal. PostgreSQL keeps its
        own files whole, so there is nothing to repair here: `repair` is accepted for symmetry."""
        from tradebrain.data.store.doctor import OK, PROBLEM, Finding, journal_findings

        expected = [("symbol", "text"), ("ts", "timestamp with time zone")]
        expected += [(column, "double precision") for column in VALUE_COLUMNS]
        findings = []
        with self.connection() as connection:
            columns = connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                "coalesce(%s, current_schema()) AND table_name = %s ORDER BY ordinal_position",
                (self.schema, self.table),
            ).fetchall()
            name = self._name.as_string(connection)
            key = connection.execute(
                "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass(%s) AND indisprimary", (name,)
            ).fetchone()
            required = sql.SQL(" OR ").join(
                sql.SQL("{0} IS NULL OR {0} = 'NaN'").format(sql.Identifier(c))
                for c in VALUE_COLUMNS
                if c not in NULLABLE
            )
            counts = connection.execute(
                sql.SQL("SELECT count(*), count(DISTINCT symbol), count(*) FILTER (WHERE {}) FROM {}").format(
                    required, self._name
                )
            ).fetchone()
        got = [(str(column), str(kind)) for column, kind in columns]
        if got != expected:
            findings.append(Finding("schema", PROBLEM, self.qualified, f"columns are {got}, expected {expected}; "
                                    "import into a new table (another --table-prefix) and drop this one"))  # fmt: skip
        elif not (key and key[0]):
            findings.append(Finding("schema", PROBLEM, self.qualified, "no primary key (symbol, ts), so bars can be "
                                    "doubled; import into a new table (another --table-prefix)"))  # fmt: skip
        else:
            findings.append(Finding("schema", OK, self.qualified, "columns and primary key (symbol, ts) as expected"))
        if counts is not None and counts[2]:
            findings.append(Finding("rows", PROBLEM, self.qualified, f"{counts[2]:,} rows lack a price or volume "
                                    "(NULL or NaN); delete them and re-import their symbols"))  # fmt: skip
        elif counts is not None:
            findings.append(Finding("rows", OK, self.qualified, f"{counts[0]:,} bars of {counts[1]} symbols"))
        return findings + journal_findings(self.journal.records())


class PostgresJournal:
    """The ImportJournal of a PostgresBarStore: one row per open record in `<prefix><table>_imports`,
    each change one transaction (atomic)."""

    def __init__(self, store: PostgresBarStore) -> None:
        self.store = store

    def begin(self, record: ImportRecord) -> None:
        """Insert `record`."""
        values = record.to_json() | {"symbols": list(record.symbols), "first": record.first,
                                     "last": record.last, "started": record.started}  # fmt: skip
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            self.store._journal_name,
            sql.SQL(", ").join(sql.Identifier(c) for c in JOURNAL_COLUMNS),
            sql.SQL(", ").join(sql.Placeholder(c) for c in JOURNAL_COLUMNS),
        )
        with self.store.connection() as connection:
            connection.execute(query, values)

    def complete(self, record: ImportRecord) -> list[ImportRecord]:
        """Delete `record` and the open records it clears, in one transaction (rows locked in id
        order, so two completing imports cannot deadlock)."""
        for attempt in range(self.store.retries + 1):
            try:
                with self.store.connection() as connection, connection.transaction():
                    cleared = [other for other in self._select(connection, lock=True) if other.cleared_by(record)]
                    ids = [record.id, *(other.id for other in cleared)]
                    connection.execute(
                        sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self.store._journal_name), (ids,)
                    )
                return cleared
            except RETRYABLE:
                if attempt == self.store.retries:
                    raise
                time.sleep(0.05 * (1 + random.random()))
        raise AssertionError("unreachable")

    def abandon(self, record: ImportRecord, reason: str) -> None:
        """Mark `record` as stopped by an error (no process, `reason` as its note)."""
        stopped = abandoned(record, reason)
        query = sql.SQL("UPDATE {} SET pid = %s, token = %s, note = %s WHERE id = %s").format(self.store._journal_name)
        with self.store.connection() as connection:
            connection.execute(query, (stopped.pid, stopped.token, stopped.note, stopped.id))

    def records(self) -> list[ImportRecord]:
        """Every open record, oldest first."""
        with self.store.connection() as connection:
            return self._select(connection, lock=False)

    def _select(self, connection: psycopg.Connection[Any], lock: bool) -> list[ImportRecord]:
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in JOURNAL_COLUMNS),
            self.store._journal_name,
            sql.SQL("id FOR UPDATE") if lock else sql.SQL("started, id"),
        )
        records = []
        for row in connection.execute(query):
            values = dict(zip(JOURNAL_COLUMNS, row, strict=True))
            values["symbols"] = tuple(values["symbols"])
            records.append(ImportRecord(**values))
        return sorted(records, key=lambda record: (record.started, record.id))


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
