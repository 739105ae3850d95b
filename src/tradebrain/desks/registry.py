"""The desk registry: every `Desk` published in the `tradebrain.desks` entry-point group.

tradebrain's own desks are published by its pyproject.toml; a user's package adds a desk the same
way, without forking:

    [project.entry-points."tradebrain.desks"]
    my-desk = "my_package.my_desk:DESK"

A desk that fails to load is reported (by `tradebrain desks`, and as the error when it is asked
for by name) instead of breaking the other desks.
"""

from __future__ import annotations

import difflib
import functools
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from tradebrain.core.errors import ConfigError
from tradebrain.desks.contract import Desk

GROUP = "tradebrain.desks"
REQUIRED = ("name", "summary", "headline", "comparison")
"""Class attributes of the contract without a default: a desk missing one is reported as broken."""


@dataclass(frozen=True)
class BrokenDesk:
    """An entry point whose desk could not be loaded, and why."""

    name: str
    target: str
    error: str


@dataclass(frozen=True)
class Registry:
    """The loaded desks by name, and the entry points that failed."""

    desks: dict[str, Desk[Any]]
    broken: dict[str, BrokenDesk]

    def names(self) -> dict[str, str]:
        """Every accepted name (desk names and their aliases) -> the desk's name."""
        names = {alias: desk.name for desk in self.desks.values() for alias in desk.aliases}
        return names | {name: name for name in self.desks}


def _load(point: EntryPoint) -> Desk[Any]:
    desk = point.load()
    if not isinstance(desk, Desk):
        raise TypeError(f"{point.value} is a {type(desk).__name__}, not a tradebrain.desks.contract.Desk instance")
    if desk.name != point.name:
        raise TypeError(f"{point.value} is named '{desk.name}' but registered as '{point.name}'; use one name")
    missing = [attribute for attribute in REQUIRED if not hasattr(desk, attribute)]
    if missing:
        raise TypeError(f"{point.value} does not set {', '.join(missing)} (required by tradebrain.desks.contract.Desk)")
    return desk


def load_registry() -> Registry:
    """Every desk of the entry-point group (loaded once per import path: a package added to the path
    is seen on the next call)."""
    return _load_registry(tuple(sys.path))


@functools.lru_cache(maxsize=4)
def _load_registry(path: tuple[str, ...]) -> Registry:
    del path  # the cache key: entry points are found on sys.path
    desks: dict[str, Desk[Any]] = {}
    broken: dict[str, BrokenDesk] = {}
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        if point.name in desks or point.name in broken:
            continue  # the same distribution seen twice on the path (an editable install and a build)
        try:
            desks[point.name] = _load(point)
        except Exception as error:  # a broken plugin must not take the platform down
            broken[point.name] = BrokenDesk(point.name, point.value, f"{type(error).__name__}: {error}")
    return Registry(desks, broken)


def all_desks() -> dict[str, Desk[Any]]:
    """The registered desks that load, by name."""
    return load_registry().desks


def get_desk(name: str) -> Desk[Any]:
    """The desk registered as `name` (or one of its aliases); a ConfigError suggesting the closest
    name otherwise, or saying why the desk failed to load."""
    registry = load_registry()
    names = registry.names()
    if name in names:
        return registry.desks[names[name]]
    if name in registry.broken:
        broken = registry.broken[name]
        raise ConfigError(f"desk '{name}' ({broken.target}) failed to load: {broken.error}")
    close = difflib.get_close_matches(name, list(names), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    known = ", ".join(registry.desks) or "none: is tradebrain installed (pip install -e .)?"
    raise ConfigError(f"unknown desk '{name}'{hint} (registered desks: {known})")


def register_envs() -> None:
    """Register every desk's Gymnasium envs (by "module:Class", so no env module is imported yet)."""
    from gymnasium.envs.registration import register, registry

    for desk in load_registry().desks.values():
        for env_id, entry_point in desk.envs.items():
            if env_id not in registry:
                register(id=env_id, entry_point=entry_point)
