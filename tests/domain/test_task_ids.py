"""Task ids: 24 lowercase hex characters, in the order they were made."""

from __future__ import annotations

import time

from app.domain.task_ids import is_task_id, new_task_id


class TestTaskIds:
    def test_shape(self):
        task_id = new_task_id()
        assert is_task_id(task_id)
        assert len(task_id) == 24 and task_id == task_id.lower()

    def test_strictly_increasing_within_a_process(self):
        ids = [new_task_id() for _ in range(5000)]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

    def test_time_ordered(self):
        before = int(time.time() * 1000)
        first = new_task_id()
        time.sleep(0.01)
        second = new_task_id()
        assert before <= int(first[:12], 16) <= int(time.time() * 1000)
        assert int(second[:12], 16) >= int(first[:12], 16) + 10

    def test_rejects_other_shapes(self):
        for bad in ["", "5cddb466b68a450c3b102bf", "5CDDB466B68A450C3B102BFD", "../etc/passwd"]:
            assert not is_task_id(bad)
