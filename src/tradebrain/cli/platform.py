"""`tradebrain platform`: run the market-data platform and talk to it.

- `up` starts the provider and the storage component, in one process (`--role all`, the default)
  or as separate processes (`--role provider`, `--role storage`) sharing a NATS bus.
- `feeds`, `history` ask a running platform over the bus.
- `replay FILE --speed 60` plays a bar file as a live feed (with an in-process bus, straight into
  the store).

The bus is `--bus nats://HOST:4222` (JetStream; what separate processes need) or `inprocess`
(everything in this one process). TRADEBRAIN_BUS sets the default; without it, `up` and `replay`
default to `inprocess` and the commands that ask a running platform to nats://127.0.0.1:4222.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from tradebrain.core.cli import JsonOption, fail
from tradebrain.core.console import stderr_console
from tradebrain.core.errors import InputError, TradebrainError

platform_app = typer.Typer(
    help="The market-data platform: provider, storage and their bus; feeds, history, replay.", no_args_is_help=True
)
console = Console(width=max(Console().width, 120))
DEFAULT_NATS = "nats://127.0.0.1:4222"
ROLES = ("all", "provider", "storage")

BusOption = Annotated[str | None, typer.Option("--bus", help="nats://HOST:PORT or inprocess (env TRADEBRAIN_BUS)")]
StoreOption = Annotated[Path, typer.Option("--store", help="Parquet store folder (default runs/store)")]
PostgresOption = Annotated[str | None, typer.Option("--postgres", help="a PostgreSQL DSN instead of Parquet")]


def _bus_url(given: str | None, default: str) -> str:
    return given or os.environ.get("TRADEBRAIN_BUS") or default


def _store(root: Path, postgres: str | None) -> Any:
    if postgres:
        from tradebrain.data.store.postgres import PostgresBarStore

        return PostgresBarStore(postgres, create=True)
    from tradebrain.data.store.parquet import ParquetBarStore

    return ParquetBarStore(root, create=True)


def _source(spec: str, speed: float, tz: str) -> Any:
    """`replay:FILE`, `synthetic:SYM1,SYM2` or `alpaca` (keys from the environment)."""
    kind, _, rest = spec.partition(":")
    if kind == "replay":
        from tradebrain.data.schema import DataValidationError
        from tradebrain.data.sources.files import read_bars_file
        from tradebrain.platform.replay import ReplaySource

        path = Path(rest)
        if not path.is_file():
            raise InputError(f"--source replay:{rest}: no such file; give a CSV or Parquet bar file")
        try:  # the file's own symbol column, or, when it has none, the file's name
            bars = read_bars_file(path, None, tz=tz)
        except DataValidationError as error:
            if "symbol" not in str(error):
                raise
            bars = read_bars_file(path, path.stem, tz=tz)
        return ReplaySource(bars, speed)
    if kind == "synthetic":
        from tradebrain.platform.replay import synthetic_source

        return synthetic_source([s for s in rest.split(",") if s] or ["SYN"], speed=speed)
    if kind == "alpaca":
        from tradebrain.platform.alpaca_live import AlpacaLiveSource

        return AlpacaLiveSource.from_environment()
    raise InputError(f"--source {spec!r}: give replay:FILE, synthetic:SYM1,SYM2 or alpaca")


async def _run_up(
    bus_url: str,
    role: str,
    sources: list[Any],
    store: Any,
    symbols: list[str],
    until_done: bool,
    quiet: bool,
    durable: str = "storage",
) -> dict[str, int]:
    from tradebrain.platform.buses import make_bus
    from tradebrain.platform.provider import DataProvider
    from tradebrain.platform.storage import StorageService

    bus = make_bus(bus_url)
    await bus.connect()
    live = any(
        getattr(source, "provider", "") == "alpaca" for source in sources
    )  # US equities: silence is normal when XNYS is closed
    provider = (
        DataProvider(bus, sources, store, calendar="XNYS" if live else None) if role in ("all", "provider") else None
    )
    storage = StorageService(bus, store, durable) if role in ("all", "storage") and store is not None else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if storage is not None:
            await storage.start()
        if provider is not None:
            await provider.start()
            if symbols:
                await provider.subscribe(symbols)
        status = stderr_console.status("platform up", spinner="dots") if not quiet else contextlib.nullcontext()
        with status as line:
            while not stop.is_set():
                if until_done and provider is not None and provider.played_out:
                    if storage is None:
                        break
                    await asyncio.wait_for(storage.idle.wait(), 60)
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
                if line is not None:
                    published = sum(feed.bars for feed in provider.feeds.values()) if provider else 0
                    written = storage.written if storage else 0
                    line.update(f"platform up on {bus_url}: {published:,} bars published, {written:,} stored")
    finally:
        if provider is not None:
            await provider.stop()
        if storage is not None:
            await storage.stop()
        await bus.close()
    return {
        "published": sum(feed.bars for feed in provider.feeds.values()) if provider else 0,
        "stored": storage.written if storage else 0,
        "rejected": storage.rejected if storage else 0,
    }


@platform_app.command("up")
def up(
    bus: BusOption = None,
    role: Annotated[str, typer.Option(help="all (one process) | provider | storage")] = "all",
    source: Annotated[
        list[str] | None, typer.Option(help="replay:FILE | synthetic:SYM1,SYM2 | alpaca (repeat for several)")
    ] = None,
    symbols: Annotated[str, typer.Option(help="symbols to stream from the start, comma-separated")] = "",
    speed: Annotated[float, typer.Option(help="replay speed: 60 plays a minute bar per second")] = 60.0,
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    tz: Annotated[str, typer.Option(help="time zone of naive timestamps in a replay file")] = "UTC",
    until_done: Annotated[bool, typer.Option(help="exit once every replay has played and been stored")] = False,
    durable: Annotated[
        str, typer.Option(help="the storage's consumer name: a restart under it resumes where it stopped")
    ] = "storage",
    as_json: JsonOption = False,
) -> None:
    """Start the provider and the storage component (Ctrl-C stops them; nothing stored is lost)."""
    try:
        if role not in ROLES:
            raise InputError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
        url = _bus_url(bus, "inprocess")
        if role != "all" and url == "inprocess":
            raise InputError(f"--role {role} runs beside other processes: give --bus nats://HOST:4222")
        sources = [_source(spec, speed, tz) for spec in source or []]
        if role in ("all", "provider") and not sources:
            raise InputError("the provider needs a --source (replay:FILE, synthetic:SYM1,SYM2 or alpaca)")
        wanted = [s.strip() for s in symbols.split(",") if s.strip()]
        if not wanted:  # replay and synthetic sources: every symbol they hold
            wanted = sorted({s for src in sources for s in getattr(src, "symbols", [])})
        bar_store = _store(store, postgres) if role != "provider" else None
        result = asyncio.run(_run_up(url, role, sources, bar_store, wanted, until_done, as_json, durable))
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(result))
    else:
        console.print(f"stopped: {result['published']:,} bars published, {result['stored']:,} stored, "
                      f"{result['rejected']} messages rejected")  # fmt: skip


@platform_app.command("replay")
def replay(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet bar file")],
    speed: Annotated[float, typer.Option(help="60 plays a minute bar per second; inf as fast as possible")] = 60.0,
    bus: BusOption = None,
    store: StoreOption = Path("runs/store"),
    postgres: PostgresOption = None,
    tz: Annotated[str, typer.Option(help="time zone of naive timestamps in the file")] = "UTC",
    as_json: JsonOption = False,
) -> None:
    """Play a bar file as a live feed: onto a NATS bus for running subscribers and storage, or
    (in-process) through the storage component into the store; exits when the file has played."""
    url = _bus_url(bus, "inprocess")
    role = "all" if url == "inprocess" else "provider"
    up(bus=url, role=role, source=[f"replay:{file}"], symbols="", speed=speed, store=store, postgres=postgres, tz=tz,
       until_done=True, durable="storage", as_json=as_json)  # fmt: skip


async def _ask_feeds(url: str) -> pd.DataFrame:
    from tradebrain.platform.buses import make_bus
    from tradebrain.platform.client import PlatformClient

    bus = make_bus(url)
    await bus.connect()
    try:
        return await PlatformClient(bus, timeout=5.0).feeds()
    finally:
        await bus.close()


@platform_app.command("feeds")
def feeds(bus: BusOption = None, as_json: JsonOption = False) -> None:
    """The running provider's feeds: provider, symbol, bars published, last bar, backfills."""
    try:
        frame = asyncio.run(_ask_feeds(_bus_url(bus, DEFAULT_NATS)))
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(frame.to_json(orient="records", date_format="iso"))
        return
    table = Table(title=f"{len(frame)} feeds")
    for column in frame.columns:
        table.add_column(column, justify="right" if column in ("bars", "backfills") else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(value) for value in row))
    console.print(table)


