"""Per-episode random streams, so that a batch of N episodes equals N single episodes seed for seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_BUFFERED = 1 << 21
"""Most normals a bank buffers (16 MB): large batches or long episodes draw fewer episodes per block."""


class NoiseBank:
    """Standard normals for successive episodes of each env slot, each slot with its own Generator.

    Slots draw `block` episodes at a time into a shared buffer (fewer when the buffer would exceed
    MAX_BUFFERED normals). numpy's Generator yields the same normals whether drawn one episode at a
    time or many at once, so the block size changes speed, never the numbers: slot i of a bank
    equals a one-slot bank seeded the same.
    """

    def __init__(self, slots: int, episode_size: int, block: int = 64) -> None:
        block = max(1, min(block, MAX_BUFFERED // max(1, slots * episode_size)))
        self._generators = [np.random.default_rng() for _ in range(slots)]
        self._buffer = np.empty((slots, block, episode_size))
        self._cursor = block
        self._block = block

    def reseed(self, seeds: Sequence[int | None]) -> None:
        """Restart the stream of every slot whose seed is not None (its next episode comes from the seed)."""
        for slot, seed in enumerate(seeds):
            if seed is not None:
                self._generators[slot] = np.random.default_rng(seed)
                if self._cursor < self._block:
                    self._buffer[slot, self._cursor :] = self._generators[slot].standard_normal(
                        self._buffer[slot, self._cursor :].shape
                    )

    def next_episodes(self) -> np.ndarray:
        """The normals of every slot's next episode, shape (slots, episode_size); a read-only view."""
        if self._cursor == self._block:
            for slot, generator in enumerate(self._generators):
                generator.standard_normal(out=self._buffer[slot])
            self._cursor = 0
        normals = self._buffer[:, self._cursor]
        self._cursor += 1
        normals.flags.writeable = False
        return normals
