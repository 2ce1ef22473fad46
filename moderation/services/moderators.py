"""Moderator accounts."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from moderation.models import ApiToken, Moderator, Site
from moderation.services.errors import Invalid, NotFound
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


def create_moderator(
    session: Session, email: str, role: Role, sites: Sequence[Site], password: str | None
) -> tuple[Moderator, str | None]:
    """A new moderator of ``sites`` (admins see every site). Returns the account and the
    generated password when none was given (to show once)."""
    email = email.strip().lower()
    if session.scalar(select(Moderator).where(Moderator.email == email)) is not None:
        raise Invalid(f"{email} already has an account", field="email")
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    moderator = Moderator(
        email=email,
        password_hash=generate_password_hash(password),
        role=role,
        active=True,
        sites=list(sites),
    )
    session.add(moderator)
    session.flush()
    return moderator, generated


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(
    session: Session, moderator: Moderator, name: str, now: datetime
) -> tuple[ApiToken, str]:
    """An admin-API bearer token acting as ``moderator``; the secret is returned once and
    only its hash is stored."""
    secret = "mod_" + secrets.token_urlsafe(32)
    token = ApiToken(
        moderator_id=moderator.id, name=name.strip(), token_hash=_token_hash(secret), created_at=now
    )
    session.add(token)
    session.flush()
    return token, secret


def revoke_api_token(session: Session, token_id: int, now: datetime) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    token.revoked_at = token.revoked_at or now
    session.flush()


def moderator_for_token(session: Session, secret: str, now: datetime) -> Moderator | None:
    """The active moderator a live token acts as, or None."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret)))
    if token is None or token.revoked_at is not None or not token.moderator.active:
        return None
    token.last_used_at = now
    return token.moderator
