"""`tradebrain data`: import, list, show, validate bars, compute their features, and check a store.

Bars live in a local Parquet store (default `runs/store`, DuckDB queries, no server) or, with
`--postgres DSN` (and `--schema`, `--table-prefix` to share a database), in PostgreSQL. Imports
validate every row before anything is written and write one batch of trading days at a time: an
interrupted import leaves each month either old or new, and the store's import journal remembers
it, so `data list` flags its symbols until the same file is imported again. Only `import` creates
a store: every other command on a path that does not exist fails instead of making an empty one.
`data doctor` checks a store and repairs what can be repaired (see data/store/doctor.py).

Bad arguments exit with code 2 and a message naming the option and the fix: an unknown symbol
(with the close matches), a range whose --start is not before --end, a date that does not parse,
a --store that is a file, an --out whose suffix says neither Parquet nor CSV.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradebrain.core.cli import JsonOption, fail
from tradebrain.core.console import stderr_console
from tradebrain.core.errors import InputError, TradebrainError
from tradebrain.data.sources.files import TimestampUnit

data_app = typer.Typer(help="Market data: import, list, show, validate bars; compute features.", no_args_is_help=True)
console = Console(width=max(Console().width, 120))

StoreOption = Annotated[Path, typer.Option("--store", help="Parquet store folder (default runs/store)")]
PostgresOption = Annotated[str | None, typer.Option("--postgres", help="a PostgreSQL DSN instead of Parquet")]
SchemaOption = Annotated[
    str | None, typer.Option("--schema", help="PostgreSQL schema of the store's tables (created when missing)")
]
PrefixOption = Annotated[
    str, typer.Option("--table-prefix", help="prefix of the store's PostgreSQL table names, e.g. alice_")
]
EncodingOption = Annotated[str, typer.Option(help="text encoding of a CSV file, e.g. latin-1")]
DelimiterOption = Annotated[str, typer.Option(help="field delimiter of a CSV file, e.g. ';' or tab")]
TimestampUnitOption = Annotated[
    TimestampUnit | None,
    typer.Option("--timestamp-unit", help="unit of numeric (epoch) timestamps in the file: s | ms | us | ns"),
]
DAYS_PER_BATCH = 20
OUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def _store(root: Path, postgres: str | None, schema: str | None, prefix: str, create: bool = False) -> Any:
    """The store the options name: PostgreSQL with --postgres, else the Parquet folder `root`
    (created only when `create`: a mistyped --store, --schema or --table-prefix must not become an
    empty store)."""
    if postgres:
        from tradebrain.data.store.postgres import PostgresBarStore

        return PostgresBarStore(postgres, schema=schema, prefix=prefix, create=create)
    if schema or prefix:
        raise InputError("--schema and --table-prefix apply to PostgreSQL only; add --postgres DSN or drop them")
    from tradebrain.data.store.parquet import ParquetBarStore

    return ParquetBarStore(root, create=create)


def _where(store: Path, postgres: str | None) -> str:
    """The store as messages name it (a DSN with its password masked)."""
    if postgres:
        from tradebrain.data.store.postgres import masked

        return masked(postgres)
    return str(store)


def _read(
    path: Path | None,
    dataset: str | None,
    symbol: str | None,
    tz: str,
    repair: bool,
    encoding: str = "utf-8",
    delimiter: str = ",",
    timestamp_unit: TimestampUnit | None = None,
) -> pd.DataFrame:
    """Bars from a CSV/Parquet file or a built-in dataset, validated."""
    if dataset:
        from tradebrain.data.sources.datasets import load_dataset

        return load_dataset(dataset)
    if path is None:
        raise TradebrainError("give a FILE to import, or --dataset NAME (see `tradebrain data datasets`)")
    if not path.is_file():
        raise TradebrainError(f"{path} does not exist; pass a CSV or Parquet file of bars")
    if symbol is None:
        raise TradebrainError(f"--symbol is required for {path.name}: which instrument are these bars of?")
    from tradebrain.data.sources.files import read_bars_file

    return read_bars_file(
        path, symbol, tz=tz, repair=repair, encoding=encoding, delimiter=delimiter, timestamp_unit=timestamp_unit
    )


def _batches(bars: pd.DataFrame) -> list[pd.DataFrame]:
    """Consecutive groups of DAYS_PER_BATCH UTC dates, so the progress bar moves and each write is whole days."""
    days = bars["timestamp"].dt.floor("D")
    ranks = days.rank(method="dense").astype(int) - 1
    return [group for _, group in bars.groupby(ranks // DAYS_PER_BATCH, sort=True)]


@data_app.command("import")
def data_import(
    path: Annotated[Path | None, typer.Argument(help="CSV or Parquet file of bars")] = None,
    symbol: Annotated[str | None, typer.Option(help="instrument the file's bars belong to")] = None,
    dataset: Annotated[str | None, typer.Option(help="a built-in dataset instead of a file")] = None,
    tz: Annotated[str, typer.Option(help="time zone of naive timestamps in the file")] = "UTC",
    repair: Annotated[bool, typer.Option(help="sort rows and drop exact duplicates (with a warning)")] = False,
    encoding: EncodingOption = "utf-8",
    delimiter: DelimiterOption = ",",
    timestamp_unit: TimestampUnitOption = None,
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    schema: SchemaOption = None,
    table_prefix: PrefixOption = "",
    as_json: JsonOption = False,
) -> None:
    """Validate bars and upsert them into the store (re-importing the same file changes nothing).

    The import is recorded in the store's journal before the first write and cleared after the
    last, so an interrupted import stays visible (`data list`, `data doctor`) until redone.
    """
    from tradebrain.data.store.journal import begin_import

    try:
        bars = _read(path, dataset, symbol, tz, repair, encoding, delimiter, timestamp_unit)
        target = _store(store, postgres, schema, table_prefix, create=True)
        source = f"dataset:{dataset}" if dataset else str(Path(str(path)).resolve())
        record = begin_import(source, bars)
        target.journal.begin(record)
        written = 0
        columns = (TextColumn("[bold]importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        try:
            with Progress(*columns, console=stderr_console, transient=as_json) as progress:
                task = progress.add_task("import", total=len(bars))
                for batch in _batches(bars):
                    written += target.write(batch)
                    progress.advance(task, len(batch))
        except BaseException as error:  # Ctrl-C included: the record must read "interrupted" at once
            with contextlib.suppress(Exception):
                target.journal.abandon(record, f"{type(error).__name__}: {error}")
            raise
        cleared = target.journal.complete(record)
    except TradebrainError as error:
        raise fail(error) from None
    symbols = sorted(bars["symbol"].unique())
    result = {"rows": len(bars), "written": written, "symbols": symbols,
              "first": str(bars["timestamp"].min()), "last": str(bars["timestamp"].max()),
              "cleared": [record.describe() for record in cleared]}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result))
        return
    console.print(f"imported {len(bars):,} bars of {', '.join(symbols)} ({result['first']} .. {result['last']})")
    for done in cleared:
        console.print(f"completes the earlier {escape(done.describe())}")


def _issues(target: Any) -> dict[str, list[Any]]:
    """The store's open journal records by symbol."""
    issues: dict[str, list[Any]] = {}
    for record in target.journal.records():
        for name in record.symbols:
            issues.setdefault(name, []).append(record)
    return issues


