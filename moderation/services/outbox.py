"""The outbox's consumers, fed in one transaction.

The lifecycle writes each event to ``outbox_event`` in the transaction of its change.
``dispatch`` takes undispatched events, oldest first (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers share them), lets each consumer fan them out into rows of
its own (webhooks: a delivery per interested webhook; notifications: a mail, or a digest
entry, per moderator to tell; readers' mail: a confirmation or a reply mail per reader
to tell), and marks them dispatched, all in one transaction: an event
is fanned out exactly once, to every consumer or to none."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from moderation.models import OutboxEvent
from moderation.services import notifications, reader_mail, webhooks


def dispatch(session: Session, now: datetime, batch_size: int = 200) -> int:
    """Fan up to ``batch_size`` undispatched events out to webhooks and notifications and
    mark them dispatched. Returns how many events it dispatched. The caller commits."""
    events = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.published_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not events:
        return 0
    webhooks.fan_out(session, events, now)
    notifications.fan_out(session, events, now)
    reader_mail.fan_out(session, events, now)
    # One UPDATE for the batch, not one per event (the ORM's flush would send each).
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_([event.id for event in events]))
        .values(published_at=now),
        execution_options={"synchronize_session": False},
    )
    for event in events:  # what the objects say too, for the caller, without a reload
        set_committed_value(event, "published_at", now)
    return len(events)
