"""Moderator accounts."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from moderation.models import Moderator
from moderation.types import Role


def ensure_admin(
    session: Session, email: str, password: str | None
) -> tuple[Moderator, str | None]:
    """The admin ``email``, created if missing. Returns the account and, when this call
    created it without a given password, the generated password (shown once)."""
    existing = session.scalar(select(Moderator).where(Moderator.email == email.lower()))
    if existing is not None:
        return existing, None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    admin = Moderator(
        email=email.lower(),
        password_hash=generate_password_hash(password),
        role=Role.ADMIN,
        active=True,
    )
    session.add(admin)
    session.flush()
    return admin, generated
