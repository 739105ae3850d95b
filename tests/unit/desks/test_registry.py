"""The desk registry: names and aliases resolve, a typo gets a hint, and a broken plugin is reported
without breaking the desks that load."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

from tradebrain.core.errors import ConfigError
from tradebrain.desks.registry import get_desk, load_registry, register_envs

BROKEN_MODULES = {
    "raising_desk.py": "raise ImportError('a dependency of this desk is missing')\n",
    "incomplete_desk.py": (
        "from tradebrain.desks.contract import Desk\n"
        "class Incomplete(Desk):  # no summary, headline or comparison\n"
        "    name = 'incomplete'\n"
        "    config_cls = train = evaluate = demo = print_result = run_cell = validation_score = None\n"
        "DESK = Incomplete()\n"
    ),
    "misnamed_desk.py": "from tradebrain.desks.execution.desk import DESK\n",
    "not_a_desk.py": "DESK = object()\n",
}
ENTRY_POINTS = """[tradebrain.desks]
raising = raising_desk:DESK
incomplete = incomplete_desk:DESK
misnamed = misnamed_desk:DESK
not-a-desk = not_a_desk:DESK
"""


@pytest.fixture
def broken_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on the path publishing four desks that cannot load, as an installed package would."""
    for name, code in BROKEN_MODULES.items():
        (tmp_path / name).write_text(code)
    info = tmp_path / "broken_desks-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-desks\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_names_and_aliases_resolve_to_one_desk() -> None:
    assert get_desk("market-making") is get_desk("mm") is get_desk("market_making")
    assert get_desk("day-trading").name == "daytrading"


def test_an_unknown_desk_gets_the_closest_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown desk 'exectuion'; did you mean 'execution'\?.*registered desks"):
        get_desk("exectuion")


def test_a_broken_plugin_is_reported_and_the_others_still_load(broken_plugins: Path) -> None:
    registry = load_registry()
    assert {"execution", "market-making", "daytrading"} <= set(registry.desks)
    errors = {name: broken.error for name, broken in registry.broken.items()}
    assert set(errors) == {"raising", "incomplete", "misnamed", "not-a-desk"}
    assert "a dependency of this desk is missing" in errors["raising"]
    assert "does not set summary, headline, comparison" in errors["incomplete"]
    assert "named 'execution' but registered as 'misnamed'" in errors["misnamed"]
    assert "not a tradebrain.desks.contract.Desk instance" in errors["not-a-desk"]
    with pytest.raises(ConfigError, match=r"desk 'raising' \(raising_desk:DESK\) failed to load: ImportError"):
        get_desk("raising")


def test_every_desk_env_is_registered_with_gymnasium() -> None:
    register_envs()  # idempotent: `import tradebrain` ran it already
    for desk in load_registry().desks.values():
        for env_id in desk.envs:
            assert env_id in gym.registry
    assert gym.spec("tradebrain/Execution-v0").entry_point == "tradebrain.desks.execution.env:ExecutionEnv"