def _coverage(target: Any, name: str) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
    """`name`'s coverage; a damaged month file is quarantined, reported on stderr, and the rest counted."""
    from tradebrain.data.store.parquet import CorruptPartError

    try:
        return target.coverage(name)  # type: ignore[no-any-return]
    except CorruptPartError as error:
        stderr_console.print(f"[bold yellow]warning:[/] {escape(str(error))}", soft_wrap=True, highlight=False)
        return target.coverage(name)  # type: ignore[no-any-return]


@data_app.command("list")
def data_list(
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    schema: SchemaOption = None,
    table_prefix: PrefixOption = "",
    as_json: JsonOption = False,
) -> None:
    """Symbols in the store with their first and last bar, the number of bars, and their state:
    "ok", or "interrupted" (an import of it never finished: import that file again), "importing"
    (an import runs now) or "quarantined" (a damaged month was moved aside: re-import that month)."""
    try:
        target = _store(store, postgres, schema, table_prefix)
        coverages = {name: _coverage(target, name) for name in target.symbols()}  # may quarantine damaged months
        issues = _issues(target)
        rows: list[dict[str, Any]] = []
        for name in sorted(set(coverages) | set(issues)):
            coverage = coverages.get(name)
            records = issues.get(name, [])
            states = sorted({record.state() for record in records})
            rows.append({"symbol": name, "first": str(coverage[0]) if coverage else None,
                         "last": str(coverage[1]) if coverage else None, "bars": coverage[2] if coverage else 0,
                         "interrupted": "interrupted" in states, "status": ", ".join(states) or "ok",
                         "issues": [record.describe() for record in records]})  # fmt: skip
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps({"symbols": rows}))
        return
    table = Table(title=f"bars in {_where(store, postgres)}")
    for column in ("symbol", "first", "last", "bars", "status"):
        table.add_column(column, justify="right" if column == "bars" else "left")
    for row in rows:
        status = row["status"] if row["status"] == "ok" else f"[bold yellow]{row['status']}[/]"
        table.add_row(row["symbol"], row["first"] or "—", row["last"] or "—", f"{row['bars']:,}", status)
    console.print(table)
    for row in rows:
        for issue in row["issues"]:
            console.print(f"[yellow]{escape(row['symbol'])}[/]: {escape(issue)}", soft_wrap=True)


