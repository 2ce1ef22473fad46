"""Enums stored by value, and the column types shared by the models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, TypeDecorator
from sqlalchemy.engine import Dialect


class CommentStatus(enum.StrEnum):
    PENDING = "pending"  # stored, not scored yet
    VISIBLE = "visible"
    HELD = "held"  # waiting for a moderator
    HIDDEN = "hidden"


class FlagReason(enum.StrEnum):
    OFFENSIVE = "offensive"
    ABUSIVE = "abusive"
    SPAM = "spam"
    OTHER = "other"


class Role(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"


class ModerationMode(enum.StrEnum):
    POST = "post"  # show unless the policy holds it
    PRE = "pre"  # hold everything for a moderator


class Actor(enum.StrEnum):
    SYSTEM = "system"
    MODERATOR = "moderator"
    AUTHOR = "author"


def enum_column(enum_cls: type[enum.Enum], name: str | None = None) -> Enum:
    """A VARCHAR holding the enum's *value* (not its name), checked by a constraint named
    ``name`` (default: the enum's name; give one when a table has two such columns)."""
    return Enum(
        enum_cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        create_constraint=True,
        length=16,
        name=name or enum_cls.__name__.lower(),
        validate_strings=True,
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
