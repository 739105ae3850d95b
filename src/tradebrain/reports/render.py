"""Render a report template: jinja2 with autoescaping, and an error for any name the page uses
but the report did not provide (a silent blank would hide a missing number).

The shared templates (the base page, its sections, the backtest and experiment pages) live in
reports/templates; a desk keeps its own page in its folder and passes that folder, so its page
can extend the base without the reports layer knowing the desk."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined


@functools.lru_cache(maxsize=16)
def _environment(folder: str | None) -> Environment:
    loaders: list[Any] = [PackageLoader("tradebrain", "reports/templates")]
    if folder is not None:
        loaders.insert(0, FileSystemLoader(folder))
    return Environment(loader=ChoiceLoader(loaders), autoescape=True, undefined=StrictUndefined)


def render(template: str, templates: Path | None = None, **context: Any) -> str:
    """The named template rendered with `context`: looked up in `templates` (a desk's folder) first,
    then in reports/templates."""
    return _environment(str(templates) if templates is not None else None).get_template(template).render(**context)
