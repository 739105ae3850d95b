"""The order journal: ids are the same on every retry, every event is on disk before it is acted
on, the book rebuilds exactly from the file (a torn last line from a crash is ignored), and the
order lifecycle refuses impossible moves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebrain.core.errors import InputError, TradebrainError
from tradebrain.live.orders import OrderJournal, OrderStateError, client_order_id

T0 = pd.Timestamp("2024-01-02 14:31", tz="UTC")


def test_client_order_ids_are_deterministic_and_distinct() -> None:
    assert client_order_id("dt", T0, 0) == client_order_id("dt", T0.tz_convert("America/New_York"), 0)
    ids = {
        client_order_id(s, T0 + pd.Timedelta(minutes=m), leg) for s in ("a", "b") for m in range(3) for leg in (0, 1)
    }
    assert len(ids) == 12 and all(len(i) <= 48 for i in ids)
    with pytest.raises(InputError, match="time zone"):
        client_order_id("dt", pd.Timestamp("2024-01-02 14:31"), 0)


def test_the_same_decision_journals_one_order(tmp_path: Path) -> None:
    journal = OrderJournal.load(tmp_path / "orders.jsonl")
    first = journal.submit("dt", "FUT", 10, T0)
    again = journal.submit("dt", "FUT", 10, T0)
    assert first == again and len(journal.orders) == 1
    assert (tmp_path / "orders.jsonl").read_text().count('"event":"new"') == 1
    with pytest.raises(InputError, match="non-zero"):
        journal.submit("dt", "FUT", 0, T0 + pd.Timedelta(minutes=1))


def test_lifecycle_fills_and_refusals(tmp_path: Path) -> None:
    journal = OrderJournal.load(tmp_path / "orders.jsonl")
    order = journal.submit("dt", "FUT", 10, T0)
    journal.update(order.id, "accepted")
    journal.update(order.id, "partially_filled", 4, 100.0)
    done = journal.update(order.id, "filled", 6, 101.0)
    assert (done.filled, done.remaining, done.open) == (10, 0, False)
    assert done.average_price == pytest.approx((4 * 100 + 6 * 101) / 10)
    with pytest.raises(OrderStateError, match="filled -> cancelled"):
        journal.update(order.id, "cancelled")
    other = journal.submit("dt", "FUT", -5, T0, leg=1)
    journal.update(other.id, "rejected")
    with pytest.raises(OrderStateError):
        journal.update(other.id, "accepted")
    with pytest.raises(InputError, match="unknown order"):
        journal.update("tb-nope", "accepted")
    with pytest.raises(InputError, match="price"):
        journal.update(journal.submit("dt", "FUT", 1, T0, leg=2).id, "filled", 1, float("nan"))
    assert [o.id for o in journal.open_orders()] == [client_order_id("dt", T0, 2)]


def test_the_book_rebuilds_from_disk_and_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    journal = OrderJournal.load(path)
    order = journal.submit("dt", "FUT", 10, T0)
    journal.update(order.id, "partially_filled", 3, 99.5)
    assert OrderJournal.load(path).orders == journal.orders
    with path.open("a") as handle:
        handle.write('{"event":"update","id":"' + order.id + '","sta')  # the crash hit mid-write
    reloaded = OrderJournal.load(path)
    assert reloaded.orders == journal.orders
    later = reloaded.submit("dt", "FUT", 2, T0 + pd.Timedelta(minutes=1))  # written after the cut tail
    assert OrderJournal.load(path).orders[later.id] == later
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "garbage", lines[1]]) + "\n")
    with pytest.raises(TradebrainError, match="line 2"):
        OrderJournal.load(path)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(["accepted", "partially_filled", "filled", "cancelled"]),
            st.integers(1, 5),
        ),
        min_size=1,
        max_size=25,
    ),
    cut=st.floats(0.0, 1.0),
)
def test_a_crash_anywhere_leaves_a_prefix_of_the_history(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[int, str, int]], cut: float
) -> None:
    """Cut the file at any byte: the reloaded book is the book after some prefix of the events,
    never an order that was not journalled, never a state that was not reached."""
    path = tmp_path_factory.mktemp("crash") / "orders.jsonl"
    journal = OrderJournal.load(path, fsync=False)
    books = [dict(journal.orders)]
    for minute, state, quantity in steps:
        order = journal.submit("dt", "FUT", 10, T0 + pd.Timedelta(minutes=minute))
        books.append(dict(journal.orders))
        fill = quantity if state in ("partially_filled", "filled") and quantity < order.remaining else 0
        if state == "filled":
            fill = order.remaining
        try:
            journal.update(order.id, state, fill, 100.0 if fill else 0.0)  # type: ignore[arg-type]
        except OrderStateError:
            continue
        books.append(dict(journal.orders))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    assert OrderJournal.load(path, fsync=False).orders in books
