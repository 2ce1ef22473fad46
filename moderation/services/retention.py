"""Pruning what the service only keeps for a while, so that a site's database does not grow
with every request it ever answered.

What goes, once it is older than the site owner's retention (``RETENTION_DAYS``):
1. webhook deliveries that are over (delivered or dead): the webhook's log shows the rest;
2. outbox events every consumer has had (dispatched) and no delivery row still names;
3. moderators' mails that are over, with the digest entries they told of (deleted first:
   the entry's ``message_id`` would otherwise be set to null and the comment mailed again);
4. moderators' sessions that ended, or ran out (``SESSION_LIFETIME_DAYS``), that long ago;
5. idempotency keys past their 24 hours (also pruned on insert; here for quiet sites).

What stays, whatever its age: comments, scores, moderators' decisions and every audit row
(what was decided, by whom and why), reader mails (one row per reply is what stops a reply
that was hidden and restored from being mailed twice) and reply subscriptions (an
unsubscribed address must stay unsubscribed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Delete, delete, exists, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from moderation.models import (
    MailItem,
    MailMessage,
    ModeratorSession,
    OutboxEvent,
    WebhookDelivery,
)
from moderation.services import idempotency
from moderation.types import DeliveryStatus

_OVER = (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD)


def _deleted(session: Session, statement: Delete) -> int:
    """Run a DELETE; how many rows it deleted."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


@dataclass(frozen=True)
class Pruned:
    """How many rows of each kind one pass deleted."""

    webhook_deliveries: int = 0
    events: int = 0
    mails: int = 0
    mail_items: int = 0
    sessions: int = 0
    idempotency_keys: int = 0

    @property
    def total(self) -> int:
        return (
            self.webhook_deliveries
            + self.events
            + self.mails
            + self.mail_items
            + self.sessions
            + self.idempotency_keys
        )

    def summary(self) -> str:
        return (
            f"{self.webhook_deliveries} webhook deliveries, {self.events} events, "
            f"{self.mails} moderators' mails ({self.mail_items} digest entries), "
            f"{self.sessions} sign-in sessions, {self.idempotency_keys} idempotency keys"
        )


def prune(session: Session, now: datetime, keep: timedelta, session_lifetime: timedelta) -> Pruned:
    """Delete what the module docstring lists, older than ``keep``. The caller commits;
    one transaction, so a crash half-way deletes nothing."""
    cutoff = now - keep

    deliveries = _deleted(
        session,
        delete(WebhookDelivery).where(
            WebhookDelivery.status.in_(_OVER), WebhookDelivery.created_at < cutoff
        ),
    )
    events = _deleted(
        session,
        delete(OutboxEvent).where(
            OutboxEvent.published_at.is_not(None),
            OutboxEvent.created_at < cutoff,
            ~exists().where(WebhookDelivery.event_id == OutboxEvent.id),
        ),
    )

    old_mails = select(MailMessage.id).where(
        MailMessage.status.in_(_OVER), MailMessage.created_at < cutoff
    )
    items = _deleted(session, delete(MailItem).where(MailItem.message_id.in_(old_mails)))
    mails = _deleted(session, delete(MailMessage).where(MailMessage.id.in_(old_mails)))

    sessions = _deleted(
        session,
        delete(ModeratorSession).where(
            or_(
                ModeratorSession.ended_at < cutoff,
                ModeratorSession.created_at < cutoff - session_lifetime,
            )
        ),
    )

    keys = _deleted(session, idempotency.expired(now))
    return Pruned(deliveries, events, mails, items, sessions, keys)
