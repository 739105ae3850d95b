"""`tradebrain execution analyze` never prints an infinity or NaN: extreme inputs are computed stably
(kappa in log space where lambda*sigma^2/eta overflows) or rejected with the field and the range that
works, and that range does work."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.core.errors import InputError
from tradebrain.desks.execution.almgren_chriss import kappa_approx, kappa_exact, optimal_holdings, schedule_moments
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig

runner = CliRunner()
HUGE = 1.7976931348623157e308


def _strict(text: str) -> Any:
    """JSON without NaN or Infinity (which Python's json would otherwise accept)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-finite number {constant} in the output")

    return json.loads(text, parse_constant=refuse)


def _analyze(tmp_path: Path, overrides: dict[str, dict[str, float]], *args: str) -> Any:
    config = tmp_path / "extreme.yaml"
    config.write_text(yaml.safe_dump(overrides))
    return runner.invoke(app, ["execution", "analyze", "--config", str(config), *args])


def test_kappa_is_continuous_where_it_switches_to_log_space() -> None:
    """kappa grows by ln(10)/tau per decade of lambda once kappa*tau is large; the same across the point
    where lambda*sigma^2/eta_tilde overflows (between 1e302 and 1e303 for the classic market)."""
    market, task = MarketConfig(), LiquidationTask()
    kappas = [kappa_exact(market, task, 10.0**exponent) for exponent in range(299, 308)]
    steps = np.diff(kappas)
    assert np.allclose(steps, math.log(10.0) / task.tau, rtol=1e-9)
    assert math.isfinite(kappa_exact(market, task, HUGE))
    assert math.isfinite(kappa_approx(market, task, HUGE))


def test_the_optimal_schedule_of_an_extreme_risk_aversion_sells_at_once() -> None:
    task = LiquidationTask()
    holdings = optimal_holdings(MarketConfig(), task, HUGE)
    assert holdings[0] == task.shares and np.all(np.isfinite(holdings))
    assert np.all(np.abs(holdings[1:]) < 1e-300)


def test_a_moment_that_overflows_names_the_field_and_its_range() -> None:
    task = LiquidationTask()
    holdings = np.linspace(task.shares, 0.0, task.steps + 1)
    # the range holds for any selling schedule of the task: at most N-1 = 4 intervals carry all X shares
    with pytest.raises(InputError, match=r"market\.drift.*<= 5\.61e\+300"):
        schedule_moments(MarketConfig(drift=1e308), task, holdings)
    with pytest.raises(InputError, match=r"market\.sigma.*<="):
        schedule_moments(MarketConfig(sigma=1e160), task, holdings)
    with pytest.raises(InputError, match=r"--lambda.*lambda <="):
        schedule_moments(MarketConfig(), task, holdings).objective(1e300)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"market": {"drift": 1e308}}, "market.drift"),
        ({"market": {"drift": -HUGE}}, "market.drift"),
        ({"market": {"sigma": 1e160}}, "market.sigma"),
        ({"market": {"epsilon": 1e305}}, "market.epsilon"),
        ({"market": {"eta": 1e305}}, "market.eta"),
        ({"task": {"risk_aversion": 1e300}}, "task.risk_aversion"),
    ],
)
def test_analyze_rejects_an_overflowing_input_with_a_range_that_works(
    tmp_path: Path, overrides: dict[str, dict[str, float]], field: str
) -> None:
    rejected = _analyze(tmp_path, overrides)
    assert rejected.exit_code == 2, rejected.output
    message = rejected.output.replace("\n", "")
    assert field.split(".")[-1] in message and "Traceback" not in message
    bound = float(re.findall(r"<= ([0-9.e+-]+)", message)[-1])
    section, values = next(iter(overrides.items()))
    key, value = next(iter(values.items()))
    within = {section: {key: math.copysign(bound, value)}}
    accepted = _analyze(tmp_path, within, "--json")  # the range the message gives works
    assert accepted.exit_code == 0, accepted.output
    _strict(accepted.stdout)


@pytest.mark.parametrize("risk_aversion", ["1e300", "1e308", "1.7976931348623157e308"])
def test_analyze_rejects_a_lambda_whose_objective_overflows(risk_aversion: str) -> None:
    result = runner.invoke(app, ["execution", "analyze", "--lambda", risk_aversion])
    assert result.exit_code == 2, result.output
    message = result.output.replace("\n", "")
    assert "--lambda" in message and "lambda <= 2.07e+295" in message and "Traceback" not in message


@pytest.mark.parametrize(
    "overrides",
    [
        {"market": {"drift": 1e300}},
        {"market": {"drift": -1e300}},
        {"market": {"sigma": 1e150}},
        {"market": {"eta": 1e-300, "gamma": 0.0}},
        {"market": {"epsilon": 1e300}},
        {"task": {"risk_aversion": 1e295}},
        {"task": {"risk_aversion": 5e-324}},
        {"task": {"shares": 1e140}},
        {"task": {"horizon": 1e-300}},
        {"task": {"horizon": 1e300, "steps": 10000}},
    ],
)
def test_analyze_prints_only_finite_numbers_for_extreme_accepted_inputs(
    tmp_path: Path, overrides: dict[str, dict[str, float]]
) -> None:
    result = _analyze(tmp_path, overrides, "--json")
    if result.exit_code == 2:  # rejected: then with a message naming the field, never a traceback
        message = result.output.replace("\n", "")
        assert "Traceback" not in message
        assert any(key in message for section in overrides.values() for key in section), message
        return
    assert result.exit_code == 0, result.output
    data = _strict(result.stdout)
    assert data["schedules"]["AC-optimal"]["holdings"][0] == pytest.approx(data["schedules"]["TWAP"]["holdings"][0])
    table = _analyze(tmp_path, overrides)
    assert table.exit_code == 0 and not re.search(r"\b(inf|nan|infinity)\b", table.stdout, re.IGNORECASE)
