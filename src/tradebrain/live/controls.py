"""The node's controls, persisted so they hold across restarts: stop, liquidate-and-stop, the risk
gate's latched halts (the kill switch), and caps on order rate and notional per order.

"Stop" sends no new order and leaves positions as they are; "liquidate" sells every position at
the next bar's close and then stops. A daily-loss or drawdown halt of the risk gate is written
here the moment it fires (the gate's state vector), and a restarted node restores it, so a
restart never lifts a kill switch; `resume` is the deliberate act that does. Every change is
written to a temporary file and renamed into place.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.core.io import atomic_write_text
from tradebrain.risk.gate import RiskGate

Mode = Literal["running", "stopped", "liquidate"]
MODES = ("running", "stopped", "liquidate")


@dataclass
class NodeControls:
    """The controls of one node, kept in the JSON file `path`."""

    path: Path
    mode: Mode = "running"
    reason: str = ""
    gate_state: list[float] | None = None
    max_orders_per_minute: int | None = None
    max_notional: float | None = None
    _recent: deque[pd.Timestamp] = field(default_factory=deque, repr=False)

    @classmethod
    def load(
        cls, path: Path | str, max_orders_per_minute: int | None = None, max_notional: float | None = None
    ) -> NodeControls:
        """The controls saved at `path` (running, with no latch, when there is no file yet)."""
        if max_orders_per_minute is not None and max_orders_per_minute < 1:
            raise InputError(f"max_orders_per_minute must be >= 1, got {max_orders_per_minute}")
        if max_notional is not None and not max_notional > 0:
            raise InputError(f"max_notional must be > 0, got {max_notional}")
        controls = cls(Path(path), max_orders_per_minute=max_orders_per_minute, max_notional=max_notional)
        if controls.path.exists():
            saved = json.loads(controls.path.read_text(encoding="utf-8"))
            if saved.get("mode") not in MODES:
                raise InputError(f"{path}: mode {saved.get('mode')!r} is not one of {MODES}; fix or delete the file")
            controls.mode, controls.reason, controls.gate_state = (
                saved["mode"],
                saved.get("reason", ""),
                saved.get("gate_state"),
            )
        return controls

    def save(self) -> None:
        """Write the controls (atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"mode": self.mode, "reason": self.reason, "gate_state": self.gate_state}
        atomic_write_text(self.path, json.dumps(body, indent=2))

    def stop(self, reason: str = "stopped by the operator") -> None:
        """No new orders from now on; positions stay."""
        self.mode, self.reason = "stopped", reason
        self.save()

    def liquidate(self, reason: str = "liquidated by the operator") -> None:
        """Sell every position at the next bar's close, then stop."""
        self.mode, self.reason = "liquidate", reason
        self.save()

    def resume(self, gate: RiskGate | None = None) -> None:
        """Run again, lifting the gate's latched halts: the one deliberate way out of a kill switch."""
        if gate is not None:
            gate.reset()
        self.mode, self.reason, self.gate_state = "running", "", None if gate is None else gate.state.tolist()
        self.save()

    def latch(self, gate: RiskGate) -> None:
        """Persist the gate's state (its halts) now."""
        self.gate_state = gate.state.tolist()
        self.save()

    def restore(self, gate: RiskGate) -> None:
        """Give `gate` the state saved by the last `latch` (its halts survive the restart)."""
        if self.gate_state is not None:
            gate.state[:] = np.asarray(self.gate_state, dtype=float)

    def refusal(self, notional: float, timestamp: pd.Timestamp) -> str | None:
        """Why a new order of `notional` at `timestamp` may not go out (None: it may), counting it when it may."""
        if self.mode != "running":
            return f"node {self.mode}: {self.reason}"
        if self.max_notional is not None and abs(notional) > self.max_notional:
            return f"notional {abs(notional):,.2f} is above the cap of {self.max_notional:,.2f} per order"
        if self.max_orders_per_minute is not None:
            while self._recent and timestamp - self._recent[0] >= pd.Timedelta(minutes=1):
                self._recent.popleft()
            if len(self._recent) >= self.max_orders_per_minute:
                return f"order rate: {self.max_orders_per_minute} orders in the last minute already"
            self._recent.append(timestamp)
        return None
