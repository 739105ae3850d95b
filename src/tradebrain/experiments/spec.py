"""The experiment spec: a YAML file naming a desk, its base config, a grid over config fields,
seeds and (optionally) a tuning search space; validated before any work starts.

Grid and search-space keys are dotted paths into the desk config (`train.algo`,
`task.risk_aversion`); a typo is rejected with the closest valid key.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from tradebrain.core.config import StrictModel, describe_validation_error, load_config, read_yaml, with_overrides
from tradebrain.core.errors import ConfigError
from tradebrain.core.io import atomic_write_text
from tradebrain.desks.contract import Desk
from tradebrain.desks.registry import get_desk

GridValue = float | int | str | bool | None


class SearchParam(StrictModel):
    """One dimension of a tuning search space: a float or int range (optionally log-scaled) or choices."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[GridValue, ...] | None = None

    @model_validator(mode="after")
    def _complete(self) -> SearchParam:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None or not self.low < self.high:
            raise ValueError(f"a {self.type} parameter needs low < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scaled parameter needs low > 0, got {self.low}")
        return self


class TuneSpec(StrictModel):
    """How `tradebrain tune` searches: the space, the budget between intermediate evaluations, the pruner."""

    space: dict[str, SearchParam] = Field(min_length=1, description="dotted desk-config key -> search range")
    trials: int = Field(20, ge=1, description="default number of trials (`--trials` overrides)")
    eval_every: int = Field(1_000, ge=1, description="training steps between intermediate evaluations")
    eval_episodes: int = Field(100, ge=10, description="validation episodes per intermediate evaluation")
    validation_seed_offset: int = Field(
        500_000, ge=0, description="first validation seed: above training seeds, below the held-out ones"
    )
    sampler_seed: int = 0
    startup_trials: int = Field(3, ge=0, description="trials the TPE sampler and the pruner wait for")
    warmup_evaluations: int = Field(0, ge=0, description="intermediate evaluations before a trial can be pruned")


class ExperimentSpec(StrictModel):
    """A study: desk, base config (file + inline sections), grid over config fields, seeds, tuning."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="experiment name: runs/<name>/, MLflow experiment")
    desk: str = "execution"
    config: str | None = Field(None, description="desk config YAML, relative to the spec file")
    base: dict[str, Any] = Field(default_factory=dict, description="desk config sections laid over `config`")
    grid: dict[str, tuple[GridValue, ...]] = Field(default_factory=dict, description="dotted key -> values")
    seeds: tuple[int, ...] = Field((0,), min_length=1, description="training seeds (train.seed) of every cell")
    tensorboard: bool = Field(True, description="write TensorBoard training curves for every cell")
    write_report: bool = Field(True, description="write the desk's HTML report for every cell")
    tune: TuneSpec | None = None

    @field_validator("desk")
    @classmethod
    def _known_desk(cls, name: str) -> str:
        get_desk(name)
        return name

    @field_validator("grid")
    @classmethod
    def _non_empty_axes(cls, grid: dict[str, tuple[GridValue, ...]]) -> dict[str, tuple[GridValue, ...]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid key '{key}' has no values")
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"grid key '{key}' repeats a value: {list(values)}")
        if "train.seed" in grid:
            raise ValueError("put training seeds in 'seeds', not in the grid ('train.seed')")
        return grid

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError(f"seeds must be distinct integers >= 0, got {list(seeds)}")
        return seeds


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with where it came from and the resolved base desk config."""

    spec: ExperimentSpec
    path: Path
    desk: Desk[Any]
    base_config: BaseModel

    @property
    def best_path(self) -> Path:
        """Where `tradebrain tune` saves the best parameters: `<spec stem>.best.yaml` next to the spec."""
        return self.path.with_name(f"{self.path.stem}.best.yaml")


def check_dotted_key(model: type[BaseModel], dotted: str, where: str) -> None:
    """Reject a dotted key that does not name a field of `model`, suggesting the closest valid one.

    Keys may go into a free-form mapping field (e.g. `train.hyperparams.learning_rate`)."""
    current: type[BaseModel] = model
    parts = dotted.split(".")
    for depth, part in enumerate(parts):
        fields = current.model_fields
        if part not in fields:
            prefix = ".".join(parts[:depth])
            valid = sorted(fields)
            close = difflib.get_close_matches(part, valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{'.'.join([*parts[:depth], close[0]])}'?" if close else ""
            raise ConfigError(
                f"{where}: '{dotted}' is not a config field{hint} (valid keys under "
                f"'{prefix or '<top>'}': {', '.join(valid)})"
            )
        annotation = fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
            continue
        if depth < len(parts) - 1 and not _is_mapping(annotation):
            raise ConfigError(f"{where}: '{dotted}' goes inside '{'.'.join(parts[: depth + 1])}', which is a value")
        return
    raise ConfigError(f"{where}: '{dotted}' names a whole section; name one of its fields")


def _is_mapping(annotation: Any) -> bool:
    origin = getattr(annotation, "__origin__", None)
    return origin is dict


def parse_spec(data: dict[str, Any], source: str) -> ExperimentSpec:
    """The spec from a mapping, or a ConfigError naming each bad key with a did-you-mean hint."""
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(ExperimentSpec, exc, source)) from None


def load_spec(path: Path) -> LoadedSpec:
    """Read and validate a spec and its base desk config; grid and search keys are checked against it."""
    spec = parse_spec(read_yaml(path), str(path))
    desk = get_desk(spec.desk)
    config_path = (path.parent / spec.config) if spec.config else None
    base_config = with_overrides(load_config(desk.config_cls, config_path), spec.base, f"{path}: base")
    if "name" not in spec.base:  # the desk's run name follows the experiment's
        base_config = with_overrides(base_config, {"name": spec.name}, f"{path}: name")
    for key in spec.grid:
        check_dotted_key(desk.config_cls, key, f"{path}: grid")
    if spec.tune is not None:
        for key in spec.tune.space:
            check_dotted_key(desk.config_cls, key, f"{path}: tune.space")
    return LoadedSpec(spec, path, desk, base_config)


def seeds_spec(desk: str, config: BaseModel, seeds: int, runs_root: Path) -> LoadedSpec:
    """A spec without a grid: the desk config trained with seeds 0..seeds-1, each cell evaluated against
    the baselines. Written to runs_root/<name>/spec.yaml, so `tradebrain run` re-runs (or resumes) it."""
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    name = str(getattr(config, "name", desk))
    data = {"name": name, "desk": desk, "base": config.model_dump(mode="json"), "seeds": list(range(seeds)),
            "tensorboard": False}  # fmt: skip
    parse_spec(data, "the study's options")  # fails before anything is written
    path = runs_root / name / "spec.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
    return load_spec(path)
