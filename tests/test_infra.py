"""The infrastructure fixtures other tests build on (tests/infra.py) do what they say."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.infra import Cluster


def _eventually(check, seconds: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return result


class TestReplica:
    def test_a_row_written_on_the_primary_is_read_on_the_replica(
        self, cluster: Cluster, replica: Cluster
    ):
        assert replica.sql("SELECT pg_is_in_recovery()") == "t"
        assert cluster.sql("SELECT pg_is_in_recovery()") == "f"
        cluster.sql("CREATE TABLE written (id int PRIMARY KEY, what text)")
        cluster.sql("INSERT INTO written VALUES (1, 'on the primary')")
        assert _eventually(lambda: _read(replica)) == "on the primary"
        streaming = cluster.sql("SELECT state FROM pg_stat_replication")
        assert streaming == "streaming"

    def test_the_replica_refuses_writes(self, cluster: Cluster, replica: Cluster):
        cluster.sql("CREATE TABLE written (id int)")
        _eventually(lambda: replica.sql("SELECT to_regclass('written') IS NOT NULL") == "t")
        with pytest.raises(subprocess.CalledProcessError) as refused:
            replica.sql("INSERT INTO written VALUES (1)")
        assert "cannot execute INSERT in a read-only transaction" in refused.value.stderr


def _read(replica: Cluster) -> str:
    if replica.sql("SELECT to_regclass('written') IS NULL") == "t":
        return ""
    return replica.sql("SELECT what FROM written WHERE id = 1")
