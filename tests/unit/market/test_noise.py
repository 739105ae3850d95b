"""NoiseBank: a batch of slots equals as many one-slot banks, seed for seed, across block boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from tradebrain.market.noise import MAX_BUFFERED, NoiseBank

SIZE = 3


def draw(bank: NoiseBank, episodes: int) -> np.ndarray:
    """(episodes, slots, size) normals."""
    return np.stack([bank.next_episodes().copy() for _ in range(episodes)])


def test_slot_equals_one_slot_bank_across_blocks() -> None:
    seeds = [11, 12, 13, 14, 15]
    bank = NoiseBank(len(seeds), SIZE, block=4)
    bank.reseed(seeds)
    batch = draw(bank, 10)  # 10 episodes: two full blocks of 4 and part of a third
    for slot, seed in enumerate(seeds):
        single = NoiseBank(1, SIZE, block=4)
        single.reseed([seed])
        np.testing.assert_array_equal(batch[:, slot], draw(single, 10)[:, 0])


@pytest.mark.parametrize("block", [1, 3, 64])
def test_block_size_changes_nothing(block: int) -> None:
    bank = NoiseBank(2, SIZE, block=block)
    bank.reseed([5, 6])
    expected = np.random.default_rng(6).standard_normal((7, SIZE))
    np.testing.assert_array_equal(draw(bank, 7)[:, 1], expected)


def test_reseed_mid_block_restarts_only_that_slot() -> None:
    bank = NoiseBank(3, SIZE, block=4)
    bank.reseed([1, 2, 3])
    before = draw(bank, 2)  # cursor mid-block
    bank.reseed([None, 99, None])
    after = draw(bank, 6)  # crosses the block boundary

    for slot, seed in ((0, 1), (2, 3)):  # untouched slots continue their streams
        stream = np.random.default_rng(seed).standard_normal((8, SIZE))
        np.testing.assert_array_equal(before[:, slot], stream[:2])
        np.testing.assert_array_equal(after[:, slot], stream[2:])
    np.testing.assert_array_equal(after[:, 1], np.random.default_rng(99).standard_normal((6, SIZE)))


def test_reseed_at_block_boundary() -> None:
    bank = NoiseBank(2, SIZE, block=2)
    bank.reseed([1, 2])
    draw(bank, 2)  # exactly one block consumed
    bank.reseed([7, None])
    after = draw(bank, 3)
    np.testing.assert_array_equal(after[:, 0], np.random.default_rng(7).standard_normal((3, SIZE)))
    np.testing.assert_array_equal(after[:, 1], np.random.default_rng(2).standard_normal((5, SIZE))[2:])


def test_same_seed_same_normals_and_different_seeds_differ() -> None:
    bank = NoiseBank(2, SIZE, block=4)
    bank.reseed([42, 42])
    first = draw(bank, 5)
    np.testing.assert_array_equal(first[:, 0], first[:, 1])
    bank.reseed([42, 43])
    second = draw(bank, 1)
    np.testing.assert_array_equal(second[0, 0], first[0, 0])
    assert not np.any(second[0, 0] == second[0, 1])


def test_episodes_are_read_only() -> None:
    bank = NoiseBank(2, SIZE, block=4)
    bank.reseed([0, 1])
    normals = bank.next_episodes()
    assert normals.shape == (2, SIZE)
    with pytest.raises(ValueError, match="read-only"):
        normals[0, 0] = 1.0


def test_large_banks_buffer_fewer_episodes_with_the_same_numbers() -> None:
    slots, size = 64, MAX_BUFFERED // 64 // 2 + 1  # one episode per slot fits, two do not
    bank = NoiseBank(slots, size, block=64)
    assert bank._buffer.size <= MAX_BUFFERED
    bank.reseed([None] * (slots - 1) + [5])
    draws = [bank.next_episodes()[-1].copy() for _ in range(3)]
    np.testing.assert_array_equal(np.stack(draws), np.random.default_rng(5).standard_normal((3, size)))
