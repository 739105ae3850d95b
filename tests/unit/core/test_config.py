"""Typed configs: unknown keys, wrong types, NaN, YAML files and TRADEBRAIN_* overrides."""

from __future__ import annotations

import math
from pathlib import Path

import pydantic
import pytest

from tradebrain.core.config import StrictModel, build_config, env_overrides, load_config, with_updates
from tradebrain.core.errors import ConfigError
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.market import MarketConfig

NO_ENV: dict[str, str] = {}


class NamedRun(StrictModel):
    """A config with a top-level key, as every desk's run config has."""

    name: str = "run"
    market: MarketConfig = MarketConfig()


def test_defaults_load_without_file_or_overrides() -> None:
    config = load_config(ExecutionEnvConfig, environ=NO_ENV)
    assert config == ExecutionEnvConfig()
    assert config.market.sigma == 0.95
    assert config.task.steps == 5


def test_unknown_nested_key_names_dotted_key_and_suggests_the_closest() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(ExecutionEnvConfig, {"market": {"sigmaa": 1}}, environ=NO_ENV)
    message = str(caught.value)
    assert "market.sigmaa" in message
    assert "did you mean 'sigma'?" in message


def test_unknown_top_level_key_suggests_the_closest() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(ExecutionEnvConfig, {"actoin": "discrete"}, environ=NO_ENV)
    message = str(caught.value)
    assert "'actoin'" in message
    assert "did you mean 'action'?" in message


def test_unknown_key_far_from_any_gives_no_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(ExecutionEnvConfig, {"task": {"zzzzqq": 1}}, environ=NO_ENV)
    message = str(caught.value)
    assert "task.zzzzqq" in message
    assert "did you mean" not in message


def test_wrong_type_names_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(ExecutionEnvConfig, {"task": {"steps": "many"}}, source="my.yaml", environ=NO_ENV)
    message = str(caught.value)
    assert "'task.steps'" in message
    assert "'many'" in message
    assert "my.yaml" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("key", ["drift", "eta", "s0"])
def test_non_finite_numbers_are_rejected(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"'market\.{key}'"):
        build_config(ExecutionEnvConfig, {"market": {key: value}}, environ=NO_ENV)


def test_non_finite_twap_multiple_is_rejected() -> None:
    with pytest.raises(ConfigError, match="twap_multiples"):
        build_config(ExecutionEnvConfig, {"twap_multiples": [0.0, math.nan]}, environ=NO_ENV)


def test_environment_override_applies_and_is_parsed_as_yaml() -> None:
    environ = {"TRADEBRAIN_MARKET__SIGMA": "2", "TRADEBRAIN_TASK__SIDE": "buy", "HOME": "/root"}
    config = build_config(ExecutionEnvConfig, {"market": {"sigma": 1.0, "eta": 3e-6}}, environ=environ)
    assert config.market.sigma == 2.0
    assert config.market.eta == 3e-6  # the rest of the section survives the override
    assert config.task.side == "buy"


def test_override_error_mentions_the_overrides() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(ExecutionEnvConfig, {}, environ={"TRADEBRAIN_MARKET__SIGMAA": "2"})
    message = str(caught.value)
    assert "market.sigmaa" in message
    assert "TRADEBRAIN_" in message


def test_variables_without_nesting_separator_that_are_not_fields_are_ignored() -> None:
    environ = {"TRADEBRAIN_REQUIRE_SERVICES": "1", "OTHER__KEY": "3", "TRADEBRAIN_MARKET__S0": "60"}
    assert env_overrides(environ) == {"market": {"s0": 60}}
    config = build_config(ExecutionEnvConfig, {}, environ=environ)
    assert config.market.s0 == 60.0


def test_top_level_keys_can_be_set_from_the_environment() -> None:
    environ = {"TRADEBRAIN_NAME": "run-7", "TRADEBRAIN_POSTGRES_DSN": "postgresql://x", "TRADEBRAIN_DEBUG": "1"}
    assert env_overrides(environ, NamedRun) == {"name": "run-7"}
    assert build_config(NamedRun, {}, environ=environ).name == "run-7"


