"""The deployment tests run PostgreSQL clusters, PgBouncer and nginx of their own (tests/infra.py)
and the compose file's services as processes (compose.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra import _needs_server_binaries, _owned_directory


@pytest.fixture
def cluster_root() -> Iterator[Path]:
    """A directory for a throwaway PostgreSQL and the processes' files (PostgreSQL and PgBouncer
    read there as the postgres user when the test is root)."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the compose deployment runs on PostgreSQL: set TEST_DATABASE_URL")
    _needs_server_binaries()
    root = _owned_directory("sg-compose-")
    yield root
    shutil.rmtree(root, ignore_errors=True)
