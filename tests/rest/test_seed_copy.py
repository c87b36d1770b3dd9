"""tests/seeds is a copy of the shared seed documents: it must not drift from them."""

from __future__ import annotations

import pytest

from tests.rest.seed_data import SEEDS, SHARED_SEEDS


def test_the_copy_has_every_seed():
    assert sorted(p.name for p in SEEDS.glob("*.txt")) == [
        "000_fcc2a6af7a4afecc.txt",
        "003_fe4161fbbcf11ae2.txt",
        "004_daa2af0d3aa4fb67.txt",
    ]


@pytest.mark.skipif(not SHARED_SEEDS.is_dir(), reason="../shared/seeds is not beside the repo")
def test_the_copy_matches_the_shared_seeds():
    shared = {p.name: p.read_bytes() for p in SHARED_SEEDS.glob("*.txt")}
    copied = {p.name: p.read_bytes() for p in SEEDS.glob("*.txt")}
    assert copied == shared, "refresh tests/seeds from ../shared/seeds"
