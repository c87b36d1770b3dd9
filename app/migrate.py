"""Schema migrations (Alembic) run from code: `python -m app migrate` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> str:
    """Bring the schema to the newest revision (a no-op when it is already there); the revision."""
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    return ScriptDirectory.from_config(config).get_current_head() or "base"


def shown_url(database_url: str) -> str:
    """The database URL as an operator may read it: without the password."""
    try:
        url = make_url(database_url)
    except Exception:  # an URL SQLAlchemy cannot parse was refused before it got here
        return "(the DATABASE_URL)"
    # URL.set(password=None) keeps the password (None there means "unchanged").
    bare = URL.create(url.drivername, url.username, None, url.host, url.port, url.database)
    return bare.update_query_dict(dict(url.query)).render_as_string(hide_password=False)
