"""Task ids: 24 lowercase hex characters that sort in the order they were made.

The first 12 characters are milliseconds since the epoch, the last 12 a per-process sequence that
starts at a random point each millisecond, so ids made in one process strictly increase and ids
from different processes almost never collide (the primary key catches the rest)."""

from __future__ import annotations

import re
import secrets
import threading
import time

_PATTERN = re.compile(r"[0-9a-f]{24}")
_TAIL_MAX = 16**12 - 1
_lock = threading.Lock()
_last = (0, 0)


def new_task_id(now_ms: int | None = None) -> str:
    """A fresh id, greater than any this process made before."""
    global _last
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        last_ms, last_tail = _last
        if ms <= last_ms:
            # The same millisecond (or a clock step back): keep counting from the last id.
            ms, tail = last_ms, last_tail + 1
            if tail > _TAIL_MAX:
                ms, tail = last_ms + 1, 0
        else:
            # Start low in the range so the sequence has room to count within the millisecond.
            tail = secrets.randbelow(16**11)
        _last = (ms, tail)
    return f"{ms:012x}{tail:012x}"


def is_task_id(value: str) -> bool:
    """Whether `value` has the shape of a task id (anything else is simply unknown)."""
    return bool(_PATTERN.fullmatch(value))
