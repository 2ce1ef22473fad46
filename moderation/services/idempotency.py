"""Idempotent posting: a client that sends an ``Idempotency-Key`` with a comment and never
sees the answer (a timeout, a dropped connection, a 503 while the database restarted)
retries with the same key and gets the comment it already stored, not a second one.

The key is kept with the comment it stored, in the comment's own transaction, for
``RETENTION``; the same key with a different body is refused (the client reused a key by
mistake). The author token of a keyed post is derived from the key with the server's
secret, so a retry can hand it out again without the token ever being stored."""

from __future__ import annotations

import hashlib
import hmac
import re
from base64 import urlsafe_b64encode
from datetime import datetime, timedelta

from sqlalchemy import Delete, delete, select
from sqlalchemy.orm import Session

from moderation.models import Comment, IdempotentRequest, Site
from moderation.services.errors import Invalid

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)
# Visible ASCII, as the IETF draft's examples (UUIDs, random strings) are; at most 255.
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class BadKey(Invalid):
    """The header is not a usable key."""


def check_key(key: str) -> str:
    """``key`` if it is 1 to 255 visible ASCII characters, else BadKey."""
    if not _KEY.fullmatch(key):
        raise BadKey(f"{HEADER} must be 1 to 255 visible ASCII characters", field=HEADER)
    return key


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def author_token_for(secret: str, site: Site, key: str) -> str:
    """The author token of the comment posted with ``key`` on ``site``: the same on
    every retry, unguessable without the server's secret."""
    digest = hmac.new(secret.encode(), f"author-token\0{site.id}\0{key}".encode(), "sha256")
    return urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def first_comment(
    session: Session, site: Site, key: str, body_hash: str, now: datetime
) -> Comment | None:
    """The comment stored by an earlier request with ``key`` in the last RETENTION, or
    None. Raises Invalid when that request had another body."""
    row = session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.site_id == site.id,
            IdempotentRequest.key == key,
            IdempotentRequest.created_at >= now - RETENTION,
        )
    )
    if row is None:
        return None
    if not hmac.compare_digest(row.request_hash, body_hash):
        raise Invalid(
            f"this {HEADER} was used for another request in the last 24 hours; "
            "use a new key for a new comment",
            field=HEADER,
        )
    return row.comment


def remember(
    session: Session, site: Site, key: str, body_hash: str, comment: Comment, now: datetime
) -> None:
    """Keep ``key`` with the comment it stored (in the caller's transaction), and forget
    keys past RETENTION, this one's earlier use included."""
    session.execute(expired(now))
    session.add(
        IdempotentRequest(
            site_id=site.id, key=key, request_hash=body_hash, comment_id=comment.id, created_at=now
        )
    )
    session.flush()


def expired(now: datetime) -> Delete:
    """The DELETE of keys past RETENTION (services.retention runs it for sites that
    seldom post; ``remember`` forgets them as it goes)."""
    return delete(IdempotentRequest).where(IdempotentRequest.created_at < now - RETENTION)
