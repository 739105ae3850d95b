"""What a run records to be reproducible: package versions, the git commit, the Python version."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("tradebrain", "torch", "numpy", "stable-baselines3", "gymnasium", "numba", "scipy", "mlflow", "optuna",
            "ray")  # fmt: skip


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each package ('not installed' when absent)."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(where: Path | None = None) -> str:
    """HEAD's commit of the repository holding `where` (default: this package), '+dirty' when the
    work tree has uncommitted changes; 'unknown' outside a repository or without git."""
    folder = where or Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def provenance() -> dict[str, object]:
    """Versions and commit, as recorded with every cell."""
    return {"git_commit": git_commit(), "versions": package_versions()}
