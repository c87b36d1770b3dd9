"""`studentgraph ARGS` run through `app.cli.main` in this process, as `python -m app ARGS` runs
it (the parser, the handler, the one translation of failures, the exit status and what is
printed), with DATABASE_URL set as an operator sets it. A new Python per command costs a second
or more of imports; the tests that need the process itself (its entry point, stdin, a signal, a
server) use `tests.cli.test_data.run_cli`."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import threading
from collections.abc import Iterator

from app.cli import main

_ONE_AT_A_TIME = threading.Lock()  # the environment and sys.stdout are the process's


def in_process(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    """What `python -m app ARGS` would have returned, run in a thread of its own: the command
    runs its own event loop (asyncio.run), which a test's running loop would refuse. The caller
    waits, as it waited for the process."""
    done: list[subprocess.CompletedProcess[str]] = []
    thread = threading.Thread(target=lambda: done.append(_run(list(args), url)))
    thread.start()
    thread.join()
    assert done, f"studentgraph {' '.join(args)} raised (see the thread's traceback above)"
    return done[0]


def _run(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        _ONE_AT_A_TIME,
        _environment(DATABASE_URL=url, LOG_LEVEL="WARNING"),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            status = main(args)
        except SystemExit as exit:  # a wrong argument: argparse exits (2), as the process does
            status = exit.code if isinstance(exit.code, int) else 1
    command = ["studentgraph", *args]
    return subprocess.CompletedProcess(command, status, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
