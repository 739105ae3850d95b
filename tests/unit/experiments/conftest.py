"""Shared helpers: write a small experiment spec into a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

TINY_BASE = {
    "train": {"timesteps": 1500, "n_envs": 8, "hyperparams": {"batch_size": 128}},
    "evaluate": {"episodes": 30},
}


def write_spec(folder: Path, name: str = "tiny", **fields: object) -> Path:
    """A spec file with a tiny budget; `fields` replace or add top-level spec keys."""
    data: dict[str, object] = {"name": name, "desk": "execution", "base": TINY_BASE, "seeds": [0],
                               "tensorboard": False, "write_report": False}  # fmt: skip
    data.update(fields)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


SpecWriter = Callable[..., Path]


@pytest.fixture
def make_spec(tmp_path: Path) -> SpecWriter:
    """write_spec bound to the test's temporary folder."""
    return lambda name="tiny", **fields: write_spec(tmp_path, name, **fields)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    """A 2 x 2 grid (algorithm x risk aversion) over two seeds."""
    return write_spec(tmp_path, grid={"train.algo": ["ppo", "sac"], "task.risk_aversion": [1e-6, 2e-6]}, seeds=[0, 1])
