"""DayTrading-v0 on the real sample: masks obeyed, flat at every close, fees on both sides, day order."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.actions import BUY, HOLD, SELL
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.env import DayTradingEnv
from tradebrain.market.venue import VenueConfig

COMMISSION = 0.0005
CLOSE = VenueConfig(fill="close", spread="none")  # the optimistic same-bar close, priced by hand below


@pytest.mark.filterwarnings("ignore:.*Box observation space m")  # features are unbounded by design
def test_gymnasium_env_checker_passes(future_days: list[TradingDay]) -> None:
    # penalty mode: the checker steps random actions, which mask mode rejects by design
    env = DayTradingEnv(future_days[:3], DayTradingEnvConfig(invalid_action="penalty"))
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (len(env.config.features) + 2,)


def test_registered_id_makes_the_env(future_days: list[TradingDay]) -> None:
    assert "tradebrain/DayTrading-v0" in gym.registry
    env = gym.make("tradebrain/DayTrading-v0", days=future_days[:2], shuffle=False)
    obs, info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape
    assert info["day"] == 0
    assert env.unwrapped.action_masks().tolist() == [True, True, False]  # type: ignore[attr-defined]


def test_random_masked_policy_never_acts_invalidly_and_ends_every_day_flat(future_days: list[TradingDay]) -> None:
    config = DayTradingEnvConfig(commission=COMMISSION)
    env = DayTradingEnv(future_days, config)
    rng = np.random.default_rng(7)
    seen: list[int] = []
    trades = 0
    obs, info = env.reset(seed=11)
    for _ in range(len(future_days)):
        steps, done, day = 0, False, env.day
        seen.append(info["day"])
        while not done:
            mask = env.action_masks()
            action = int(rng.choice(np.flatnonzero(mask)))
            assert mask[action]
            obs, reward, done, truncated, info = env.step(action)
            assert env.observation_space.contains(obs)
            assert not truncated
            assert reward == 0.0 or action == SELL or info["forced_exit"]
            steps += 1
        assert steps == day.bars  # one decision per bar, the last one included
        assert info["position"] == 0.0 and not env.account.in_position
        assert obs[-2] == 0.0 and obs[-1] == 0.0
        assert not info["forced_exit"]  # the mask only allows selling in the exit window
        assert info["balance"] == pytest.approx(info["cash"])
        trades += info["trades"]
        obs, info = env.reset()
    assert sorted(seen) == list(range(len(future_days)))  # every day once, without replacement
    assert trades > 100


def test_round_trip_pays_commission_on_both_sides_and_rewards_the_percentage(future_days: list[TradingDay]) -> None:
    env = DayTradingEnv(future_days[:1], DayTradingEnvConfig(commission=COMMISSION, cooldown_bars=2, venue=CLOSE))
    obs, _ = env.reset(seed=0)
    close = env.day.close
    obs, reward, _, _, info = env.step(BUY)  # fills at the close of bar 0
    assert reward == 0.0
    assert info["cash"] == 0.0
    assert info["fees"] == pytest.approx(10_000 * COMMISSION / (1 + COMMISSION), rel=1e-12)
    assert obs[-2] == 1.0
    assert obs[-1] == pytest.approx(close[1] / (close[0] * (1 + COMMISSION)) - 1, rel=1e-5)
    assert env.action_masks().tolist() == [True, False, False]  # cooldown: bar 1
    obs, reward, _, _, info = env.step(HOLD)
    assert env.action_masks().tolist() == [True, False, True]  # bar 2 may sell
    obs, reward, done, _, info = env.step(SELL)  # fills at the close of bar 2
    gross = close[2] / close[0]
    expected_cash = 10_000 * gross * (1 - COMMISSION) / (1 + COMMISSION)
    assert info["cash"] == pytest.approx(expected_cash, rel=1e-12)
    assert info["fees"] == pytest.approx(10_000 * COMMISSION * (1 + gross) / (1 + COMMISSION), rel=1e-12)
    assert reward == pytest.approx(100 * (expected_cash / 10_000 - 1), rel=1e-9)
    assert (info["trades"], done) == (1, False)


def test_forced_exit_at_the_last_bar(future_days: list[TradingDay]) -> None:
    config = DayTradingEnvConfig(commission=COMMISSION, invalid_action="penalty", invalid_penalty=0.5, venue=CLOSE)
    env = DayTradingEnv(future_days[:1], config)
    env.reset(seed=0)
    day = env.day
    env.step(BUY)
    penalties, done, reward, info = 0, False, 0.0, {}
    while not done:  # hold through the exit window, where only a sell is allowed
        must_sell = env.action_masks().tolist() == [False, False, True]
        _, reward, done, _, info = env.step(HOLD)
        penalties += must_sell
    assert penalties == config.exit_window_bars
    assert info["forced_exit"] and info["position"] == 0.0 and info["trades"] == 1
    expected_cash = 10_000 * day.close[-1] / day.close[0] * (1 - COMMISSION) / (1 + COMMISSION)
    assert info["cash"] == pytest.approx(expected_cash, rel=1e-12)
    assert reward == pytest.approx(100 * (expected_cash / 10_000 - 1) - 0.5, rel=1e-9)


def test_days_are_drawn_without_replacement_and_reproducibly(future_days: list[TradingDay]) -> None:
    days = future_days[:6]

    def order(seed: int, episodes: int) -> list[int]:
        env = DayTradingEnv(days)
        drawn = [env.reset(seed=seed)[1]["day"]]
        drawn += [env.reset()[1]["day"] for _ in range(episodes - 1)]
        return drawn

    first = order(3, 12)
    assert sorted(first[:6]) == sorted(first[6:]) == list(range(6))  # a new permutation after all are seen
    assert first == order(3, 12)
    assert first != order(4, 12)
    env = DayTradingEnv(days, shuffle=False)
    assert [env.reset()[1]["day"] for _ in range(7)] == [0, 1, 2, 3, 4, 5, 0]
    assert env.reset(options={"day": 4})[1]["day"] == 4


def test_a_backtest_carries_the_balance_from_day_to_day(future_days: list[TradingDay]) -> None:
    env = DayTradingEnv(future_days[30:33], DayTradingEnvConfig(commission=COMMISSION), shuffle=False)
    cash = 10_000.0
    for day in range(3):
        _, info = env.reset(options={"day": day, "cash": cash})
        assert info["cash"] == cash
        done = False
        while not done:
            mask = env.action_masks()
            _, _, done, _, info = env.step(BUY if mask[BUY] else SELL if mask[SELL] else HOLD)
        assert info["trades"] > 0 and info["position"] == 0.0
        assert info["cash"] != cash
        cash = info["cash"]
    with pytest.raises(InputError, match=r"options\['cash'\]"):
        env.reset(options={"cash": -1.0})


def test_penalty_mode_treats_an_invalid_action_as_hold(future_days: list[TradingDay]) -> None:
    env = DayTradingEnv(future_days[:1], DayTradingEnvConfig(invalid_action="penalty", invalid_penalty=0.25))
    env.reset(seed=0)
    _, reward, _, _, info = env.step(SELL)  # flat: sell is invalid
    assert reward == -0.25
    assert (info["position"], info["trades"], info["cash"]) == (0.0, 0, 10_000.0)
    env.step(BUY)  # entry at bar 1
    _, reward, _, _, _ = env.step(SELL)  # bar 2: the cooldown is not over
    assert reward == -0.25 and env.account.in_position
    _, reward, _, _, info = env.step(BUY)  # long: buy is invalid
    assert reward == -0.25 and info["position"] > 0 and info["trades"] == 0


def test_bad_inputs_are_rejected(future_days: list[TradingDay]) -> None:
    env = DayTradingEnv(future_days[:1])
    env.reset(seed=0)
    with pytest.raises(InputError, match=r"action 2 \(sell\) is masked .* allowed is hold \(0\) or buy \(1\)"):
        env.step(SELL)
    with pytest.raises(InputError, match="not one of 0"):
        env.step(3)
    with pytest.raises(InputError, match=r"options\['day'\]"):
        env.reset(options={"day": 5})
    with pytest.raises(InputError, match=r"unknown reset options \['dya'\]"):
        env.reset(options={"dya": 0})
    with pytest.raises(InputError, match="at least one trading day"):
        DayTradingEnv([])
    with pytest.raises(InputError, match="build the days with trading_days"):
        DayTradingEnv(future_days[:1], DayTradingEnvConfig(features=("rsi_9",)))
    with pytest.raises(InputError, match="not a TradingDay"):
        DayTradingEnv([object()])  # type: ignore[list-item]


# ------------------------------------------------------------------ fills through the simulated venue


def _round_trip(env: DayTradingEnv, sell_bar: int) -> list[dict]:
    """Buy at bar 0, sell at `sell_bar`, hold otherwise until the session ends; every step's info."""
    env.reset(options={"day": 0})
    infos, done, bar = [], False, 0
    while not done:
        action = BUY if bar == 0 else SELL if bar == sell_bar else HOLD
        _, reward, done, _, info = env.step(action)
        infos.append(info | {"reward": reward})
        bar += 1
    return infos


