"""Typed, frozen configs loaded from YAML with `TRADEBRAIN_<KEY>` / `TRADEBRAIN_<SECTION>__<KEY>` overrides.

Every config is a pydantic model that forbids unknown keys. Errors are re-worded so that they
name the full dotted key and, for a typo, suggest the closest valid key. YAML is read strictly: a
key given twice in one mapping is an error (PyYAML would silently keep the last one).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from tradebrain.core.errors import ConfigError

ENV_PREFIX = "TRADEBRAIN_"
ENV_NESTING = "__"
NOT_CONFIG = frozenset({"REQUIRE_SERVICES", "POSTGRES_DSN", "DEBUG"})
"""`TRADEBRAIN_*` variables that set up the tool or its tests, never a config key."""

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


class StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key repeated in one mapping, naming the key and both lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice (lines {seen[key]} and {line}); keep one of them",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> Any:
    """The value of a YAML document, read strictly (no repeated keys); a ConfigError naming
    `source` and the line when it is not valid YAML."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None


def env_overrides(environ: Mapping[str, str], model: type[BaseModel] | None = None) -> dict[str, Any]:
    """Nested overrides from variables like `TRADEBRAIN_MARKET__SIGMA=1.2` or, for a top-level key of
    `model`, `TRADEBRAIN_NAME=run-7` (values parsed as YAML).

    A variable without `__` is a config key only when it names a top-level field of `model` (others,
    such as `TRADEBRAIN_REQUIRE_SERVICES`, set up the tool); one that is a near miss of a field is an
    error with a did-you-mean, because a silently ignored typo is worse than a refusal.
    """
    fields = sorted(model.model_fields) if model is not None else []
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        if ENV_NESTING not in rest:
            key = rest.lower()
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=1, cutoff=0.75)
                if close and rest not in NOT_CONFIG:
                    raise ConfigError(
                        f"environment variable {name} is not a config key; did you mean {ENV_PREFIX}{close[0].upper()}?"
                    )
                continue
            path = [key]
        else:
            path = [part.lower() for part in rest.split(ENV_NESTING)]
        _set_nested(overrides, path, parse_yaml(raw, f"environment variable {name}={raw!r}"))
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
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    data = parse_yaml(text, f"config file {path}") or {}
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
    overrides = env_overrides(os.environ if environ is None else environ, model)
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
