"""Which bus a component runs on, from the one setting that chooses it (`--bus` on the command line).

None or "inprocess": the in-process bus (bus.py), every component in one process, no server.
"nats://host:port": the NATS bus (nats_bus.py), components in any number of processes sharing a
NATS server with JetStream; it needs the `platform` extra (nats-py).
"""

from __future__ import annotations

from tradebrain.core.errors import InputError
from tradebrain.core.extras import require
from tradebrain.platform.bus import Bus, InProcessBus

INPROCESS = "inprocess"


def make_bus(url: str | None) -> Bus:
    """The bus `url` names (module docstring); InputError naming the value and the accepted forms."""
    if url is None or url == INPROCESS:
        return InProcessBus()
    if isinstance(url, str) and url.startswith("nats://") and len(url) > len("nats://"):
        require("nats", "the NATS bus")
        from tradebrain.platform.nats_bus import NatsBus  # nats-py is imported only when asked for

        return NatsBus(url)
    raise InputError(
        f"bus {url!r} is not one of the accepted forms: {INPROCESS!r} (or none) for the in-process bus, "
        "or a NATS server URL like 'nats://127.0.0.1:4222'"
    )
