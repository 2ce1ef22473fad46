"""The author in view: who wrote a comment (as a hash, never an address), their other
comments on the site, and the moderators' word on them: a ban (their comments are held,
or refused, as the site chooses) or trust (their comments skip the queue unless the model
says hide). Each ban or trust says who, when, why and until when, and can be lifted."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from moderation.models import AuthorStanding, Comment, Moderator, Site, Thread
from moderation.services.errors import DomainError, Invalid, NotFound
from moderation.types import CommentStatus, StandingKind

# The expiries a moderator chooses from; None: until lifted.
DURATIONS: dict[str, timedelta | None] = {
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "forever": None,
}
DURATION_LABELS = {"1d": "1 day", "7d": "7 days", "30d": "30 days", "forever": "forever"}


class AuthorBanned(DomainError):
    """The author is banned from this site, which refuses their comments (HTTP 403)."""


def author_key(email: str | None, ip_hash: str | None) -> str | None:
    """Who wrote a comment, comparable across comments without keeping who they are:
    the sha256 of the lower-cased address when one was given, else the (already keyed)
    hash of the client address; None when neither is known."""
    address = (email or "").strip().lower()
    if address:
        return "email:" + hashlib.sha256(address.encode()).hexdigest()
    if ip_hash:
        return "ip:" + ip_hash
    return None


def _in_force(now: datetime):  # type: ignore[no-untyped-def]
    return (
        AuthorStanding.lifted_at.is_(None),
        or_(AuthorStanding.expires_at.is_(None), AuthorStanding.expires_at > now),
    )


def standing(
    session: Session, site_id: int, key: str | None, now: datetime
) -> AuthorStanding | None:
    """The ban or trust in force at ``now`` for this author on this site, if any."""
    if key is None:
        return None
    return session.scalar(
        select(AuthorStanding)
        .where(AuthorStanding.site_id == site_id, AuthorStanding.author_key == key, *_in_force(now))
        .order_by(AuthorStanding.id.desc())
        .limit(1)
    )


# Built once, with parameters, and run for every post: building a statement with an
# alias and its conditions costs more than the query takes to run. Two fixed parameters
# rather than an expanding list, which SQLAlchemy would render again at each execution.
_banned_comment = aliased(Comment, name="banned_comment")
_STANDINGS = (
    select(AuthorStanding.kind, AuthorStanding.author_key, _banned_comment.ip_hash)
    .outerjoin(_banned_comment, _banned_comment.id == AuthorStanding.comment_id)
    .where(
        AuthorStanding.site_id == bindparam("site_id"),
        or_(
            AuthorStanding.author_key.in_([bindparam("key"), bindparam("ip_key")]),
            _banned_comment.ip_hash == bindparam("ip_hash"),
        ),
        AuthorStanding.lifted_at.is_(None),
        or_(AuthorStanding.expires_at.is_(None), AuthorStanding.expires_at > bindparam("now")),
    )
)


def standing_kind(
    session: Session, site_id: int, key: str | None, ip_hash: str | None, now: datetime
) -> StandingKind | None:
    """Ban, trust or nothing: what the policy needs to know of the author of a comment
    with ``key`` sent from ``ip_hash``. The email a commenter types is not checked, so:

    - a ban holds for their address as well as their key: typing an email, or leaving it
      out, does not lift it (a ban on an email key also covers the address the banned
      comment came from);
    - trust given by email holds only from the address of the trusted comment: typing a
      trusted author's email elsewhere earns nothing.

    A ban wins over trust."""
    keys = [k for k in (key, f"ip:{ip_hash}" if ip_hash else None) if k]
    if not keys:
        return None
    # Without an address, ``ip_hash = NULL`` matches nothing: the keys alone decide.
    # Columns, not entities: run on the session's connection, without the ORM's layer.
    params = {"site_id": site_id, "key": keys[0], "ip_key": keys[-1], "ip_hash": ip_hash}
    rows = session.connection().execute(_STANDINGS, {**params, "now": now}).all()
    if any(kind == StandingKind.BAN for kind, _, _ in rows):
        return StandingKind.BAN
    for kind, standing_key, trusted_from in rows:
        if kind == StandingKind.TRUST and standing_key == key:
            if standing_key.startswith("ip:") or (ip_hash and trusted_from == ip_hash):
                return StandingKind.TRUST
    return None


def set_standing(
    session: Session,
    comment: Comment,
    kind: StandingKind,
    duration: str,
    reason: str,
    moderator: Moderator,
    now: datetime,
) -> AuthorStanding:
    """Ban or trust the author of ``comment`` on its site for ``duration`` (a key of
    DURATIONS), replacing (lifting) whatever ban or trust they had. Applies to comments
    they post from now on. Raises Invalid for an unknown duration, an empty reason or a
    comment whose author cannot be told apart (no address, no IP hash)."""
    if duration not in DURATIONS:
        raise Invalid(f"expiry must be one of {', '.join(DURATION_LABELS.values())}", "duration")
    reason = reason.strip()
    if not reason:
        raise Invalid("say why: the reason is kept with the " + kind.value, field="reason")
    if comment.author_key is None:
        raise Invalid("this comment's author left neither an address nor an IP hash")
    site_id = comment.thread.site_id
    session.execute(
        update(AuthorStanding)
        .where(
            AuthorStanding.site_id == site_id,
            AuthorStanding.author_key == comment.author_key,
            AuthorStanding.lifted_at.is_(None),
        )
        .values(lifted_at=now, lifted_by_id=moderator.id)
        .execution_options(synchronize_session=False)
    )
    length = DURATIONS[duration]
    row = AuthorStanding(
        site_id=site_id,
        author_key=comment.author_key,
        kind=kind,
        reason=reason[:2000],
        expires_at=now + length if length is not None else None,
        comment_id=comment.id,
        author_name=comment.author_name,
        moderator_id=moderator.id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def lift(
    session: Session, site: Site, standing_id: int, moderator: Moderator, now: datetime
) -> AuthorStanding:
    """End a ban or trust of ``site`` now. Raises NotFound for another site's or an
    unknown one; lifting one that already ended changes nothing."""
    row = session.get(AuthorStanding, standing_id)
    if row is None or row.site_id != site.id:
        raise NotFound(f"no ban or trust {standing_id} on site {site.slug!r}")
    if row.lifted_at is None:
        row.lifted_at = now
        row.lifted_by_id = moderator.id
        session.flush()
    return row


def site_standings(session: Session, site: Site, now: datetime) -> list[AuthorStanding]:
    """The site's bans and trusted authors in force, newest first."""
    return list(
        session.scalars(
            select(AuthorStanding)
            .where(AuthorStanding.site_id == site.id, *_in_force(now))
            .order_by(AuthorStanding.id.desc())
        )
    )


