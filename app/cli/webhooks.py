"""webhook: endpoints the workers deliver the change feed to (docs/integrations/changes.md).

`webhook create` prints the webhook's signing secret on its last line, once."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.cli.accounts import _iso, tsv
from app.cli.commands import command, group
from app.cli.data import _run, _run_sessions, _settings
from app.services import webhooks


def _kinds(text: str | None) -> list[str] | None:
    return [k.strip() for k in text.split(",") if k.strip()] if text else None


def webhook_create(args: argparse.Namespace) -> int:
    """Create a webhook: the workers deliver it every change entry the account's scopes may read
    (a FERPA-protected student's only with people:private), from --after on. Prints the webhook's
    signing secret on its last line, once: the receiver verifies each delivery with it."""
    settings = _settings()
    allow = settings.webhooks_allow_private_addresses

    async def create(session: AsyncSession) -> tuple[int, str]:
        return await webhooks.create(
            session,
            args.url,
            args.account,
            _kinds(args.kinds),
            allow_private=allow,
            after=args.after,
        )

    webhook_id, secret = _run(settings, create)
    print(f"webhook {webhook_id} delivers to {args.url} what {args.account} may read.")
    print("Its signing secret (webhook-signature, HMAC-SHA256) is shown only now; keep it:")
    print(secret)
    return 0


def webhook_list(_args: argparse.Namespace) -> int:
    """id, state, url, account, kinds, position, lag, delivered, redelivered, failures, last
    delivery, last error (or why paused)."""

    async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[list[str]]:
        engine = sessions.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        out = []
        async with sessions() as session:
            for hook in await webhooks.webhooks(session):
                lag = await webhooks.lag(engine, session, hook)
                out.append(
                    [
                        str(hook.id),
                        hook.state,
                        hook.url,
                        hook.account_name,
                        hook.kinds or "all",
                        str(hook.after),
                        "-" if lag is None else str(lag),
                        str(hook.delivered),
                        str(hook.redelivered),
                        str(hook.failures),
                        _iso(hook.last_delivery_at),
                        hook.paused_reason or hook.last_error or "",
                    ]
                )
        return out

    print(
        "id\tstate\turl\taccount\tkinds\tafter\tlag\tdelivered\tredelivered\tfailures"
        "\tlast_delivery\tlast_error"
    )
    for row in _run_sessions(_settings(), rows):
        print(tsv(row))
    return 0


def _act(action: Any, done: str, doc: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        _run(_settings(), lambda s: action(s, args.id))
        print(f"webhook {args.id} {done}")
        return 0

    handler.__doc__ = doc  # its --help description (commands.command reads the docstring)
    return handler


def register(commands: Any) -> None:
    actions = group(
        commands,
        "webhook",
        "webhooks the change feed is delivered to: create, list, pause, resume, delete",
        "Endpoints the workers POST the change feed to, in position order, at least once, "
        "signed with a secret of each webhook's own (docs/integrations/changes.md).",
    )
    p = command(actions, "create", webhook_create, "deliver the change feed to a URL")
    p.add_argument("--url", required=True, help="http(s) URL the batches are POSTed to")
    p.add_argument("--account", required=True, help="the service account whose scopes decide")
    kinds = "comma-separated: student,term,plan,dplan (default: all)"
    p.add_argument("--kinds", default=None, help=kinds)
    start = "start after this position (default: the newest entry, now)"
    p.add_argument("--after", type=int, default=None, help=start)
    command(actions, "list", webhook_list, "webhooks, their lag and last error")
    for name, action, done, summary, doc in (
        (
            "pause",
            webhooks.pause,
            "paused",
            "stop delivering (the position is kept)",
            "Stop delivering to a webhook; its position is kept, and `resume` goes on from it.",
        ),
        (
            "resume",
            webhooks.resume,
            "resumed",
            "deliver again, from where it stopped",
            "Deliver again to a paused webhook (paused by hand or after WEBHOOK_MAX_FAILURES "
            "failures in a row), from its kept position; its failure count starts again.",
        ),
        (
            "delete",
            webhooks.delete,
            "deleted",
            "forget a webhook",
            "Forget a webhook: nothing more is delivered to it, and its secret is gone.",
        ),
    ):
        p = command(actions, name, _act(action, done, doc), summary)
        p.add_argument("id", type=int, metavar="ID", help="the webhook's id (`webhook list`)")
