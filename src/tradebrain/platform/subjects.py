"""Every subject the platform uses, in one place (the README's table is this module's).

| subject | kind | payload | served or published by |
|---|---|---|---|
| `dataprovider.stream.<provider>.bar.<SYMBOL>` | stream BARS | bars, one per message | the provider |
| `dataprovider.stream.<provider>.news.<SYMBOL>` | stream NEWS | news | the provider |
| `dataprovider.cmd.subscribe`, `.unsubscribe` | request/reply | cmd / end | the provider |
| `dataprovider.cmd.feeds` | request/reply | cmd / feeds | the provider |
| `dataprovider.history.bar` | chunked request/reply | cmd / bars..., end | the provider (store, then the broker) |
| `storage.history.bar` | chunked request/reply | cmd / bars..., end | the storage component (store only) |

Chunked replies go to the request's own inbox subject; each chunk is a bar batch, and the last
message is an end marker carrying the record count, so a client knows it has everything.

NATS subject tokens cannot hold '.', '*', '>' or white space, and symbols can ('BRK.B'), so a
symbol travels as one token with '.' written '~' (`symbol_token`; '~' never appears in symbols).
"""

from __future__ import annotations

import re

from tradebrain.core.errors import InputError

PREFIX = "dataprovider"
KINDS = ("bar", "news")
BAR_STREAM = "BARS"  # the JetStream streams: every provider's bars, every provider's news
NEWS_STREAM = "NEWS"
SUBSCRIBE = f"{PREFIX}.cmd.subscribe"
UNSUBSCRIBE = f"{PREFIX}.cmd.unsubscribe"
FEEDS = f"{PREFIX}.cmd.feeds"
PROVIDER_HISTORY = f"{PREFIX}.history.bar"
STORAGE_HISTORY = "storage.history.bar"

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+$")
_SYMBOL = re.compile(r"^[A-Za-z0-9_\-.]{1,32}$")


def check_symbol(symbol: str) -> str:
    """`symbol` if it can travel on the bus (letters, digits, '.', '_', '-'; 1 to 32 characters)."""
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        raise InputError(
            f"symbol {symbol!r} cannot travel on the bus: use 1 to 32 letters, digits, '.', '_' or '-' (e.g. 'AAPL')"
        )
    return symbol


def symbol_token(symbol: str) -> str:
    """The subject token of `symbol`: '.' written '~'."""
    return check_symbol(symbol).replace(".", "~")


def token_symbol(token: str) -> str:
    """The symbol of a subject token (the inverse of `symbol_token`)."""
    return token.replace("~", ".")


def check_provider(provider: str) -> str:
    """`provider` if it is one subject token (letters, digits, '_', '-')."""
    if not isinstance(provider, str) or not _TOKEN.match(provider):
        raise InputError(f"provider {provider!r} must be one word of letters, digits, '_' or '-' (e.g. 'alpaca')")
    return provider


def stream_subject(provider: str, kind: str, symbol: str) -> str:
    """`dataprovider.stream.<provider>.<kind>.<SYMBOL>`: where one symbol's live data of one kind goes."""
    if kind not in KINDS:
        raise InputError(f"data kind {kind!r} is not one of {KINDS}")
    return f"{PREFIX}.stream.{check_provider(provider)}.{kind}.{symbol_token(symbol)}"


def stream_filter(kind: str, provider: str = "*", symbol: str | None = None) -> str:
    """A subscription pattern: one symbol's (or every symbol's) data of one kind from one (or any) provider."""
    if kind not in KINDS:
        raise InputError(f"data kind {kind!r} is not one of {KINDS}")
    if provider != "*":
        check_provider(provider)
    return f"{PREFIX}.stream.{provider}.{kind}.{'*' if symbol is None else symbol_token(symbol)}"


def parse_stream_subject(subject: str) -> tuple[str, str, str]:
    """(provider, kind, symbol) of a stream subject; InputError naming the subject otherwise."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[0] != PREFIX or parts[1] != "stream" or parts[3] not in KINDS:
        raise InputError(f"{subject!r} is not a stream subject ({PREFIX}.stream.<provider>.<kind>.<SYMBOL>)")
    return parts[2], parts[3], token_symbol(parts[4])


def stream_name(kind: str) -> str:
    """The JetStream stream that keeps data of `kind`."""
    return BAR_STREAM if kind == "bar" else NEWS_STREAM


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: '*' matches one token, '>' (last) one or more."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)
