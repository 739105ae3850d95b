"""Bar stores: one BarStore interface, Parquet/DuckDB (default, no server) and PostgreSQL backends,
and a cache-through source that asks a remote source only for what the store lacks."""

from __future__ import annotations

from tradebrain.data.store.base import BarStore, empty_bars
from tradebrain.data.store.cache import BarSource, CachedBarSource
from tradebrain.data.store.parquet import ParquetBarStore
from tradebrain.data.store.postgres import PostgresBarStore

__all__ = ["BarSource", "BarStore", "CachedBarSource", "ParquetBarStore", "PostgresBarStore", "empty_bars"]