def _when(value: str | None, option: str) -> pd.Timestamp | None:
    """The UTC timestamp `option` gives (naive values are UTC); an InputError naming it when it does not parse."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise InputError(
            f"{option} {value!r} is not a date or time ({error}); use e.g. 2024-01-31 or 2024-01-31T14:30"
        ) from None
    if pd.isna(stamp):
        raise InputError(f"{option} {value!r} is not a date or time; use e.g. 2024-01-31 or 2024-01-31T14:30")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _range(start: str | None, end: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """--start and --end as UTC timestamps, checked: start must come before end."""
    low, high = _when(start, "--start"), _when(end, "--end")
    if low is not None and high is not None and not low < high:
        raise InputError(f"--start {start} is not before --end {end}: the range [start, end) would be empty; swap them")
    return low, high


def _unknown_symbol(target: Any, symbol: str) -> InputError:
    """The error for a symbol the store has no bars of: the known ones, and the closest as a guess."""
    known = target.symbols()
    if not known:
        return InputError(f"no bars of {symbol} in the store: it is empty; import some with `tradebrain data import`")
    guess = difflib.get_close_matches(symbol, known, n=1) or difflib.get_close_matches(
        symbol.upper(), [name.upper() for name in known], n=1
    )
    hint = ""
    if guess:
        match = next((name for name in known if name.upper() == guess[0].upper()), guess[0])
        hint = f"did you mean {match}? "
    listed = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    return InputError(f"no bars of {symbol} in the store; {hint}it holds {listed} (`tradebrain data list`)")


def _read_known(target: Any, symbol: str, low: pd.Timestamp | None, high: pd.Timestamp | None) -> pd.DataFrame:
    """`symbol`'s bars in [low, high); an error listing the known symbols when the store has none of it."""
    bars = target.read(symbol, low, high)
    if bars.empty and target.coverage(symbol) is None:
        raise _unknown_symbol(target, symbol)
    return bars


def _warn_issues(target: Any, symbol: str) -> list[str]:
    """Print (on stderr) and return the open journal records of `symbol`: its bars may be incomplete."""
    issues = [record.describe() for record in _issues(target).get(symbol, [])]
    for issue in issues:
        stderr_console.print(f"[bold yellow]warning:[/] {escape(issue)}", soft_wrap=True, highlight=False)
    return issues


@data_app.command("show")
def data_show(
    symbol: Annotated[str, typer.Argument(help="instrument to show")],
    start: Annotated[
        str | None, typer.Option(help="first timestamp (inclusive, UTC unless zoned), e.g. 2006-01-02")
    ] = None,
    end: Annotated[str | None, typer.Option(help="last timestamp (exclusive)")] = None,
    rows: Annotated[int, typer.Option(min=0, help="rows to print from the start and from the end")] = 5,
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    schema: SchemaOption = None,
    table_prefix: PrefixOption = "",
    as_json: JsonOption = False,
) -> None:
    """The first and last bars of a symbol in a range, and how many there are."""
    try:
        low, high = _range(start, end)
        target = _store(store, postgres, schema, table_prefix)
        bars = _read_known(target, symbol, low, high)
        issues = _warn_issues(target, symbol)
    except TradebrainError as error:
        raise fail(error) from None
    shown = pd.concat([bars.head(rows), bars.tail(rows)]).drop_duplicates() if len(bars) > 2 * rows else bars
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "symbol": symbol,
                    "bars": len(bars),
                    "rows": json.loads(shown.to_json(orient="records", date_format="iso")),
                    "issues": issues,
                }
            )
        )
        return
    console.print(f"{symbol}: {len(bars):,} bars")
    if len(shown):
        console.print(shown.to_string(index=False))


