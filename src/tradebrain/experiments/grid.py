"""Grid expansion: every combination of the grid values, times every seed, as cells with a stable
key (config hash + seed) that the results store and MLflow use to recognise a cell across runs."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from tradebrain.core.config import with_updates
from tradebrain.core.errors import ConfigError
from tradebrain.experiments.spec import LoadedSpec


@dataclass(frozen=True)
class Cell:
    """One unit of work: the desk config with the grid values applied and `train.seed` set."""

    desk: str
    values: dict[str, Any]
    """The grid values of this cell (dotted key -> value), in the spec's order."""
    seed: int
    config: dict[str, Any]
    """The fully resolved desk config as JSON-ready data (rebuilt and re-validated in the worker)."""
    config_hash: str

    @property
    def key(self) -> str:
        """`<config hash>-seed<k>`: what a re-run checks to skip a completed cell."""
        return f"{self.config_hash}-seed{self.seed}"

    @property
    def label(self) -> str:
        """The grid values as `key=value` pairs (the configuration, seeds aside)."""
        return ", ".join(f"{key}={value}" for key, value in self.values.items()) or "base"


def config_hash(config: BaseModel) -> str:
    """12 hex digits of SHA-256 over the resolved config without its training seed: equal for the
    cells of one configuration, stable across processes and machines (sorted keys, JSON numbers)."""
    data = config.model_dump(mode="json")
    train = data.get("train")
    if isinstance(train, dict):
        train.pop("seed", None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def expand(loaded: LoadedSpec, extra: Mapping[str, Any] | None = None) -> list[Cell]:
    """The cells of a spec: grid combinations in the spec's order, each with every seed.

    `extra` (e.g. the best tuned parameters) is applied to the base config before the grid values."""
    base = with_updates(loaded.base_config, dict(extra or {}))
    grid = loaded.spec.grid
    keys = list(grid)
    cells = []
    for combination in itertools.product(*(grid[key] for key in keys)):
        values = dict(zip(keys, combination, strict=True))
        try:
            config = with_updates(base, values)
        except ConfigError as error:
            raise ConfigError(f"{loaded.path}: grid cell {values} is not a valid config: {error}") from None
        digest = config_hash(config)
        for seed in loaded.spec.seeds:
            seeded = with_updates(config, {"train.seed": seed})
            cells.append(Cell(loaded.desk.name, values, seed, seeded.model_dump(mode="json"), digest))
    return cells