def test_next_open_fills_at_the_following_open_paying_half_the_spread(future_days: list[TradingDay]) -> None:
    venue = VenueConfig(fill="next_open", spread="fixed", spread_bps=4.0, slippage_bps=1.0)
    env = DayTradingEnv(future_days[:1], DayTradingEnvConfig(commission=COMMISSION, venue=venue), shuffle=False)
    day = env.day
    infos = _round_trip(env, sell_bar=5)
    cost = 2.0 / 1e4 + 1.0 / 1e4  # half of 4 bps plus 1 bp of slippage, each side
    buy_price = day.open[1] * (1 + cost)
    quantity = 10_000 / (buy_price * (1 + COMMISSION))
    assert infos[0]["position"] == pytest.approx(quantity, rel=1e-12)  # filled at bar 1's open, during step 0
    assert infos[0]["reward"] == 0.0
    sell_price = day.open[6] * (1 - cost)  # decided at bar 5, filled at bar 6's open
    cash = quantity * sell_price * (1 - COMMISSION)
    assert infos[4]["position"] > 0 and infos[5]["position"] == 0.0
    assert infos[5]["cash"] == pytest.approx(cash, rel=1e-12)
    assert infos[5]["reward"] == pytest.approx(100 * (cash / 10_000 - 1), rel=1e-9)
    assert infos[-1]["trades"] == 1 and not infos[-1]["forced_exit"]


