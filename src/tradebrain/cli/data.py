"""`tradebrain data`: import, list, show, validate bars and compute their features.

Bars live in a local Parquet store (default `runs/store`, DuckDB queries, no server) or, with
`--postgres DSN`, in PostgreSQL. Imports validate every row before anything is written and write
one batch of trading days at a time: an interrupted import leaves each day either old or new.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradebrain.core.cli import JsonOption, fail
from tradebrain.core.console import stderr_console
from tradebrain.core.errors import TradebrainError

data_app = typer.Typer(help="Market data: import, list, show, validate bars; compute features.", no_args_is_help=True)
console = Console(width=max(Console().width, 120))

StoreOption = Annotated[Path, typer.Option("--store", help="Parquet store folder (default runs/store)")]
PostgresOption = Annotated[str | None, typer.Option("--postgres", help="a PostgreSQL DSN instead of Parquet")]
DAYS_PER_BATCH = 20


def _store(root: Path, postgres: str | None) -> Any:
    if postgres:
        from tradebrain.data.store.postgres import PostgresBarStore

        return PostgresBarStore(postgres)
    from tradebrain.data.store.parquet import ParquetBarStore

    return ParquetBarStore(root)


def _read(path: Path | None, dataset: str | None, symbol: str | None, tz: str, repair: bool) -> pd.DataFrame:
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
    from tradebrain.data.sources.files import read_bars_csv, read_bars_parquet

    if path.suffix.lower() in (".parquet", ".pq"):
        return read_bars_parquet(path, symbol, repair=repair)
    return read_bars_csv(path, symbol, tz=tz, repair=repair)


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
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate bars and upsert them into the store (re-importing the same file changes nothing)."""
    try:
        bars = _read(path, dataset, symbol, tz, repair)
        target = _store(store, postgres)
        batches = _batches(bars)
        written = 0
        columns = (TextColumn("[bold]importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=stderr_console, transient=as_json) as progress:
            task = progress.add_task("import", total=len(bars))
            for batch in batches:
                written += target.write(batch)
                progress.advance(task, len(batch))
    except TradebrainError as error:
        raise fail(error) from None
    symbols = sorted(bars["symbol"].unique())
    result = {"rows": len(bars), "written": written, "symbols": symbols,
              "first": str(bars["timestamp"].min()), "last": str(bars["timestamp"].max())}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result))
    else:
        console.print(f"imported {len(bars):,} bars of {', '.join(symbols)} ({result['first']} .. {result['last']})")


@data_app.command("list")
def data_list(
    store: StoreOption = Path("runs/store"), postgres: PostgresOption = None, as_json: JsonOption = False
) -> None:
    """Symbols in the store with their first and last bar and the number of bars."""
    try:
        target = _store(store, postgres)
        rows = []
        for name in target.symbols():
            coverage = target.coverage(name)
            if coverage is not None:
                rows.append({"symbol": name, "first": str(coverage[0]), "last": str(coverage[1]), "bars": coverage[2]})
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps({"symbols": rows}))
        return
    table = Table(title=f"bars in {postgres or store}")
    for column in ("symbol", "first", "last", "bars"):
        table.add_column(column, justify="right" if column == "bars" else "left")
    for row in rows:
        table.add_row(row["symbol"], row["first"], row["last"], f"{row['bars']:,}")
    console.print(table)


@data_app.command("show")
def data_show(
    symbol: Annotated[str, typer.Argument(help="instrument to show")],
    start: Annotated[str | None, typer.Option(help="first timestamp (inclusive), e.g. 2006-01-02")] = None,
    end: Annotated[str | None, typer.Option(help="last timestamp (exclusive)")] = None,
    rows: Annotated[int, typer.Option(help="rows to print from the start and from the end")] = 5,
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    as_json: JsonOption = False,
) -> None:
    """The first and last bars of a symbol in a range, and how many there are."""
    try:
        bars = _store(store, postgres).read(symbol, _when(start), _when(end))
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
                }
            )
        )
        return
    console.print(f"{symbol}: {len(bars):,} bars")
    console.print(shown.to_string(index=False))


def _when(value: str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@data_app.command("validate")
def data_validate(
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file of bars")],
    symbol: Annotated[str, typer.Option(help="instrument the file's bars belong to")],
    tz: Annotated[str, typer.Option(help="time zone of naive timestamps in the file")] = "UTC",
    as_json: JsonOption = False,
) -> None:
    """Check a file against the bar schema without storing it; exit 2 with the row, field and fix."""
    try:
        bars = _read(path, None, symbol, tz, repair=False)
    except TradebrainError as error:
        raise fail(error) from None
    result = {"file": str(path), "rows": len(bars), "first": str(bars["timestamp"].min()),
              "last": str(bars["timestamp"].max()), "valid": True}  # fmt: skip
    typer.echo(json.dumps(result)) if as_json else console.print(f"{path}: {len(bars):,} valid bars")


@data_app.command("features")
def data_features(
    symbol: Annotated[str, typer.Argument(help="instrument whose bars to use")],
    out: Annotated[Path | None, typer.Option(help="write the features to this Parquet file")] = None,
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    as_json: JsonOption = False,
) -> None:
    """Point-in-time, scale-invariant features of a symbol's bars (the value at t uses bars up to t)."""
    from tradebrain.data.features import FEATURE_NAMES, compute_features

    try:
        bars = _store(store, postgres).read(symbol)
        if bars.empty:
            raise TradebrainError(f"no bars of {symbol} in the store; import some with `tradebrain data import`")
        features = compute_features(bars)
    except TradebrainError as error:
        raise fail(error) from None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        features.to_parquet(out)
    summary = features[list(FEATURE_NAMES)].describe().T[["count", "mean", "std", "min", "max"]]
    if as_json:
        typer.echo(json.dumps({"symbol": symbol, "rows": len(features), "out": str(out) if out else None,
                               "features": json.loads(summary.to_json(orient="index"))}))  # fmt: skip
        return
    console.print(f"{symbol}: {len(features):,} rows of {len(FEATURE_NAMES)} features" + (f" -> {out}" if out else ""))
    console.print(summary.to_string(float_format=lambda x: f"{x:.4g}"))
