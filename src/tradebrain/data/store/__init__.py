"""Bar stores: one BarStore interface, Parquet/DuckDB (default, no server) and PostgreSQL backends,
and a cache-through source that asks a remote source only for what the store lacks.

Both backends keep every row under concurrent writers (month locks in lock.py; upserts in one
transaction), record imports in a journal so an interrupted one is flagged until redone
(journal.py), and can be checked and repaired by the doctor (doctor.py). A damaged Parquet month
file is quarantined with a CorruptPartError instead of breaking the whole store.
"""

from __future__ import annotations

from tradebrain.data.store.base import BarStore, empty_bars
from tradebrain.data.store.cache import BarSource, CachedBarSource
from tradebrain.data.store.doctor import Finding
from tradebrain.data.store.journal import ImportRecord
from tradebrain.data.store.parquet import CorruptPartError, ParquetBarStore, QuarantineWarning
from tradebrain.data.store.postgres import PostgresBarStore

__all__ = [
    "BarSource",
    "BarStore",
    "CachedBarSource",
    "CorruptPartError",
    "Finding",
    "ImportRecord",
    "ParquetBarStore",
    "PostgresBarStore",
    "QuarantineWarning",
    "empty_bars",
]
