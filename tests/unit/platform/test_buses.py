"""make_bus: the one place a bus is chosen from the `--bus` setting."""

from __future__ import annotations

import sys

import pytest

from tradebrain.core.errors import InputError
from tradebrain.core.extras import MissingExtraError
from tradebrain.platform.bus import InProcessBus
from tradebrain.platform.buses import make_bus


@pytest.mark.parametrize("url", [None, "inprocess"])
def test_no_url_or_inprocess_is_the_in_process_bus(url: str | None) -> None:
    assert isinstance(make_bus(url), InProcessBus)


def test_a_nats_url_is_the_nats_bus_not_yet_connected() -> None:
    pytest.importorskip("nats")
    from tradebrain.platform.nats_bus import NatsBus

    bus = make_bus("nats://127.0.0.1:4222")
    assert isinstance(bus, NatsBus)
    assert (bus.url, bus.connected) == ("nats://127.0.0.1:4222", False)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "", "nats://", "127.0.0.1:4222", "InProcess"])
def test_anything_else_names_the_value_and_the_accepted_forms(url: str) -> None:
    with pytest.raises(InputError, match="inprocess") as error:
        make_bus(url)
    assert repr(url) in str(error.value)
    assert "nats://" in str(error.value)


def test_a_nats_url_without_nats_py_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)
    with pytest.raises(MissingExtraError, match=r"NATS bus.*pip install 'tradebrain\[platform\]'"):
        make_bus("nats://127.0.0.1:4222")


def test_the_nats_bus_says_when_it_is_not_connected() -> None:
    pytest.importorskip("nats")
    import asyncio

    from tradebrain.platform.bus import BusError
    from tradebrain.platform.nats_bus import NatsBus

    async def run() -> None:
        with pytest.raises(BusError, match="connect"):
            await NatsBus().publish("x", b"")

    asyncio.run(run())


def test_nats_subscriptions_map_data_patterns_onto_streams() -> None:
    pytest.importorskip("nats")
    from tradebrain.platform.nats_bus import consumer_name, stream_targets

    bars, news = "dataprovider.stream.p.bar.*", "dataprovider.stream.p.news.*"
    assert stream_targets("dataprovider.stream.p.bar.AAA") == [("BARS", "dataprovider.stream.p.bar.AAA")]
    assert stream_targets("dataprovider.stream.p.*.>") == [("BARS", bars), ("NEWS", news)]
    assert stream_targets("dataprovider.stream.p.>") == [("BARS", bars), ("NEWS", news)]
    assert stream_targets("dataprovider.stream.>") == [
        ("BARS", "dataprovider.stream.*.bar.*"),
        ("NEWS", "dataprovider.stream.*.news.*"),
    ]
    assert stream_targets("dataprovider.cmd.subscribe") == []  # core subjects
    assert stream_targets("dataprovider.stream.p.quote.AAA") == []  # no such kind: nothing stored
    assert consumer_name("store.v2 main") == "store_v2_main"
    assert consumer_name("it-1_x") == "it-1_x"


def test_the_in_process_bus_publishes_a_batch_like_one_message_at_a_time() -> None:
    import asyncio

    from tradebrain.platform.subjects import stream_filter, stream_subject

    async def run() -> None:
        bus = make_bus(None)
        await bus.connect()
        subscription = await bus.subscribe(stream_filter("bar", "unit"))
        subject = stream_subject("unit", "bar", "AAA")
        await bus.publish_many([(subject, b"a", "1"), (subject, b"a again", "1"), ("other.subject", b"x", None)])
        await bus.publish_many((subject, bytes([i]), None) for i in range(3))
        assert [(await subscription.next(1.0)).data for _ in range(4)] == [b"a", b"\x00", b"\x01", b"\x02"]
        await bus.close()

    asyncio.run(run())
