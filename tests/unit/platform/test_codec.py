"""The wire format: bars round-trip exactly, in one message or many; a malformed, other-version or
impossible message is refused naming its subject; subjects carry any symbol the bus accepts."""

from __future__ import annotations

import msgpack
import numpy as np
import pandas as pd
import pytest

from tradebrain.core.errors import InputError
from tradebrain.data.sources.synthetic import synthetic_intraday
from tradebrain.platform.codec import (
    Bars,
    MessageError,
    Payload,
    bars_from_frame,
    bars_table,
    decode,
    encode,
    encode_bars,
    split_by_symbol,
)
from tradebrain.platform.provider import bar_messages, chunk_messages
from tradebrain.platform.subjects import matches, parse_stream_subject, stream_subject, symbol_token, token_symbol


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.concat(
        [synthetic_intraday("AAA", days=1), synthetic_intraday("BRK.B", days=1, seed=1)], ignore_index=True
    )


def test_bars_round_trip_exactly_one_by_one_and_in_chunks(frame: pd.DataFrame) -> None:
    per_symbol = split_by_symbol(frame, "replay")
    assert [bars.symbol for bars in per_symbol] == ["AAA", "BRK.B"]
    for bars in per_symbol:
        singles = [decode(data, "s") for data, _ in bar_messages(bars)]
        chunks = [decode(data, "s") for data, _ in chunk_messages(bars, 100)]
        assert len(singles) == len(bars) and len(chunks) == 4
        for parts in (singles, chunks):
            table = bars_table(parts)  # type: ignore[arg-type]
            want = frame[frame["symbol"] == bars.symbol].reset_index(drop=True)
            np.testing.assert_array_equal(table["close"].to_numpy(), want["close"].to_numpy())
            assert list(table["timestamp"]) == list(want["timestamp"])
    ids = [msg_id for _, msg_id in bar_messages(per_symbol[0])]
    assert len(set(ids)) == len(ids) and ids[0].startswith("replay:AAA:")


def test_malformed_messages_are_refused_naming_the_subject(frame: pd.DataFrame) -> None:
    good = bars_from_frame(frame[frame["symbol"] == "AAA"].iloc[:3], "p")
    body = msgpack.unpackb(encode_bars(good))
    cases = {
        b"\xc1 not msgpack": "not msgpack",
        msgpack.packb([1, 2]): "not a map",
        msgpack.packb(body | {"v": 2}): "version 2",
        msgpack.packb(body | {"type": "candles"}): "type 'candles'",
        msgpack.packb({k: v for k, v in body.items() if k != "c"}): "lacks ['c']",
        msgpack.packb(body | {"c": body["c"][:-8]}): "column 'c'",
        msgpack.packb(body | {"c": np.array([1.0, -1.0, 2.0]).tobytes()}): "not finite and > 0",
        msgpack.packb(body | {"t": np.array([3, 2, 1], dtype="<i8").tobytes()}): "not increasing",
        msgpack.packb(body | {"h": np.array([0.5, 0.5, 0.5]).tobytes()}): "high/low",
    }
    for data, expect in cases.items():
        with pytest.raises(MessageError, match=r"dataprovider\.stream\.p\.bar\.AAA") as error:
            decode(data, "dataprovider.stream.p.bar.AAA")
        assert expect in str(error.value), (expect, str(error.value))
    one = bars_from_frame(frame.iloc[:1], "p")
    bad = msgpack.unpackb(encode_bars(one)) | {"l": np.array([1e9]).tobytes()}
    with pytest.raises(MessageError, match="high/low"):
        decode(msgpack.packb(bad), "x")


def test_other_messages_and_subjects() -> None:
    payload = decode(encode("end", n=3), "s")
    assert isinstance(payload, Payload) and payload.type == "end" and payload.fields == {"n": 3}
    with pytest.raises(InputError, match="encode_bars"):
        encode("bars")
    subject = stream_subject("alpaca", "bar", "BRK.B")
    assert subject == "dataprovider.stream.alpaca.bar.BRK~B"
    assert parse_stream_subject(subject) == ("alpaca", "bar", "BRK.B")
    assert token_symbol(symbol_token("A.B.C")) == "A.B.C"
    assert matches("dataprovider.stream.*.bar.*", subject) and not matches("dataprovider.stream.*.news.*", subject)
    assert matches("dataprovider.>", subject) and not matches("dataprovider.>", "dataprovider")
    for bad in ("", "A B", "A*", "A>", "x" * 40):
        with pytest.raises(InputError, match="cannot travel"):
            stream_subject("alpaca", "bar", bad)
    with pytest.raises(InputError, match="provider"):
        stream_subject("al.paca", "bar", "AAA")
    columns = ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
    empty = pd.DataFrame(columns=columns).astype({"timestamp": "datetime64[ns, UTC]"})
    assert isinstance(bars_from_frame(empty, "p"), Bars) and len(bars_from_frame(empty, "p")) == 0
