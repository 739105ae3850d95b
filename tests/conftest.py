"""Shared test setup: one torch thread (small networks run fastest that way here)."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
