"""docs/reference/settings.md: one row per field of app.config.Settings, its environment name,
default, allowed values (from the field's type and bounds) and description."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic.fields import FieldInfo

from app.config import DEV_JWT_SECRET, ROOT, Settings

INTRO = """# Settings

Every setting is an environment variable (or a line of `.env`), read once at start by
`app/config.py`; the [configuration](../operations/configuration.md) page says how they are
checked. An empty value of an optional setting (as compose passes `${VAR:-}`) means unset.

| variable | default | allowed | what it does |
|---|---|---|---|
"""


def settings_page() -> str:
    rows = [
        f"| `{name.upper()}` | {_default(field)} | {_allowed(field)} | {_cell(field.description)} |"
        for name, field in Settings.model_fields.items()
    ]
    return INTRO + "\n".join(rows) + "\n"


def _cell(text: str | None) -> str:
    if not text:
        raise ValueError("every setting needs Field(description=...)")
    return text.replace("|", "\\|").replace("\n", " ")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        if field.default_factory_takes_validated_data:
            return "see its description"
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None:
        return "unset"
    if value == DEV_JWT_SECRET:
        return "a development secret"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return " ".join(f"`{v}`" for v in value) or "none"
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{str(value).replace(str(ROOT), '<repo>')}`"


def _allowed(field: FieldInfo) -> str:
    annotation = field.annotation
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(arms) < len(typing.get_args(annotation))
        annotation = arms[0]
    if typing.get_origin(annotation) is Literal:
        return ", ".join(f"`{v}`" for v in typing.get_args(annotation))
    kinds: dict[Any, str] = {
        int: "a whole number",
        float: "a number",
        bool: "`true` or `false`",
        str: "text",
        Path: "a file path",
        datetime: "an ISO 8601 instant",
    }
    kind = kinds.get(annotation, "")
    if typing.get_origin(annotation) is list:
        kind = "a space/comma separated list"
    bounds = []
    for item in field.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            bound = getattr(item, attribute, None)
            if isinstance(item, annotated_types.BaseMetadata) and bound is not None:
                number = int(bound) if float(bound).is_integer() else bound
                bounds.append(f"{sign} {number}")
    text = ", ".join([kind, *bounds]) if kind else ", ".join(bounds)
    return text + (" (or unset)" if optional and text else "")
