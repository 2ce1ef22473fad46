"""Moderator accounts."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from moderation.models import ApiToken, Moderator, ModeratorSession, Site
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


# ------------------------------------------------------------------ signing in

MIN_PASSWORD_LENGTH = 10


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, checked when the email has no account: signing in as
    nobody then costs what signing in as somebody does, so timing does not tell which
    emails have accounts."""
    return generate_password_hash(secrets.token_urlsafe(32))


def check_sign_in(session: Session, email: str, password: str) -> Moderator | None:
    """The active account ``email`` if ``password`` is its password, else None. A wrong
    password for an existing account is counted on it (shown at its next sign-in)."""
    account = session.scalar(select(Moderator).where(Moderator.email == email.strip().lower()))
    if account is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(account.password_hash, password):
        session.execute(
            update(Moderator)
            .where(Moderator.id == account.id)
            .values(failed_sign_ins=Moderator.failed_sign_ins + 1)
        )
        return None
    return account if account.active else None


def start_session(session: Session, moderator: Moderator, now: datetime) -> tuple[str, int]:
    """A new signed-in session for ``moderator``: returns its token (for the cookie) and
    how many wrong passwords were given for the account since its last sign-in."""
    token = secrets.token_urlsafe(32)
    session.add(
        ModeratorSession(moderator_id=moderator.id, token_hash=_token_hash(token), created_at=now)
    )
    failed = moderator.failed_sign_ins
    moderator.failed_sign_ins = 0
    session.flush()
    return token, failed


def moderator_for_session(
    session: Session, token: str, now: datetime, lifetime: timedelta
) -> Moderator | None:
    """The active moderator of a session that has not ended and began less than
    ``lifetime`` ago (a copied cookie stops working then, signed out or not), or None."""
    row = session.scalar(
        select(ModeratorSession).where(
            ModeratorSession.token_hash == _token_hash(token),
            ModeratorSession.ended_at.is_(None),
            ModeratorSession.created_at > now - lifetime,
        )
    )
    if row is None or not row.moderator.active:
        return None
    return row.moderator


def other_sessions(session: Session, moderator: Moderator, token: str) -> int:
    """How many sessions of ``moderator`` are open besides the one with ``token``."""
    return (
        session.scalar(
            select(func.count())
            .select_from(ModeratorSession)
            .where(
                ModeratorSession.moderator_id == moderator.id,
                ModeratorSession.ended_at.is_(None),
                ModeratorSession.token_hash != _token_hash(token),
            )
        )
        or 0
    )


def end_session(session: Session, token: str, now: datetime) -> None:
    """Sign-out: this browser's session ends."""
    session.execute(
        update(ModeratorSession)
        .where(
            ModeratorSession.token_hash == _token_hash(token), ModeratorSession.ended_at.is_(None)
        )
        .values(ended_at=now)
    )


def end_sessions(
    session: Session, moderator: Moderator, now: datetime, *, keep: str | None = None
) -> int:
    """End every session of ``moderator`` but the one whose token is ``keep`` (the
    browser asking, when it should stay signed in). Returns how many ended."""
    query = update(ModeratorSession).where(
        ModeratorSession.moderator_id == moderator.id, ModeratorSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(ModeratorSession.token_hash != _token_hash(keep))
    result = session.execute(query.values(ended_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def change_password(
    session: Session,
    moderator: Moderator,
    current: str,
    new: str,
    now: datetime,
    *,
    keep: str | None = None,
) -> int:
    """Set a new password after checking the current one; every other session of the
    account ends (whoever knew the old password is signed out). Returns how many ended."""
    if not check_password_hash(moderator.password_hash, current):
        raise Invalid("that is not your current password", field="current_password")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"use at least {MIN_PASSWORD_LENGTH} characters", field="new_password")
    moderator.password_hash = generate_password_hash(new)
    session.flush()
    return end_sessions(session, moderator, now, keep=keep)


def set_active(session: Session, moderator: Moderator, active: bool, now: datetime) -> None:
    """Activate or deactivate an account; deactivation ends its sessions at once."""
    moderator.active = active
    if not active:
        end_sessions(session, moderator, now)
    session.flush()
