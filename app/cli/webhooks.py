"""webhook: endpoints the workers deliver the change feed to (docs/integrations/changes.md).

`webhook create` prints the webhook's signing secret on its last line, once."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.cli.accounts import _iso, tsv
from app.cli.data import _run, _run_sessions, _settings
from app.services import webhooks


def _kinds(text: str | None) -> list[str] | None:
    return [k.strip() for k in text.split(",") if k.strip()] if text else None


def webhook_create(args: argparse.Namespace) -> int:
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


def _act(action: Any, done: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        _run(_settings(), lambda s: action(s, args.id))
        print(f"webhook {args.id} {done}")
        return 0

    return handler


def register(commands: Any) -> None:
    webhook = commands.add_parser(
        "webhook",
        help="webhooks the change feed is delivered to: create, list, pause, resume, delete",
    )
    sub = webhook.add_subparsers(dest="webhook_command", required=True, metavar="ACTION")
    p = sub.add_parser("create", help="deliver the change feed to a URL (secret printed once)")
    p.add_argument("--url", required=True, help="http(s) URL the batches are POSTed to")
    p.add_argument("--account", required=True, help="the service account whose scopes decide")
    p.add_argument("--kinds", help="comma-separated: student,term,plan,dplan (default: all)")
    p.add_argument(
        "--after", type=int, default=None, help="start after this position (default: now)"
    )
    p.set_defaults(handler=webhook_create)
    sub.add_parser("list", help="webhooks, their lag and last error").set_defaults(
        handler=webhook_list
    )
    for name, action, done, helptext in (
        ("pause", webhooks.pause, "paused", "stop delivering (the position is kept)"),
        ("resume", webhooks.resume, "resumed", "deliver again, from where it stopped"),
        ("delete", webhooks.delete, "deleted", "forget a webhook"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", type=int)
        p.set_defaults(handler=_act(action, done))
