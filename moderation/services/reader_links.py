"""The links in readers' mails, signed (itsdangerous, keyed with the app's SECRET_KEY) as
the moderators' decision links are, so that nothing stored in the database is enough to
make one.

- Confirm: names the subscription and its confirmation round, signed when the round
  began, valid for CONFIRM_LIFETIME. Only the latest round's link confirms (a newer
  confirmation mail replaces the older one), and once confirmed it does nothing more.
- Unsubscribe: names the subscription; it does not expire (RFC 8058: the link in an old
  mail must still work), and following it twice is the same as once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

CONFIRM_SALT = "moderation.reader-confirm"
UNSUBSCRIBE_SALT = "moderation.reader-unsubscribe"
CONFIRM_LIFETIME = timedelta(days=7)


class LinkInvalid(Exception):
    """Not a link this service signed (or altered)."""


class LinkExpired(LinkInvalid):
    """Signed, but older than CONFIRM_LIFETIME."""


@dataclass(frozen=True)
class ConfirmLink:
    subscription_id: int
    round: int


def _timed(secret: str, moment: datetime) -> URLSafeTimedSerializer:
    stamp = int(moment.timestamp())

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret, salt=CONFIRM_SALT, signer=ClockSigner)


def sign_confirm(secret: str, link: ConfirmLink, signed_at: datetime) -> str:
    """The confirmation token for ``link``, as of ``signed_at`` (the round's start: every
    rendering of the round's mail, retries included, carries the same token)."""
    return str(_timed(secret, signed_at).dumps({"s": link.subscription_id, "r": link.round}))


def read_confirm(secret: str, token: str, now: datetime) -> ConfirmLink:
    """The link ``token`` carries, as of ``now``; LinkExpired or LinkInvalid otherwise."""
    try:
        data: Any = _timed(secret, now).loads(token, max_age=int(CONFIRM_LIFETIME.total_seconds()))
    except SignatureExpired as exc:
        raise LinkExpired("this link has expired") from exc
    except BadSignature as exc:
        raise LinkInvalid("this link is not valid") from exc
    try:
        return ConfirmLink(int(data["s"]), int(data["r"]))
    except (TypeError, KeyError, ValueError) as exc:
        raise LinkInvalid("this link is not valid") from exc


def sign_unsubscribe(secret: str, subscription_id: int) -> str:
    """The unsubscribe token of a subscription: the same in every mail it gets."""
    return str(URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps({"s": subscription_id}))


def read_unsubscribe(secret: str, token: str) -> int:
    """The subscription id ``token`` names; LinkInvalid otherwise."""
    try:
        data: Any = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(token)
        return int(data["s"])
    except (BadSignature, TypeError, KeyError, ValueError) as exc:
        raise LinkInvalid("this link is not valid") from exc
