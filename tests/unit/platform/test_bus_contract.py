"""The in-process bus keeps the bus contract (tests/unit/platform/bus_cases.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from tests.unit.platform.bus_cases import CASES

from tradebrain.platform.bus import Bus, BusError, InProcessBus


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_in_process_bus_keeps_the_contract(case: Callable[[Bus, str], Awaitable[None]]) -> None:
    async def run() -> None:
        bus = InProcessBus()
        await bus.connect()
        try:
            await case(bus, "unit")
        finally:
            await bus.close()

    asyncio.run(run())


def test_a_bus_that_is_not_connected_says_so() -> None:
    async def run() -> None:
        with pytest.raises(BusError, match="connect"):
            await InProcessBus().publish("x", b"")

    asyncio.run(run())
