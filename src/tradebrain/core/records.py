"""Parameter records for compiled kernels: one structured numpy row passes many named scalars cheaply."""

from __future__ import annotations

import numpy as np


def record(dtype: np.dtype, **values: float) -> np.ndarray:
    """A one-row structured array of `dtype` with every field set (missing or extra fields are errors)."""
    names = set(dtype.names or ())
    if set(values) != names:
        raise TypeError(f"record needs exactly the fields {sorted(names)}, got {sorted(values)}")
    row = np.zeros(1, dtype=dtype)
    for name, value in values.items():
        row[0][name] = value
    return row