@data_app.command("validate")
def data_validate(
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file of bars")],
    symbol: Annotated[str, typer.Option(help="instrument the file's bars belong to")],
    tz: Annotated[str, typer.Option(help="time zone of naive timestamps in the file")] = "UTC",
    encoding: EncodingOption = "utf-8",
    delimiter: DelimiterOption = ",",
    timestamp_unit: TimestampUnitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a file against the bar schema without storing it; exit 2 with the row, field and fix."""
    try:
        bars = _read(path, None, symbol, tz, False, encoding, delimiter, timestamp_unit)
    except TradebrainError as error:
        raise fail(error) from None
    result = {"file": str(path), "rows": len(bars), "first": str(bars["timestamp"].min()),
              "last": str(bars["timestamp"].max()), "valid": True}  # fmt: skip
    typer.echo(json.dumps(result)) if as_json else console.print(f"{path}: {len(bars):,} valid bars")


def _out_format(out: Path) -> str:
    """ "parquet" or "csv" by the suffix of `out`; an InputError naming the supported suffixes otherwise."""
    kind = OUT_FORMATS.get(out.suffix.lower())
    if kind is None:
        supported = ", ".join(OUT_FORMATS)
        raise InputError(
            f"--out {out}: cannot tell the format from {out.suffix or 'no suffix'!r}; end it in {supported}"
        )
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a file name ending in {', '.join(OUT_FORMATS)}")
    folder = next((parent for parent in out.parents if parent.exists()), None)
    if folder is not None and not folder.is_dir():
        raise InputError(f"--out {out}: {folder} is a file, not a folder; choose another path for the features")
    return kind


@data_app.command("features")
def data_features(
    symbol: Annotated[str, typer.Argument(help="instrument whose bars to use")],
    out: Annotated[Path | None, typer.Option(help="write the features here: .parquet/.pq (Parquet) or .csv")] = None,
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    schema: SchemaOption = None,
    table_prefix: PrefixOption = "",
    as_json: JsonOption = False,
) -> None:
    """Point-in-time, scale-invariant features of a symbol's bars (the value at t uses bars up to t)."""
    from tradebrain.core.io import atomic_path
    from tradebrain.data.features import FEATURE_NAMES, compute_features

    try:
        kind = _out_format(out) if out is not None else None
        target = _store(store, postgres, schema, table_prefix)
        bars = _read_known(target, symbol, None, None)
        _warn_issues(target, symbol)
        features = compute_features(bars)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(out) as temporary:
                if kind == "csv":
                    features.to_csv(temporary, index=False)
                else:
                    features.to_parquet(temporary)
    except TradebrainError as error:
        raise fail(error) from None
    summary = features[list(FEATURE_NAMES)].describe().T[["count", "mean", "std", "min", "max"]]
    if as_json:
        typer.echo(json.dumps({"symbol": symbol, "rows": len(features), "out": str(out) if out else None,
                               "features": json.loads(summary.to_json(orient="index"))}))  # fmt: skip
        return
    console.print(f"{symbol}: {len(features):,} rows of {len(FEATURE_NAMES)} features" + (f" -> {out}" if out else ""))
    console.print(summary.to_string(float_format=lambda x: f"{x:.4g}"))


@data_app.command("doctor")
def data_doctor(
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    schema: SchemaOption = None,
    table_prefix: PrefixOption = "",
    repair: Annotated[
        bool, typer.Option(help="sweep temporaries, quarantine unreadable files, fix order (--no-repair: report only)")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Check a store (files readable, columns, rows sorted/unique/in their month, stray temporaries,
    stale locks, interrupted imports) and repair what can be repaired without losing data.

    Exits 0 when the store is healthy (or was repaired), 2 while a problem remains; each problem's
    line says how to fix it (most often: re-import a file or a symbol's month).
    """
    from tradebrain.data.store.doctor import PROBLEM, REPAIRED, healthy

    try:
        findings = _store(store, postgres, schema, table_prefix).doctor(repair=repair)
    except TradebrainError as error:
        raise fail(error) from None
    ok = healthy(findings)
    if as_json:
        typer.echo(json.dumps({"store": _where(store, postgres), "healthy": ok, "repair": repair,
                               "findings": [finding.to_json() for finding in findings]}))  # fmt: skip
    else:
        colours = {PROBLEM: "bold red", REPAIRED: "green"}
        table = Table(title=f"doctor: {_where(store, postgres)}")
        for column in ("check", "status", "where", "detail"):
            table.add_column(column, overflow="fold")
        for finding in findings:
            colour = colours.get(finding.status)
            status = f"[{colour}]{finding.status}[/]" if colour else finding.status
            table.add_row(finding.check, status, escape(finding.where), escape(finding.detail))
        console.print(table)
        console.print("healthy" if ok else "[bold red]problems remain[/]: see the detail column for the fixes")
    if not ok:
        raise typer.Exit(code=2)
