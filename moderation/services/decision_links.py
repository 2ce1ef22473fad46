"""The approve and hide links in moderators' mails: signed (itsdangerous, keyed with the
app's SECRET_KEY), valid for 7 days, naming the comment, the version the mail showed and
the decision. Following one only shows the comment with the decision prefilled; the
moderator confirms with a POST. After any decision the comment's version has moved, so the
link is spent: it says "already decided" instead of acting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

SALT = "moderation.mail-decision"
LIFETIME = timedelta(days=7)
ACTIONS = ("approve", "hide")


class LinkInvalid(Exception):
    """Not a link this service signed (or altered)."""


class LinkExpired(LinkInvalid):
    """Signed, but older than LIFETIME."""


@dataclass(frozen=True)
class DecisionLink:
    comment_id: int
    version: int
    action: str


def _serializer(secret: str, now: datetime) -> URLSafeTimedSerializer:
    moment = int(now.timestamp())

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return moment

    return URLSafeTimedSerializer(secret, salt=SALT, signer=ClockSigner)


def sign(secret: str, link: DecisionLink, now: datetime) -> str:
    """The token for ``link``, signed at ``now``."""
    payload = {"c": link.comment_id, "v": link.version, "a": link.action}
    return str(_serializer(secret, now).dumps(payload))


def read(secret: str, token: str, now: datetime) -> DecisionLink:
    """The link ``token`` carries, as of ``now``; LinkExpired or LinkInvalid otherwise."""
    try:
        data: Any = _serializer(secret, now).loads(token, max_age=int(LIFETIME.total_seconds()))
    except SignatureExpired as exc:
        raise LinkExpired("this link has expired") from exc
    except BadSignature as exc:
        raise LinkInvalid("this link is not valid") from exc
    try:
        link = DecisionLink(int(data["c"]), int(data["v"]), str(data["a"]))
    except (TypeError, KeyError, ValueError) as exc:
        raise LinkInvalid("this link is not valid") from exc
    if link.action not in ACTIONS:
        raise LinkInvalid("this link is not valid")
    return link
