"""Errors raised at the boundary: each names the offending field and how to fix it."""

from __future__ import annotations


class TradebrainError(Exception):
    """Base of every error tradebrain raises on purpose."""


class ConfigError(TradebrainError, ValueError):
    """A configuration file, override or parameter is invalid."""


class InputError(TradebrainError, ValueError):
    """Data or an action handed to tradebrain is invalid (NaN, out of range, wrong shape)."""
