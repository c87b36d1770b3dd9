"""audit: a student's disclosure records, newest first; prune-disclosures: apply the retention.

`studentgraph audit --netid X [--since YYYY-MM-DD] [--sub S] [--limit N] [--json]` prints a
header and one tab-separated line per record, each field escaped (`tsv`: a tab or a newline in a
token's `scope` cannot forge a line), or one JSON object per line with `--json`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import orjson

from app.cli.accounts import _date, _iso, tsv
from app.cli.commands import command
from app.cli.data import _run, _run_sessions, _settings
from app.services import disclosures

COLUMNS = ("at", "sub", "operation", "record_types", "scopes", "request_id")


def audit(args: argparse.Namespace) -> int:
    """Print the disclosure records of one student (who was shown which of its records, when,
    through which operation), newest first: a header and one tab-separated line per record,
    each field escaped, or one JSON object per line."""
    since = datetime.combine(args.since, datetime.min.time(), UTC) if args.since else None
    rows = _run(
        _settings(),
        lambda s: disclosures.audit(s, args.netid, since=since, sub=args.sub, limit=args.limit),
    )
    if not args.json:
        print("\t".join(COLUMNS))
    for row in rows:
        values = {c: _iso(row.at) if c == "at" else getattr(row, c) for c in COLUMNS}
        if args.json:
            print(orjson.dumps({"netid": row.netid, **values}).decode())
        else:
            print(tsv(list(values.values())))
    return 0


def prune(_args: argparse.Namespace) -> int:
    """Delete the disclosure records older than DISCLOSURE_RETENTION_DAYS (0, the default, keeps
    them forever and deletes nothing). `studentgraph worker` does this at start and hourly;
    this is for running it now."""
    settings = _settings()
    days = settings.disclosure_retention_days
    if days <= 0:
        print("DISCLOSURE_RETENTION_DAYS is 0: disclosure records are kept forever")
        return 0
    now = datetime.now(UTC)
    deleted = _run_sessions(settings, lambda sessions: disclosures.prune(sessions, now, days))
    print(f"deleted {deleted} disclosure records older than {days} days")
    return 0


def _limit(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 100000, not {text!r}")
    return value


def register(commands: Any) -> None:
    summary = "a student's disclosure records (FERPA), newest first"
    p = command(commands, "audit", audit, summary)
    p.add_argument("--netid", required=True, help="the student")
    p.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="from this day on (UTC)")
    p.add_argument("--sub", metavar="S", help="only those disclosed to this caller")
    limit = "at most this many records"
    p.add_argument("--limit", type=_limit, default=disclosures.AUDIT_LIMIT, help=limit)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    summary = "delete disclosure records past DISCLOSURE_RETENTION_DAYS"
    command(commands, "prune-disclosures", prune, summary)
