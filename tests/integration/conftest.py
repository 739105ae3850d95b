"""Integration fixtures: real servers on this machine, skipped with a reason when absent unless
TRADEBRAIN_REQUIRE_SERVICES=1 (then their absence fails the test, as in CI)."""

from __future__ import annotations

import json
import os
import socket
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

POSTGRES_DSN = os.environ.get("TRADEBRAIN_POSTGRES_DSN", "postgresql://127.0.0.1:5432/test")
NATS_URL = os.environ.get("TRADEBRAIN_NATS_URL", "nats://127.0.0.1:4222")


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


def _nats_info(url: str) -> dict[str, Any]:
    """The INFO a NATS server greets a client with (no nats-py needed to ask)."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=3) as connection:
        line = connection.makefile("rb").readline(65536)
    if not line.startswith(b"INFO "):
        raise OSError(f"it is not a NATS server (it said {line[:40]!r})")
    info: dict[str, Any] = json.loads(line[5:])
    return info


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The URL of a reachable NATS server with JetStream (TRADEBRAIN_NATS_URL, default the local one)."""
    try:
        import nats  # noqa: F401  (the NATS bus needs the `platform` extra)

        info = _nats_info(NATS_URL)
        if not info.get("jetstream"):
            raise OSError("it runs without JetStream (start it with `nats-server -js`)")
    except (OSError, ValueError, ImportError) as error:
        reason = f"NATS at {NATS_URL} is not usable ({error}); start `nats-server -js` or set TRADEBRAIN_NATS_URL"
        if _require_services():
            pytest.fail(f"TRADEBRAIN_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return NATS_URL
