"""The bus contract (platform/bus.py's module docstring) as cases any Bus must pass: the in-process
bus runs them in tests/unit/platform/test_bus_contract.py, the NATS bus against the machine's
server in tests/integration/test_nats_bus.py. Each case takes a connected bus and a provider name
unique to the run (so cases never see each other's data on a shared server)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tradebrain.platform.bus import Bus, BusError, Message
from tradebrain.platform.subjects import stream_filter, stream_subject

BusFactory = Callable[[], Awaitable[Bus]]


async def publishes_in_order_to_every_matching_subscriber(bus: Bus, provider: str) -> None:
    one = await bus.subscribe(stream_filter("bar", provider, "AAA"))
    every = await bus.subscribe(stream_filter("bar", provider))
    for i in range(20):
        await bus.publish(
            stream_subject(provider, "bar", "AAA" if i % 2 == 0 else "BB.B"), bytes([i]), f"{provider}-{i}"
        )
    got_one = [(await one.next(5.0)).data[0] for _ in range(10)]
    got_every = [await every.next(5.0) for _ in range(20)]
    assert got_one == list(range(0, 20, 2))
    assert [m.data[0] for m in got_every] == list(range(20))
    assert got_every[1].subject.endswith(".BB~B")  # '.' in a symbol travels as '~'
    await one.close()
    await every.close()


async def drops_a_repeated_message_id(bus: Bus, provider: str) -> None:
    subscription = await bus.subscribe(stream_filter("bar", provider))
    subject = stream_subject(provider, "bar", "AAA")
    for data, msg_id in ((b"a", "x1"), (b"a again", "x1"), (b"b", "x2")):
        await bus.publish(subject, data, f"{provider}-{msg_id}")
    assert (await subscription.next(5.0)).data == b"a"
    assert (await subscription.next(5.0)).data == b"b"
    try:
        extra = await subscription.next(0.3)
    except BusError:
        extra = None
    assert extra is None, "a repeated id was delivered"
    await subscription.close()


async def a_durable_consumer_resumes_after_its_last_ack(bus: Bus, provider: str) -> None:
    subject = stream_subject(provider, "bar", "AAA")
    pattern = stream_filter("bar", provider)
    durable = f"{provider}-store"
    first = await bus.subscribe(pattern, durable=durable)
    for i in range(5):
        await bus.publish(subject, bytes([i]), f"{provider}-{i}")
    for _ in range(3):
        message = await first.next(5.0)
        await message.ack()
    await first.close()  # "crashes" after acknowledging three
    for i in range(5, 8):
        await bus.publish(subject, bytes([i]), f"{provider}-{i}")
    again = await bus.subscribe(pattern, durable=durable)
    resumed = []
    for _ in range(5):
        message = await again.next(5.0)
        resumed.append(message.data[0])
        await message.ack()
    assert resumed == [3, 4, 5, 6, 7]
    await again.close()


async def serves_chunked_replies_and_small_requests_while_a_long_one_runs(bus: Bus, provider: str) -> None:
    long_subject, short_subject = f"test.{provider}.long", f"test.{provider}.short"

    async def long_handler(message: Message):  # type: ignore[no-untyped-def]
        for i in range(50):
            await asyncio.sleep(0.01)
            yield bytes([i])

    async def short_handler(message: Message):  # type: ignore[no-untyped-def]
        yield message.data.upper()

    await bus.serve(long_subject, long_handler)
    await bus.serve(short_subject, short_handler)

    async def collect(subject: str, data: bytes, count: int) -> list[bytes]:
        chunks = []
        async for chunk in bus.request(subject, data, timeout=5.0):
            chunks.append(chunk)
            if len(chunks) == count:
                break
        return chunks

    long_task = asyncio.ensure_future(collect(long_subject, b"", 50))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    assert await collect(short_subject, b"abc", 1) == [b"ABC"]
    assert asyncio.get_running_loop().time() - started < 0.25, "a small request waited for a long one"
    assert [chunk[0] for chunk in await long_task] == list(range(50))


async def a_request_without_responder_is_a_clear_error(bus: Bus, provider: str) -> None:
    try:
        async for _ in bus.request(f"test.{provider}.nobody", b"", timeout=0.5):
            pass
    except BusError as error:
        assert "nobody" in str(error)
    else:
        raise AssertionError("a request with no responder returned")


CASES = (
    publishes_in_order_to_every_matching_subscriber,
    drops_a_repeated_message_id,
    a_durable_consumer_resumes_after_its_last_ack,
    serves_chunked_replies_and_small_requests_while_a_long_one_runs,
    a_request_without_responder_is_a_clear_error,
)
