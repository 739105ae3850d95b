"""DayTradingVecEnv equals a DummyVecEnv of DayTradingEnvs seeded seed + i, step for step, on the
real 1-minute sample, and stable-baselines3 / sb3-contrib accept it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.vec_env import VecCheckNan, VecEnv, VecMonitor, VecNormalize

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.actions import BUY, HOLD, SELL, allowed_actions
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.observer import observation_size
from tradebrain.desks.day_trading.vec import make_dummy_vec_env, make_vec_env
from tradebrain.desks.day_trading.vec_env import DayTradingVecEnv
from tradebrain.market.venue import VenueConfig

STEPS = 2_400  # sessions have 535 to 780 bars: every env crosses at least three episode ends
SEED = 7
INFO_KEYS = ("balance", "cash", "position", "trades", "fees", "day", "forced_exit", "TimeLimit.truncated")

CONFIGS = {
    # mask mode: fractional units, a fee on both sides, all-in
    "mask": DayTradingEnvConfig(commission=0.0002),
    # penalty mode: whole units with half the cash, another fee, a longer cooldown and exit window
    "penalty": DayTradingEnvConfig(
        commission=0.0005,
        cash_fraction=0.5,
        whole_shares=True,
        cooldown_bars=3,
        exit_window_bars=7,
        invalid_action="penalty",
        invalid_penalty=0.02,
    ),
}


VENUES = {
    "close": VenueConfig(fill="close", spread="none"),  # the optimistic same-bar close
    "close+latency": VenueConfig(fill="close", spread="range", latency_bars=1),
    "next-open": VenueConfig(fill="next_open", spread="range"),  # the desk's default
    "next-vwap+fees": VenueConfig(
        fill="next_vwap", spread="fixed", spread_bps=3.0, slippage_bps=1.0, fee_per_share=0.005, min_fee=1.0
    ),
    "next-typical+latency": VenueConfig(fill="next_typical", spread="range", latency_bars=3),
}


def draw_actions(rng: np.random.Generator, masks: np.ndarray, valid_only: bool) -> np.ndarray:
    """One action per env: uniform over its allowed actions, or over all three (penalty mode)."""
    if not valid_only:
        return rng.integers(0, 3, len(masks))
    return np.array([rng.choice(np.flatnonzero(mask)) for mask in masks])


def assert_infos_equal(twin: list[dict[str, Any]], reference: list[dict[str, Any]], step: int) -> int:
    """Equal infos (values and types; terminal observations exactly); returns the episode ends."""
    ends = 0
    for i, (got, want) in enumerate(zip(twin, reference, strict=True)):
        got, want = dict(got), dict(want)
        terminal, expected = got.pop("terminal_observation", None), want.pop("terminal_observation", None)
        assert (terminal is None) == (expected is None), f"step {step} env {i}"
        if terminal is not None and expected is not None:
            assert terminal.dtype == expected.dtype == np.float32
            np.testing.assert_array_equal(terminal, expected, err_msg=f"step {step} env {i}")
            ends += 1
        episode, expected_episode = got.pop("episode", None), want.pop("episode", None)
        assert (episode is None) == (expected_episode is None) == (terminal is None)  # VecMonitor's, at each end
        if episode is not None and expected_episode is not None:  # VecMonitor's; "t" is wall time
            assert (episode["r"], episode["l"]) == (expected_episode["r"], expected_episode["l"])
        assert got == want, f"step {step} env {i}"
        assert tuple(got) == tuple(want) == INFO_KEYS
        assert [type(value) for value in got.values()] == [type(value) for value in want.values()]
    return ends


@pytest.mark.parametrize("num_envs", [1, 4])
@pytest.mark.parametrize("mode", ["mask", "penalty"])
def test_twin_equals_single_envs_step_for_step(future_days: list[TradingDay], num_envs: int, mode: str) -> None:
    config = CONFIGS[mode]
    twin = DayTradingVecEnv(future_days, config, num_envs, SEED)
    reference = make_dummy_vec_env(future_days, config, num_envs, SEED)
    monitored_twin, monitored_reference = VecMonitor(twin), VecMonitor(reference)
    observations = np.asarray(monitored_twin.reset())
    expected = monitored_reference.reset()
    assert observations.dtype == np.float32
    np.testing.assert_array_equal(observations, expected)
    assert twin.reset_infos == reference.reset_infos  # the same first days
    rng = np.random.default_rng(0)
    ends = trades = invalid = 0
    for step in range(STEPS):
        masks = get_action_masks(monitored_twin)
        np.testing.assert_array_equal(masks, get_action_masks(monitored_reference), err_msg=f"step {step}")
        actions = draw_actions(rng, masks, valid_only=mode == "mask")
        invalid += int((~masks[np.arange(num_envs), actions]).sum())
        stepped, rewards, dones, infos = monitored_twin.step(actions)
        expected, expected_rewards, expected_dones, expected_infos = monitored_reference.step(actions)
        assert np.asarray(stepped).dtype == np.float32
        np.testing.assert_array_equal(stepped, expected, err_msg=f"step {step}")
        assert rewards.dtype == expected_rewards.dtype == np.float32
        np.testing.assert_array_equal(rewards, expected_rewards, err_msg=f"step {step}")
        np.testing.assert_array_equal(dones, expected_dones, err_msg=f"step {step}")
        ends += assert_infos_equal(infos, expected_infos, step)
        assert twin.reset_infos == reference.reset_infos
        trades += sum(info["trades"] for info in infos if "terminal_observation" in info)
    assert ends >= 3 * num_envs  # several auto-resets per env
    assert trades > 0 and (invalid > 0) == (mode == "penalty")


@pytest.mark.parametrize("venue", list(VENUES))
@pytest.mark.parametrize("mode", ["mask", "penalty"])
def test_twin_equals_single_envs_under_every_fill_model(future_days: list[TradingDay], venue: str, mode: str) -> None:
    """The twin fills through the same venue rules as the env: timing, spread, slippage, latency
    (orders in flight) and fees, step for step, rewards and infos included."""
    config = CONFIGS[mode].model_copy(update={"venue": VENUES[venue]})
    twin = VecMonitor(DayTradingVecEnv(future_days[:12], config, 3, SEED))
    reference = VecMonitor(make_dummy_vec_env(future_days[:12], config, 3, SEED))
    np.testing.assert_array_equal(twin.reset(), reference.reset())
    rng = np.random.default_rng(1)
    ends = trades = 0
    for step in range(1_600):
        masks = get_action_masks(twin)
        np.testing.assert_array_equal(masks, get_action_masks(reference), err_msg=f"step {step}")
        actions = draw_actions(rng, masks, valid_only=mode == "mask")
        stepped, rewards, dones, infos = twin.step(actions)
        expected, expected_rewards, expected_dones, expected_infos = reference.step(actions)
        np.testing.assert_array_equal(stepped, expected, err_msg=f"step {step}")
        np.testing.assert_array_equal(rewards, expected_rewards, err_msg=f"step {step}")
        np.testing.assert_array_equal(dones, expected_dones, err_msg=f"step {step}")
        ends += assert_infos_equal(infos, expected_infos, step)
        trades += sum(info["trades"] for info in infos if "terminal_observation" in info)
    assert ends >= 6 and trades > 0


def test_masks_are_the_single_env_rules(future_days: list[TradingDay]) -> None:
    """Every mask the twin shows is `allowed_actions` of its own state: the grid of the rule's inputs
    around the cooldown and the exit window, reached by holding and buying at chosen bars. Two passes
    over the session: the last entry lands 3 or 5 bars before the end, so the exit window opens on a
    position still in its cooldown (pass 1) and on one past it (pass 2)."""
    cooldown, window = 2, 3
    config = DayTradingEnvConfig(cooldown_bars=cooldown, exit_window_bars=window)
    twin = DayTradingVecEnv(future_days[:1], config, 1, 0)
    twin.reset()
    bars = future_days[0].bars
    reached: set[tuple[bool, bool, bool]] = set()  # (in position, in the cooldown, in the exit window)
    for last_entry in (window, window + 2):
        for bar in range(bars):
            mask = twin.env_method("action_masks")[0]
            left = bars - 1 - bar
            in_position = bool(twin.core.state[0, 1] > 0)
            held = bar - int(twin.core.entry_bar[0]) if in_position else 0
            assert mask.tolist() == allowed_actions(in_position, held, left, cooldown, window).tolist()
            reached.add((in_position, in_position and held < cooldown, left < window))
            if mask[BUY] and ((bar % 7 == 0 and left > 10) or left == last_entry):
                action = BUY
            elif mask[SELL] and (held >= 4 or left < window):
                action = SELL
            else:
                action = HOLD
            twin.step(np.array([action]))
    assert reached == {
        (False, False, False), (False, False, True),  # flat: free to buy, then only waiting
        (True, True, False), (True, False, False),  # held: in the cooldown, then free to sell
        (True, True, True), (True, False, True),  # held in the exit window: only selling, cooldown or not
    }  # fmt: skip


def test_mask_mode_rejects_a_masked_action_before_any_env_moves(future_days: list[TradingDay]) -> None:
    twin = DayTradingVecEnv(future_days[:6], DayTradingEnvConfig(), 3, 1)
    reference = make_dummy_vec_env(future_days[:6], DayTradingEnvConfig(), 3, 1)
    twin.reset()
    reference.reset()
    with pytest.raises(InputError, match=r"action 2 \(sell\) of env 2 is masked at bar 0"):
        twin.step(np.array([BUY, HOLD, SELL]))
    actions = np.array([BUY, HOLD, HOLD])  # nothing moved: the twin still equals the reference
    np.testing.assert_array_equal(twin.step(actions)[0], reference.step(actions)[0])
    for bad in (np.array([0, 1]), np.array([0, 1, 3]), np.array([0, 0.5, 1]), np.array(["a", "b", "c"])):
        with pytest.raises(InputError, match=r"Discrete\(3\)"):
            twin.step(bad)


def test_a_buy_of_no_whole_unit_is_refused_naming_the_env(future_days: list[TradingDay]) -> None:
    config = DayTradingEnvConfig(cash=1.0, whole_shares=True)
    twin = DayTradingVecEnv(future_days[:2], config, 2, 0)
    twin.reset()
    with pytest.raises(InputError, match=r"env 1: cash 1\.00 .* buys no whole unit"):
        twin.step(np.array([HOLD, BUY]))
    assert twin.core.bar.tolist() == [0, 0]  # nothing moved


def test_bad_construction_is_rejected(future_days: list[TradingDay]) -> None:
    with pytest.raises(InputError, match="num_envs"):
        DayTradingVecEnv(future_days[:2], DayTradingEnvConfig(), 0, 0)
    with pytest.raises(InputError, match="at least one trading day"):
        DayTradingVecEnv([], DayTradingEnvConfig(), 2, 0)
    with pytest.raises(InputError, match=r"days\[0\] holds the features"):
        DayTradingVecEnv(future_days[:2], DayTradingEnvConfig(features=("ret_close",)), 2, 0)
    with pytest.raises(InputError, match="n_envs"):
        make_vec_env(future_days[:2], DayTradingEnvConfig(), n_envs=0, seed=0)


def test_reset_options_and_reseeding_match_the_single_env(future_days: list[TradingDay]) -> None:
    twin = DayTradingVecEnv(future_days[:10], DayTradingEnvConfig(), 2, 3)
    reference = make_dummy_vec_env(future_days[:10], DayTradingEnvConfig(), 2, 3)
    first = twin.reset()
    reference.reset()
    for venv in (twin, reference):
        venv.set_options([{"day": 4, "cash": 5_000.0}, {}])
    np.testing.assert_array_equal(twin.reset(), reference.reset())
    assert twin.reset_infos == reference.reset_infos
    assert twin.reset_infos[0]["day"] == 4 and twin.reset_infos[0]["cash"] == 5_000.0
    twin.seed(3)
    np.testing.assert_array_equal(twin.reset(), first)  # seeding restarts each env's order of days
    twin.set_options({"days": 1})
    with pytest.raises(InputError, match=r"unknown reset options \['days'\] for env 0"):
        twin.reset()
    twin.set_options({"cash": -1.0})
    with pytest.raises(InputError, match=r"options\['cash'\] of env 0"):
        twin.reset()


def test_stable_baselines3_accepts_the_twin(future_days: list[TradingDay]) -> None:
    twin = DayTradingVecEnv(future_days[:4], DayTradingEnvConfig(), 3, 0)
    assert isinstance(twin, VecEnv) and twin.num_envs == 3
    wrapped = VecNormalize(VecMonitor(twin), norm_obs=True, norm_reward=True)
    assert is_masking_supported(wrapped)
    assert get_action_masks(wrapped).tolist() == [[True, True, False]] * 3
    assert twin.env_method("action_masks", indices=[2])[0].shape == (3,)
    assert twin.get_attr("config", indices=[0, 1]) == [twin.config] * 2
    checked = VecCheckNan(twin, raise_exception=True)  # SB3's VecEnv sanity wrapper
    observations = np.asarray(checked.reset())
    assert observations.shape == (3, observation_size(twin.config))
    for _ in range(50):
        stepped, _, _, _ = checked.step(np.array([HOLD] * 3))
        assert twin.observation_space.contains(np.asarray(stepped)[0])
    with pytest.raises(RuntimeError, match="step_async"):
        twin.step_wait()


def test_maskable_ppo_trains_on_the_twin_behind_monitor_and_normalisation(future_days: list[TradingDay]) -> None:
    torch.set_num_threads(1)
    venv = VecNormalize(
        VecMonitor(DayTradingVecEnv(future_days[:10], DayTradingEnvConfig(commission=0.0001), 4, 0)),
        norm_obs=True,
        norm_reward=False,
    )
    model = MaskablePPO(
        "MlpPolicy", venv, n_steps=512, batch_size=256, n_epochs=1, policy_kwargs={"net_arch": [16]}, seed=0
    )
    model.learn(2_048)  # mask mode: any invalid action would raise
    assert model.num_timesteps == 2_048
