"""Optional dependencies: `pip install tradebrain` installs what research needs; experiment tracking,
tuning, Ray and the live side come as extras. A feature whose extra is missing fails up front with
the command that installs it, instead of an ImportError deep inside a run."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from tradebrain.core.errors import TradebrainError

EXTRAS = {
    "mlflow": "tracking",
    "tensorboard": "tracking",
    "optuna": "tune",
    "ray": "ray",
    "alpaca": "live",
    "nats": "platform",
}
"""Top-level module -> the extra of pyproject.toml that installs it."""


class MissingExtraError(TradebrainError, ImportError):
    """A feature needs a package of an extra that is not installed."""


def _missing(module: str, purpose: str) -> MissingExtraError:
    top = module.split(".")[0]
    return MissingExtraError(
        f"{purpose} needs {top}, which is not installed: pip install 'tradebrain[{EXTRAS[top]}]' "
        "(or 'tradebrain[all]' for every optional feature)"
    )


def check(module: str, purpose: str) -> None:
    """Fail now, before any work starts, when `module` is not installed (without importing it)."""
    try:
        found = importlib.util.find_spec(module.split(".")[0]) is not None
    except ValueError:  # a module set to None in sys.modules (tests block an extra that way)
        found = False
    if not found:
        raise _missing(module, purpose)


def require(module: str, purpose: str) -> ModuleType:
    """`module` imported, or a MissingExtraError naming `purpose` and the pip command to run.

    An ImportError raised from inside an installed package (a broken install) is not masked."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and error.name.split(".")[0] != module.split(".")[0]:
            raise
        raise _missing(module, purpose) from None