def test_one_bar_of_latency_with_close_timing_is_a_next_open_fill(future_days: list[TradingDay]) -> None:
    """The venue's rule (market/fills.py): close timing delayed one bar fills at that bar's open."""
    runs = []
    for venue in (VenueConfig(fill="close", spread="range", latency_bars=1), VenueConfig(fill="next_open")):
        env = DayTradingEnv(future_days[:3], DayTradingEnvConfig(commission=COMMISSION, venue=venue), shuffle=False)
        rng = np.random.default_rng(5)
        steps = []
        for day in range(3):
            obs, _ = env.reset(options={"day": day})
            done = False
            while not done:
                action = int(rng.choice(np.flatnonzero(env.action_masks())))
                obs, reward, done, _, info = env.step(action)
                steps.append((obs.tobytes(), reward, info["cash"], info["position"], info["trades"]))
        runs.append(steps)
    assert runs[0] == runs[1]
    assert sum(step[4] for step in runs[0]) > 10


def test_under_latency_the_agent_sees_the_position_its_orders_take_it_to(future_days: list[TradingDay]) -> None:
    venue = VenueConfig(fill="next_open", spread="none", latency_bars=2)  # decided at t, filled at t + 3's open
    env = DayTradingEnv(future_days[:1], DayTradingEnvConfig(venue=venue, cooldown_bars=0), shuffle=False)
    obs, _ = env.reset(options={"day": 0})
    obs, _, _, _, info = env.step(BUY)
    assert (obs[-2], obs[-1], info["position"]) == (1.0, 0.0, 0.0)  # long as seen, nothing filled yet
    assert env.action_masks().tolist() == [True, False, True]  # seen long: no second buy
    obs, _, _, _, info = env.step(HOLD)
    assert (obs[-2], info["position"]) == (1.0, 0.0)
    obs, _, _, _, info = env.step(HOLD)  # bar 3: the buy fills at its open
    assert info["position"] == pytest.approx(10_000 / env.day.open[3])
    assert obs[-1] == pytest.approx(env.day.close[3] / env.day.open[3] - 1, rel=1e-5)  # float32


def test_an_order_that_would_fill_after_the_session_expires(future_days: list[TradingDay]) -> None:
    venue = VenueConfig(fill="next_open", spread="none", latency_bars=3)
    config = DayTradingEnvConfig(venue=venue, exit_window_bars=2)
    env = DayTradingEnv(future_days[:1], config, shuffle=False)
    env.reset(options={"day": 0})
    bars, info, done, sent = env.day.bars, {}, False, False
    while not done:
        mask = env.action_masks()
        buy = env.bar == bars - 3 and bool(mask[BUY])  # the last bar a buy is allowed: it would fill after the close
        sent |= buy
        _, _, done, _, info = env.step(BUY if buy else HOLD if mask[HOLD] else SELL)
    assert sent and info["trades"] == 0 and info["cash"] == 10_000.0 and not info["forced_exit"]


def test_the_env_rejects_venues_it_does_not_model() -> None:
    with pytest.raises(ValueError, match="participation"):
        DayTradingEnvConfig(venue=VenueConfig(participation=0.1))
    with pytest.raises(ValueError, match="commission"):
        DayTradingEnvConfig(venue=VenueConfig(fee_rate=0.001))
    with pytest.raises(ValueError, match="impact"):
        DayTradingEnvConfig(venue=VenueConfig(impact="sqrt", impact_coefficient=0.5))


def test_a_latency_as_long_as_the_session_is_refused(future_days: list[TradingDay]) -> None:
    longest = max(day.bars for day in future_days[:2])
    with pytest.raises(InputError, match="latency_bars"):
        DayTradingEnv(future_days[:2], DayTradingEnvConfig(venue=VenueConfig(latency_bars=longest)))
