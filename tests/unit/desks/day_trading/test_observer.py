"""Observations: the features, the position flag and the open PnL, float32 and never NaN."""

from __future__ import annotations

import numpy as np
import pytest

from tradebrain.core.errors import InputError
from tradebrain.data.features import FEATURE_NAMES
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.observer import observation, observation_names, observation_size


def test_layout_is_features_then_flag_then_pnl() -> None:
    obs = observation(np.array([0.5, -1.25, 3.0]), True, 0.0125)
    assert obs.dtype == np.float32
    np.testing.assert_array_equal(obs, np.array([0.5, -1.25, 3.0, 1.0, 0.0125], dtype=np.float32))
    flat = observation(np.zeros(2), False, 0.0)
    np.testing.assert_array_equal(flat, np.zeros(4, dtype=np.float32))


def test_size_and_names_follow_the_config() -> None:
    assert observation_size(DayTradingEnvConfig()) == len(FEATURE_NAMES) + 2
    config = DayTradingEnvConfig(features=("rsi_9", "ret_close"))
    assert observation_size(config) == 4
    assert observation_names(config) == ("rsi_9", "ret_close", "in_position", "position_pnl")


def test_a_nan_feature_is_named() -> None:
    with pytest.raises(InputError, match="'ret_close' is nan"):
        observation(np.array([0.1, np.nan]), False, 0.0, ("rsi_9", "ret_close"))
    with pytest.raises(InputError, match="'feature 0' is inf"):
        observation(np.array([np.inf]), False, 0.0)
    with pytest.raises(InputError, match="'position_pnl' is nan"):
        observation(np.array([0.1]), True, float("nan"))
    with pytest.raises(InputError, match="1-d array"):
        observation(np.zeros((2, 2)), False, 0.0)
