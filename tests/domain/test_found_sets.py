"""A found set's keys packed: every order and width round-trips, consecutive ids pack to almost
nothing, and `pack_within` keeps the longest first part within its bound."""

from __future__ import annotations

import random

import pytest

from app.domain.found_sets import pack, pack_within, unpack

KEYS = {
    "consecutive ids": list(range(20_000, 28_192)),
    "ids with gaps": sorted(random.Random(1).sample(range(1, 10**6), 3000)),
    "out of order, negative, 64-bit": [2**62, -5, 7, 2**40, 0, -(2**63)],
    "student-term ids": [f"{random.Random(i).getrandbits(96):024x}" for i in range(40)],
    "none": [],
}


@pytest.mark.parametrize("name", list(KEYS))
def test_round_trip(name):
    assert unpack(pack(KEYS[name])) == KEYS[name]


def test_consecutive_ids_pack_to_a_few_bytes_per_thousand():
    assert len(pack(KEYS["consecutive ids"])) < 100  # 8,192 keys (30.7 KB of JSON before)


@pytest.mark.parametrize("bound", [64, 1536, 4096])
def test_pack_within_keeps_the_longest_first_part_that_fits(bound):
    keys = KEYS["ids with gaps"]
    packed, kept = pack_within(keys, bound)
    assert len(packed) <= bound and unpack(packed) == keys[:kept]
    assert len(pack(keys[: kept + 20])) > bound  # not far short of the longest that fits


def test_a_set_that_fits_is_kept_whole():
    packed, kept = pack_within(KEYS["consecutive ids"], 1536)
    assert kept == 8192 and unpack(packed) == KEYS["consecutive ids"]
