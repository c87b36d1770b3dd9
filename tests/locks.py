"""Locks across processes (xdist workers, and other runs of the suite on this machine) for what
two of them must not do at once: two `npm ci` into one node_modules, two `apt-get install` (dpkg
takes its lock and the second fails)."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Held by one process of the machine at a time while inside; `name` says what for (a path
    is fine: it is hashed into the lock file's name)."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"studentgraph-tests-{digest}.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
