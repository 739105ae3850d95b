"""Keep numba's on-disk cache honest across modules.

numba invalidates a cached function only when its own source file changes, not when a compiled
function it calls (in another module) does, so after editing a dependency the cache would serve
stale machine code. `refresh_cache` stores a fingerprint of the dependencies' sources next to the
module's cache and deletes that cache when the fingerprint changes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path


def refresh_cache(module_file: str, dependencies: Iterable[str]) -> None:
    """Delete `module_file`'s numba cache if any of `dependencies` (module files) changed since the
    cache was written. Best effort: an unwritable cache directory is left alone (numba then caches
    elsewhere or not at all)."""
    module = Path(module_file)
    cache_dir = module.parent / "__pycache__"
    digest = hashlib.sha256()
    for dependency in sorted(dependencies):
        digest.update(Path(dependency).read_bytes())
    fingerprint = digest.hexdigest()
    stamp = cache_dir / f"{module.stem}.numba-deps"
    try:
        if stamp.exists() and stamp.read_text() == fingerprint:
            return
        for cached in cache_dir.glob(f"{module.stem}.*.nb[ic]"):
            cached.unlink(missing_ok=True)
        cache_dir.mkdir(exist_ok=True)
        temporary = stamp.with_name(f"{stamp.name}.{os.getpid()}")
        temporary.write_text(fingerprint)
        os.replace(temporary, stamp)
    except OSError:
        return