async def _ask_history(url: str, symbol: str, start: str, end: str, source: str, provider: str | None) -> pd.DataFrame:
    from tradebrain.platform.buses import make_bus
    from tradebrain.platform.client import PlatformClient

    bus = make_bus(url)
    await bus.connect()
    try:
        return await PlatformClient(bus, timeout=30.0).history(symbol, start, end, provider, source)
    finally:
        await bus.close()


def _utc(text: str, option: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except ValueError as error:
        raise InputError(f"{option} {text!r} is not a date or time: {error}") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@platform_app.command("history")
def history(
    symbol: Annotated[str, typer.Argument(help="the symbol, e.g. AAPL")],
    start: Annotated[str, typer.Option(help="first bar time (UTC unless it says otherwise)")],
    end: Annotated[str, typer.Option(help="end, exclusive")],
    bus: BusOption = None,
    source: Annotated[str, typer.Option(help="provider (store, then the broker) | storage (store only)")] = "provider",
    provider: Annotated[str | None, typer.Option(help="the provider's source, e.g. alpaca")] = None,
    out: Annotated[Path | None, typer.Option(help="write the bars to a .parquet or .csv file")] = None,
    as_json: JsonOption = False,
) -> None:
    """Bars of SYMBOL in [start, end) from a running platform."""
    try:
        low, high = _utc(start, "--start"), _utc(end, "--end")
        if not low < high:
            raise InputError(f"--start {start} is not before --end {end}; swap them")
        if out is not None and out.suffix not in (".parquet", ".csv"):
            raise InputError(f"--out {out}: give a .parquet or .csv file name")
        frame = asyncio.run(_ask_history(_bus_url(bus, DEFAULT_NATS), symbol, str(low), str(high), source, provider))
        if out is not None:
            from tradebrain.core.io import atomic_path

            with atomic_path(out) as temporary:
                if out.suffix == ".parquet":
                    frame.to_parquet(temporary)
                else:
                    frame.to_csv(temporary, index=False)
    except TradebrainError as error:
        raise fail(error) from None
    summary = {"symbol": symbol, "bars": len(frame),
               "first": None if frame.empty else str(frame["timestamp"].iloc[0]),
               "last": None if frame.empty else str(frame["timestamp"].iloc[-1])}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        span = f" from {summary['first']} to {summary['last']}" if len(frame) else ""
        console.print(f"{symbol}: {len(frame):,} bars{span}" + (f", written to {out}" if out else ""))
