"""The action mask: cooldown after an entry, exit window at the session end, flat vs long."""

from __future__ import annotations

import numpy as np
import pytest

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.actions import BUY, HOLD, N_ACTIONS, SELL, action_mask, describe_mask, parse_action


def _allowed(mask: np.ndarray) -> set[int]:
    return {int(i) for i in np.flatnonzero(mask)}


@pytest.mark.parametrize(
    ("in_position", "bars_held", "bars_left", "allowed"),
    [
        (False, 0, 100, {HOLD, BUY}),
        (False, 0, 5, {HOLD, BUY}),  # the last bar a position may be opened (exit window 5)
        (False, 0, 4, {HOLD}),  # first bar of the exit window
        (False, 0, 0, {HOLD}),  # last bar
        (True, 1, 100, {HOLD}),  # cooldown 2: the bar after the entry
        (True, 2, 100, {HOLD, SELL}),  # cooldown over
        (True, 50, 5, {HOLD, SELL}),
        (True, 50, 4, {SELL}),  # exit window: only sell
        (True, 1, 4, {SELL}),  # the exit window wins over the cooldown
        (True, 3, 0, {SELL}),  # last bar
    ],
)
def test_mask_rules(in_position: bool, bars_held: int, bars_left: int, allowed: set[int]) -> None:
    mask = action_mask(in_position, bars_held, bars_left, cooldown_bars=2, exit_window_bars=5)
    assert mask.dtype == bool
    assert mask.shape == (N_ACTIONS,)
    assert _allowed(mask) == allowed


def test_no_cooldown_allows_selling_on_the_next_bar() -> None:
    assert _allowed(action_mask(True, 1, 10, cooldown_bars=0, exit_window_bars=1)) == {HOLD, SELL}
    assert _allowed(action_mask(True, 1, 0, cooldown_bars=0, exit_window_bars=1)) == {SELL}
    assert _allowed(action_mask(False, 0, 1, cooldown_bars=0, exit_window_bars=1)) == {HOLD, BUY}


def test_every_state_allows_exactly_one_or_two_actions_and_never_buy_and_sell() -> None:
    for in_position in (False, True):
        for held in range(4):
            for left in range(8):
                mask = action_mask(in_position, held, left, cooldown_bars=2, exit_window_bars=3)
                assert 1 <= mask.sum() <= 2
                assert not (mask[BUY] and mask[SELL])
                assert not mask[BUY] if in_position else not mask[SELL]


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(InputError, match="exit_window_bars >= 1"):
        action_mask(False, 0, 3, cooldown_bars=2, exit_window_bars=0)
    with pytest.raises(InputError, match="bars_left >= 0"):
        action_mask(False, 0, -1, cooldown_bars=2, exit_window_bars=5)


def test_parse_action_accepts_integers_and_names_a_bad_action() -> None:
    assert parse_action(2) == SELL
    assert parse_action(np.int64(1)) == BUY
    assert parse_action(np.array([0])) == HOLD
    assert parse_action(1.0) == BUY
    for bad in (3, -1, 0.5, "buy", np.array([0, 1])):
        with pytest.raises(InputError, match=r"not one of 0 \(hold\), 1 \(buy\), 2 \(sell\)"):
            parse_action(bad)
    assert describe_mask(np.array([True, False, True])) == "hold (0) or sell (2)"
