"""Integration fixtures: real servers on this machine, skipped with a reason when absent unless
TRADEBRAIN_REQUIRE_SERVICES=1 (then their absence fails the test, as in CI)."""

from __future__ import annotations

import os

import psycopg
import pytest

POSTGRES_DSN = os.environ.get("TRADEBRAIN_POSTGRES_DSN", "postgresql://127.0.0.1:5432/test")


def _require_services() -> bool:
    return os.environ.get("TRADEBRAIN_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The DSN of a reachable PostgreSQL (TRADEBRAIN_POSTGRES_DSN, default the local `test` database)."""
    try:
        with psycopg.connect(POSTGRES_DSN, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        reason = f"PostgreSQL at {POSTGRES_DSN} is unreachable ({error}); start it or set TRADEBRAIN_POSTGRES_DSN"
        if _require_services():
            pytest.fail(f"TRADEBRAIN_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return POSTGRES_DSN