def test_a_near_miss_of_a_top_level_key_is_refused_with_the_right_name() -> None:
    with pytest.raises(ConfigError, match="TRADEBRAIN_NAEM is not a config key; did you mean TRADEBRAIN_NAME"):
        build_config(NamedRun, {}, environ={"TRADEBRAIN_NAEM": "x"})


def test_a_malformed_yaml_override_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="environment variable TRADEBRAIN_TASK__STEPS='\\[1,' is not valid YAML"):
        build_config(ExecutionEnvConfig, {}, environ={"TRADEBRAIN_TASK__STEPS": "[1,"})


@pytest.mark.parametrize(
    "text", ["market:\n  sigma: 1\n  sigma: 2\n", "name: a\nname: b\n", "market: {s0: 1, s0: 2}\n"]
)
def test_a_key_given_twice_in_a_yaml_file_is_refused_naming_the_key_and_lines(tmp_path: Path, text: str) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"appears twice") as caught:
        load_config(ExecutionEnvConfig, path, environ=NO_ENV)
    assert str(path) in str(caught.value)


def test_a_config_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(ExecutionEnvConfig, path, environ=NO_ENV)


def test_build_config_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEBRAIN_TASK__STEPS", "7")
    assert build_config(ExecutionEnvConfig, {}).task.steps == 7


def test_load_config_from_yaml_file_plus_override(tmp_path: Path) -> None:
    path = tmp_path / "execution.yaml"
    path.write_text("action: discrete\nmarket:\n  process: ou\n  ou_theta: 0.5\ntask:\n  steps: 10\n")
    config = load_config(ExecutionEnvConfig, path, environ={"TRADEBRAIN_TASK__STEPS": "20"})
    assert config.action == "discrete"
    assert config.market.process == "ou"
    assert config.market.ou_theta == 0.5
    assert config.task.steps == 20


def test_yaml_nan_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("market:\n  drift: .nan\n")
    with pytest.raises(ConfigError) as caught:
        load_config(ExecutionEnvConfig, path, environ=NO_ENV)
    assert "'market.drift'" in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(ExecutionEnvConfig, tmp_path / "absent.yaml", environ=NO_ENV)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_yaml_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(ExecutionEnvConfig, path, environ=NO_ENV)


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("market: {sigma: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(ExecutionEnvConfig, path, environ=NO_ENV)


def test_empty_yaml_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_config(ExecutionEnvConfig, path, environ=NO_ENV) == ExecutionEnvConfig()


def test_with_updates_applies_dotted_keys_and_keeps_the_original() -> None:
    base = ExecutionEnvConfig()
    updated = with_updates(base, {"task.risk_aversion": 2e-6, "market.sigma": 0.5, "action": "discrete"})
    assert updated.task.risk_aversion == 2e-6
    assert updated.market.sigma == 0.5
    assert updated.action == "discrete"
    assert updated.market.eta == base.market.eta
    assert base.task.risk_aversion == 1e-6


def test_with_updates_rejects_unknown_and_invalid_keys() -> None:
    base = ExecutionEnvConfig()
    with pytest.raises(ConfigError, match=r"did you mean 'risk_aversion'\?"):
        with_updates(base, {"task.risk_aversoin": 1.0})
    with pytest.raises(ConfigError, match=r"'task\.steps'"):
        with_updates(base, {"task.steps": 0})
    with pytest.raises(ConfigError, match="non-section key"):
        with_updates(base, {"task.steps.deep": 1})


def test_configs_are_frozen() -> None:
    config = ExecutionEnvConfig()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        config.market.sigma = 1.0  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        config.action = "discrete"  # type: ignore[misc]


def test_direct_construction_rejects_unknown_keys() -> None:
    with pytest.raises(pydantic.ValidationError, match="sigmaa"):
        MarketConfig(sigmaa=1.0)  # type: ignore[call-arg]
