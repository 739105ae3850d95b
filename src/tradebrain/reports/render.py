"""Render a report template: jinja2 with autoescaping, and an error for any name the page uses
but the report did not provide (a silent blank would hide a missing number)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

_TEMPLATES = Environment(
    loader=PackageLoader("tradebrain", "reports/templates"), autoescape=True, undefined=StrictUndefined
)


def render(template: str, **context: Any) -> str:
    """The named template of reports/templates rendered with `context`."""
    return _TEMPLATES.get_template(template).render(**context)
