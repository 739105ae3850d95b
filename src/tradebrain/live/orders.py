"""Orders that are never sent twice and never lost: deterministic client order ids and a journal
written before anything reaches a broker.

Why: a node that crashes between deciding and sending, or between sending and hearing back,
must not send a second order on restart, nor forget one it sent (NautilusTrader #3176, #5000). So
every order gets a client order id computed from what decided it (strategy, decision time, leg),
is appended to the journal and flushed to disk BEFORE it is handed to the execution client, and
every later state is appended too. On restart `OrderJournal.load` rebuilds the book: an order
journalled as new but never acknowledged is re-sent under the SAME id (brokers refuse a repeated
client order id, and the paper broker ignores one it has seen), so a retry never creates a second
order.

States: new -> accepted -> partially_filled -> filled, and cancelled or rejected; a partially
filled order may be cancelled (the rest). Any other move is refused: a broker message that would
make one is a bug or a stale message, never silently applied.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from tradebrain.core.errors import InputError, TradebrainError

OrderState = Literal["new", "accepted", "partially_filled", "filled", "cancelled", "rejected"]
TERMINAL: frozenset[str] = frozenset({"filled", "cancelled", "rejected"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"accepted", "partially_filled", "filled", "cancelled", "rejected"}),
    "accepted": frozenset({"partially_filled", "filled", "cancelled", "rejected"}),
    "partially_filled": frozenset({"partially_filled", "filled", "cancelled"}),
    "filled": frozenset(),
    "cancelled": frozenset(),
    "rejected": frozenset(),
}
"""Which state may follow which (a broker may skip `accepted`: a market order often fills at once)."""


class OrderStateError(TradebrainError):
    """A state change the order lifecycle does not allow (see TRANSITIONS)."""


def client_order_id(strategy: str, decision_time: pd.Timestamp, leg: int = 0) -> str:
    """The order's id, the same on every retry: strategy, decision time (UTC, ns) and leg (a close
    and an open decided on one bar are legs 0 and 1), hashed to the 48 characters brokers accept."""
    if decision_time.tzinfo is None:
        raise InputError(f"decision_time {decision_time} has no time zone; pass UTC timestamps")
    key = f"{strategy}|{decision_time.tz_convert('UTC').value}|{leg}"
    return "tb-" + hashlib.sha256(key.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class JournalOrder:
    """An order as the journal knows it: what was asked, and what has filled so far."""

    id: str
    strategy: str
    symbol: str
    quantity: float
    decided_at: str
    state: OrderState = "new"
    filled: float = 0.0
    average_price: float = 0.0
    reason: str = ""

    @property
    def remaining(self) -> float:
        """Shares still to fill (signed like `quantity`)."""
        return self.quantity - self.filled

    @property
    def open(self) -> bool:
        """Whether the order can still fill."""
        return self.state not in TERMINAL


@dataclass
class OrderJournal:
    """An append-only file of order events (one JSON object per line, flushed and fsynced per
    event), and the book of orders it describes. A torn last line (a crash mid-write) is ignored:
    the event it held was never acted on, because acting always comes after the append returns."""

    path: Path
    orders: dict[str, JournalOrder] = field(default_factory=dict)
    fsync: bool = True

    @classmethod
    def load(cls, path: Path | str, fsync: bool = True) -> OrderJournal:
        """The journal at `path` with its book rebuilt (a new, empty one when the file is absent)."""
        journal = cls(Path(path), fsync=fsync)
        journal.path.parent.mkdir(parents=True, exist_ok=True)
        for event in journal._events():
            journal._apply(event)
        journal._drop_torn_tail()
        return journal

    def _drop_torn_tail(self) -> None:
        """Cut a crash's half-written last line, so the next event starts on a line of its own."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())

    def _events(self) -> Iterator[dict[str, object]]:
        if not self.path.exists():
            return
        text = self.path.read_text(encoding="utf-8")
        # a last line without its newline was cut by a crash, and never acted on (acting follows the append)
        complete = text.rpartition("\n")[0]
        for number, line in enumerate(complete.split("\n") if complete else [], start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                raise TradebrainError(f"{self.path}: line {number} is not JSON; the journal is damaged") from None

    def _append(self, event: dict[str, object]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, separators=(",", ":")) + "\n")
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())

    def _apply(self, event: dict[str, object]) -> JournalOrder:
        kind = event["event"]
        if kind == "new":
            order = JournalOrder(**{k: v for k, v in event.items() if k != "event"})  # type: ignore[arg-type]
            self.orders[order.id] = order
            return order
        order = self.orders[str(event["id"])]
        state = str(event["state"])
        if state not in TRANSITIONS[order.state]:
            raise OrderStateError(f"order {order.id}: {order.state} -> {state} is not a valid move")
        filled, average = order.filled, order.average_price
        fill_quantity = float(event.get("fill_quantity", 0.0))  # type: ignore[arg-type]
        if fill_quantity:
            price = float(event["fill_price"])  # type: ignore[arg-type]
            total = filled + fill_quantity
            average = (average * filled + price * fill_quantity) / total
            filled = total
        updated = replace(order, state=state, filled=filled, average_price=average)  # type: ignore[arg-type]
        self.orders[order.id] = updated
        return updated

    def submit(self, strategy: str, symbol: str, quantity: float, decided_at: pd.Timestamp, leg: int = 0,
               reason: str = "") -> JournalOrder:  # fmt: skip
        """Journal a new order (durably) and return it; the same decision again returns the order
        already journalled instead of a second one."""
        if not (math.isfinite(quantity) and quantity != 0):
            raise InputError(f"order quantity must be finite and non-zero, got {quantity!r}")
        order_id = client_order_id(strategy, decided_at, leg)
        if order_id in self.orders:
            return self.orders[order_id]
        order = JournalOrder(order_id, strategy, symbol, float(quantity), decided_at.isoformat(), reason=reason)
        event = {"event": "new", **asdict(order)}
        self._append(event)
        return self._apply(event)

    def update(
        self, order_id: str, state: OrderState, fill_quantity: float = 0.0, fill_price: float = 0.0
    ) -> JournalOrder:
        """Journal a state change (with the quantity and price of a fill, if one came with it)."""
        if order_id not in self.orders:
            raise InputError(f"unknown order id {order_id!r}; the journal has no such order")
        if fill_quantity and not (math.isfinite(fill_price) and fill_price > 0):
            raise InputError(f"a fill needs a finite price > 0, got {fill_price!r}")
        event: dict[str, object] = {"event": "update", "id": order_id, "state": state}
        if fill_quantity:
            event |= {"fill_quantity": float(fill_quantity), "fill_price": float(fill_price)}
        current = self.orders[order_id]
        if state not in TRANSITIONS[current.state]:
            raise OrderStateError(f"order {order_id}: {current.state} -> {state} is not a valid move")
        self._append(event)
        return self._apply(event)

    def open_orders(self) -> list[JournalOrder]:
        """Orders that can still fill, in submission order (what a restarted node must reconcile)."""
        return [order for order in self.orders.values() if order.open]
