"""Everything that defines one day-trading env: costs, sizing, the mask windows and the features."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, field_validator

from tradebrain.core.config import StrictModel
from tradebrain.data.features import FEATURE_NAMES
from tradebrain.market.venue import VenueConfig

DEFAULT_VENUE = VenueConfig(fill="next_open", spread="range")
"""The desk's fills by default: the next bar's open, paying half the spread the high-low range implies."""


class DayTradingEnvConfig(StrictModel):
    """A long-only, all-in intraday trader of one symbol, flat by the close.

    `commission`: fee as a fraction of the traded value, charged on the buy and on the sell.
    `cash`: the balance every training episode starts from. `cash_fraction`: the share of the cash
    a buy spends, fee included. `cooldown_bars`: bars a new position must be held before it may be
    sold. `exit_window_bars`: the last bars of the session, where a position may only be sold and
    no new one opened (see `actions.action_mask` for the exact rule). `whole_shares`: floor the
    quantity to whole units. `invalid_action`: "mask" (an invalid action is an error; the agent
    reads `action_masks()`) or "penalty" (an invalid action costs `invalid_penalty` reward and
    is treated as hold, for algorithms without masks). `features`: the columns of
    `tradebrain.data.features.FEATURE_NAMES` the agent observes, in that order. `venue`: how
    orders fill (market/venue.py), in training and in the desk's backtests alike: by default the
    next bar's open plus half the range-estimated spread; `fill: close` is the optimistic same-bar
    close. Its fees are `commission` (the fee rate) and the venue's `fee_per_share` and `min_fee`.
    The env does not model a participation cap or impact (the backtest does: test a trained policy
    under them with `tradebrain study daytrading --ladder`).
    """

    commission: float = Field(0.0, ge=0.0, lt=0.1, description="fraction of the traded value, per side")
    cash: float = Field(10_000.0, gt=0.0)
    cash_fraction: float = Field(1.0, gt=0.0, le=1.0)
    cooldown_bars: int = Field(2, ge=0)
    exit_window_bars: int = Field(5, ge=1)
    whole_shares: bool = False
    invalid_action: Literal["mask", "penalty"] = "mask"
    invalid_penalty: float = Field(0.01, ge=0.0, description="reward subtracted for an invalid action (penalty mode)")
    features: tuple[str, ...] = Field(FEATURE_NAMES, min_length=1)
    venue: VenueConfig = DEFAULT_VENUE

    @field_validator("venue")
    @classmethod
    def _venue_the_env_models(cls, venue: VenueConfig) -> VenueConfig:
        if venue.fee_rate:
            raise ValueError(
                f"venue.fee_rate = {venue.fee_rate:g} duplicates the env's commission; set commission instead"
            )
        if venue.participation is not None:
            raise ValueError(
                "the day-trading env fills whole orders (no participation cap); leave venue.participation unset "
                "and test the trained policy under a cap with `tradebrain study daytrading --ladder`"
            )
        if venue.impact != "none" and venue.impact_coefficient > 0:
            raise ValueError("the day-trading env does not model market impact; leave venue.impact unset")
        if venue.spread == "quoted":
            raise ValueError("the day-trading days carry no bid/ask quotes; use venue.spread 'range' or 'fixed'")
        return venue

    @field_validator("features")
    @classmethod
    def _known_features(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if name not in FEATURE_NAMES:
                close = difflib.get_close_matches(name, FEATURE_NAMES, n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"unknown feature {name!r}; {hint}(features: {', '.join(FEATURE_NAMES)})")
        if len(set(names)) != len(names):
            repeated = sorted({name for name in names if names.count(name) > 1})
            raise ValueError(f"features {repeated} are listed more than once; list each feature once")
        return names


DEFAULT_CONFIG = DayTradingEnvConfig()
"""The default config (frozen, so safe as a default argument)."""
