"""Pieces every desk's report uses: figures embedded as data URIs, number formats, the config as
tables, and strict JSON."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tradebrain.backtest.bootstrap import Estimate


@dataclass(frozen=True)
class Figure:
    """One embedded figure: its file name, heading, caption and base64 PNG data URI."""

    file: str
    title: str
    caption: str
    data_uri: str


def finite_json(value: Any) -> Any:
    """The same structure with NaN and infinities as null: strict JSON has no NaN."""
    if isinstance(value, Mapping):
        return {str(key): finite_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt(metric: str, value: float, unit: bool = True) -> str:
    """A metric value for a table: $ with thousands separators, bps with 1-2 decimals, rates as %."""
    if not math.isfinite(value):
        return "n/a"
    if metric.endswith("_usd") or metric.startswith("objective"):
        return f"{'-' if value < 0 else ''}{'$' if unit else ''}{abs(value):,.0f}"
    if metric.endswith("_bps"):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    if metric.endswith("rate"):
        return f"{100 * value:.1f}%"
    return f"{value:.2f}"


def compact_usd(value: float, unit: bool = True) -> str:
    """$1.28M, $528.7k: dollars short enough for a sentence."""
    size = abs(value)
    scaled = next(
        (f"{size / div:.{digits}f}{suffix}" for div, suffix, digits in ((1e9, "B", 2), (1e6, "M", 2), (1e3, "k", 1))
         if size >= div),
        f"{size:.0f}",
    )  # fmt: skip
    return f"{'-' if value < 0 else ''}{'$' if unit else ''}{scaled}"


def significance(estimate: Estimate) -> str:
    """Whether the 95% interval of a paired difference excludes zero."""
    return "95% CI excludes 0" if estimate.excludes_zero() else "95% CI includes 0: not significant"


def _plain(value: Any) -> str:
    """A config value as short text."""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e4 and value.is_integer() else f"{value:g}"
    if isinstance(value, tuple | list):
        return ", ".join(_plain(item) for item in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value) if value else "—"
    return "—" if value is None else str(value)


def config_sections(config: BaseModel) -> dict[str, list[tuple[str, str, str]]]:
    """{section: [(key, value, description)]}: top-level scalars under "study", one section per sub-model."""
    sections: dict[str, list[tuple[str, str, str]]] = {"study": []}
    for key, field in type(config).model_fields.items():
        value = getattr(config, key)
        if isinstance(value, BaseModel):
            sections[key] = [
                (sub, _plain(getattr(value, sub)), info.description or "")
                for sub, info in type(value).model_fields.items()
            ]
        else:
            sections["study"].append((key, _plain(value), field.description or ""))
    return sections


def data_uri(path: Path) -> str:
    """A PNG file as a base64 data URI, so the page needs no neighbouring files."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
