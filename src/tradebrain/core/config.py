"""Typed, frozen configs loaded from YAML with `TRADEBRAIN_<SECTION>__<KEY>` overrides.

Every config is a pydantic model that forbids unknown keys. Errors are re-worded so that they
name the full dotted key and, for a typo, suggest the closest valid key.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from tradebrain.core.errors import ConfigError

ENV_PREFIX = "TRADEBRAIN_"
ENV_NESTING = "__"

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every config: frozen, unknown keys rejected, no NaN or infinite numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The nested model class that owns the key at `loc[-1]`, or None when not a model path."""
    current: type[BaseModel] = model
    for part in loc[:-1]:
        field = current.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        current = annotation
    return current


def describe_validation_error(model: type[BaseModel], error: ValidationError, source: str) -> str:
    """One line per problem, with the dotted key, the reason and a did-you-mean hint for typos."""
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        loc = tuple(item["loc"])
        key = ".".join(str(part) for part in loc)
        if item["type"] == "extra_forbidden":
            owner = _model_at(model, loc)
            valid = sorted(owner.model_fields) if owner else []
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(f"  - unknown key '{key}'{hint} (valid keys here: {', '.join(valid)})")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            if loc:
                lines.append(f"  - '{key}': {message} (got {item.get('input')!r})")
            else:  # a rule across several keys: the message names them
                lines.append(f"  - {message}")
    return "\n".join(lines)


def _set_nested(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override path {'.'.join(path)} runs through a non-section key '{part}'")
        node = child
    node[path[-1]] = value


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested overrides from variables like `TRADEBRAIN_MARKET__SIGMA=1.2` (values parsed as YAML).

    Variables without the `__` separator (e.g. `TRADEBRAIN_REQUIRE_SERVICES`) are not config keys.
    """
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or ENV_NESTING not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split(ENV_NESTING)]
        _set_nested(overrides, path, yaml.safe_load(raw))
    return overrides


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `update` laid over it, section by section."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from `path`, or a ConfigError saying what is wrong with the file."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass an existing YAML file (see configs/)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(data).__name__}")
    return data


def build_config(
    model: type[ModelT],
    data: Mapping[str, Any],
    source: str = "config",
    environ: Mapping[str, str] | None = None,
) -> ModelT:
    """Validate `data` overlaid with environment overrides into a frozen `model`."""
    overrides = env_overrides(os.environ if environ is None else environ)
    merged = deep_merge(data, overrides)
    where = source + (" + TRADEBRAIN_* overrides" if overrides else "")
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(model, exc, where)) from None


def load_config(model: type[ModelT], path: Path | None = None, environ: Mapping[str, str] | None = None) -> ModelT:
    """The config from a YAML file (or the embedded defaults when `path` is None) plus overrides."""
    data = read_yaml(path) if path is not None else {}
    return build_config(model, data, str(path) if path else "embedded defaults", environ)


def with_overrides(config: ModelT, overrides: Mapping[str, Any], source: str) -> ModelT:
    """A copy of `config` with nested overrides merged section by section (market={"sigma": 0}
    keeps the other market fields), re-validated; errors name the key and `source`."""
    if not overrides:
        return config
    model = type(config)
    try:
        return model.model_validate(deep_merge(config.model_dump(), overrides))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(model, exc, source)) from None


def with_updates(config: ModelT, updates: Mapping[str, Any]) -> ModelT:
    """A copy of a frozen config with dotted-key updates (`{"task.risk_aversion": 1e-6}`), re-validated."""
    data = config.model_dump()
    for dotted, value in updates.items():
        _set_nested(data, dotted.split("."), value)
    try:
        return type(config).model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(type(config), exc, "command-line options")) from None
