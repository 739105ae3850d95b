"""refresh_cache drops a module's numba cache when a dependency's source changes, and only then."""

from __future__ import annotations

from pathlib import Path

from tradebrain.core.numba_cache import refresh_cache


def test_cache_survives_until_a_dependency_changes(tmp_path: Path) -> None:
    module, dependency = tmp_path / "loop.py", tmp_path / "kernels.py"
    module.write_text("x = 1\n")
    dependency.write_text("y = 1\n")
    cache = tmp_path / "__pycache__"
    refresh_cache(str(module), [str(dependency)])
    cached = cache / "loop.simulate-10.py311.nbi"
    cached.write_text("index")
    other = cache / "kernels.decide-3.py311.nbi"
    other.write_text("index")
    refresh_cache(str(module), [str(dependency)])
    assert cached.exists()
    dependency.write_text("y = 2\n")
    refresh_cache(str(module), [str(dependency)])
    assert not cached.exists() and other.exists()