def site_standing_history(session: Session, site: Site, limit: int = 50) -> list[AuthorStanding]:
    """The site's bans and trust, ended ones included, newest first."""
    return list(
        session.scalars(
            select(AuthorStanding)
            .where(AuthorStanding.site_id == site.id)
            .order_by(AuthorStanding.id.desc())
            .limit(limit)
        )
    )


@dataclass
class AuthorPanel:
    """What a moderator sees of a comment's author on its site."""

    key: str | None
    by: str  # "email" or "address": what the comments were matched by
    counts: dict[CommentStatus, int]
    others: list[Comment]  # their other comments, newest first (at most ``limit``)
    standing: AuthorStanding | None


def panel(session: Session, comment: Comment, now: datetime, limit: int = 20) -> AuthorPanel:
    """The author of ``comment``: how many of their comments on the same site are held,
    hidden or visible (this one included), their other comments, and their ban or trust."""
    key = comment.author_key
    by = "email" if key and key.startswith("email:") else "address"
    site_id = comment.thread.site_id
    counts: dict[CommentStatus, int] = {status: 0 for status in CommentStatus}
    others: list[Comment] = []
    if key is not None:
        same_author = (Comment.author_key == key, Thread.site_id == site_id)
        for status, count in session.execute(
            select(Comment.status, func.count())
            .join(Thread, Comment.thread_id == Thread.id)
            .where(*same_author)
            .group_by(Comment.status)
        ):
            counts[status] = count
        others = list(
            session.scalars(
                select(Comment)
                .join(Thread, Comment.thread_id == Thread.id)
                .where(*same_author, Comment.id != comment.id)
                .order_by(Comment.id.desc())
                .limit(limit)
            )
        )
    return AuthorPanel(key, by, counts, others, standing(session, site_id, key, now))
