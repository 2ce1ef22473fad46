"""Pruning: a site's history made by the real worker 100 days ago (a held comment, its
webhook deliveries, its moderator's mail, sign-ins, an idempotency key) and again today;
the pass deletes only what is over and older than the retention, keeps every comment,
score and decision, and mails nothing twice afterwards."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import (
    ActionRule,
    Comment,
    IdempotentRequest,
    MailItem,
    MailMessage,
    ModerationAction,
    ModeratorSession,
    OutboxEvent,
    Score,
    Site,
    WebhookDelivery,
)
from moderation.services import idempotency, mail, moderators, notifications, retention, worker
from moderation.types import CommentStatus, DeliveryStatus, MailKind, NotifyPreference, utcnow
from tests import factories
from tests.receiver import http_receiver
from tests.services.test_webhooks import hook

TOXIC = "fuck you idiot"
KEEP = timedelta(days=90)
LIFETIME = timedelta(days=30)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_worker(
    session: Session, clock: Clock, keep: worker.Retention | None = None
) -> worker.Worker:
    return worker.Worker(
        session, get_scorer(), batch_size=16, lease_seconds=60, poll_seconds=0, max_attempts=3,
        worker_id="w1", clock=clock, webhook_allow_private=True, retention=keep,
        notifier=notifications.Notifier(
            mail.Mailer(None, "moderation@example.org"), "secret", "https://mod.example"
        ),  # no SMTP server: mail goes to the log, and counts as delivered
    )  # fmt: skip


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def history(session: Session, site: Site, clock: Clock, thread: str) -> Comment:
    """A toxic comment submitted at ``clock.now``, held by the worker, with its events,
    webhook deliveries and moderator's mail handled at that time."""
    comment = factories.submit(session, site, TOXIC, thread=thread, now=clock.now)
    make_worker(session, clock).run(once=True)
    session.refresh(comment)
    assert comment.status == CommentStatus.HELD
    return comment


def test_prune_deletes_only_what_is_over_and_old(session: Session, site: Site) -> None:
    now = utcnow()
    then = Clock(now - timedelta(days=100))
    person = factories.moderator(session, "mod@example.org")  # a mail for each held comment
    factories.moderator(session, "digest@example.org").notify = NotifyPreference.HOURLY
    old_token, _ = moderators.start_session(session, person, then.now)
    moderators.end_session(session, old_token, then.now + timedelta(hours=1))
    # Never ended: ran out 30 days after it began, 100 days ago (one that ran out 70
    # days ago is younger than the retention, and stays).
    moderators.start_session(session, person, then.now - LIFETIME)
    moderators.start_session(session, person, then.now)
    live_token, _ = moderators.start_session(session, person, now - timedelta(days=2))
    session.commit()

    with (
        http_receiver() as good,
        http_receiver(answers=[500] * 20) as failing,
    ):
        hook(session, site, good, "comment.created,comment.held")
        hook(session, site, failing, "comment.held")
        old = history(session, site, then, "old-post")
        idempotency.remember(session, site, "key-1", "0" * 64, old, then.now)
        make_worker(session, Clock(then.now + timedelta(hours=2))).run(once=True)  # the digest
        # Posted 100 days ago while the worker was stopped: it started again today, so
        # the comment's old "created" event has a delivery of today.
        late = factories.submit(session, site, "Late but fine", thread="late", now=then.now)
        new = history(session, site, Clock(now), "new-post")

    def deliveries() -> list[tuple[int | None, str, DeliveryStatus]]:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        return [(d.event.comment_id, d.event.type.value, d.status) for d in rows]

    delivered, dead = DeliveryStatus.DELIVERED, DeliveryStatus.DEAD
    assert deliveries() == [
        (old.id, "comment.created", delivered),
        (old.id, "comment.held", delivered),
        (old.id, "comment.held", dead),  # retried past the window by today's run
        (late.id, "comment.created", delivered),
        (new.id, "comment.created", delivered),
        (new.id, "comment.held", delivered),
        (new.id, "comment.held", DeliveryStatus.PENDING),
    ]
    old_events = session.scalars(select(OutboxEvent.id).where(OutboxEvent.comment_id == old.id))
    assert len(set(old_events)) == 2  # created, held
    kept_decisions = (count(session, ModerationAction), count(session, ActionRule))
    kept_scores = count(session, Score)
    mails = session.execute(select(MailMessage.kind, MailMessage.comment_ids)).all()
    assert sorted(mails) == [
        (MailKind.DIGEST, [old.id]),
        (MailKind.IMMEDIATE, [old.id]),
        (MailKind.IMMEDIATE, [new.id]),
    ]
    assert count(session, MailItem) == 2  # the old one told, the new one waiting

    pruned = retention.prune(session, now, KEEP, LIFETIME)
    session.commit()

    assert (pruned.webhook_deliveries, pruned.events) == (3, 2)  # all of the old comment's
    assert (pruned.mails, pruned.mail_items, pruned.sessions, pruned.idempotency_keys) == (
        2,
        1,
        2,
        1,
    )
    assert deliveries() == [
        (late.id, "comment.created", delivered),  # its event is old, but a delivery names it
        (new.id, "comment.created", delivered),
        (new.id, "comment.held", delivered),
        (new.id, "comment.held", DeliveryStatus.PENDING),
    ]
    assert not session.scalars(select(OutboxEvent).where(OutboxEvent.comment_id == old.id)).all()
    assert [m.comment_ids for m in session.scalars(select(MailMessage))] == [[new.id]]
    assert session.execute(select(MailItem.comment_id, MailItem.message_id)).all() == [
        (new.id, None)  # still waiting for its digest
    ]
    assert moderators.moderator_for_session(session, live_token, now, LIFETIME) == person
    assert count(session, ModeratorSession) == 2
    assert count(session, IdempotentRequest) == 0
    # What is kept for good: comments, scores, decisions and why.
    assert {c.id for c in session.scalars(select(Comment))} == {old.id, late.id, new.id}
    assert (count(session, ModerationAction), count(session, ActionRule)) == kept_decisions
    assert count(session, Score) == kept_scores

    # A second pass finds nothing, and the worker mails no one about the old comment
    # again (its digest entry went with its mail, not back to "waiting").
    assert retention.prune(session, now, KEEP, LIFETIME).total == 0
    make_worker(session, Clock(now)).run(once=True)
    assert count(session, MailMessage) == 1


def test_the_worker_prunes_once_an_hour(session: Session, site: Site) -> None:
    now = utcnow()
    person = factories.moderator(session, "mod@example.org")
    for days in (200, 150):
        token, _ = moderators.start_session(session, person, now - timedelta(days=days))
        moderators.end_session(session, token, now - timedelta(days=days))
    session.commit()
    clock = Clock(now)
    runner = make_worker(session, clock, worker.Retention(keep=KEEP, session_lifetime=LIFETIME))
    assert runner.prune_if_due(session) is not None
    assert count(session, ModeratorSession) == 0
    token, _ = moderators.start_session(session, person, now - timedelta(days=120))
    moderators.end_session(session, token, now - timedelta(days=120))
    session.commit()
    clock.now += timedelta(minutes=59)
    assert runner.prune_if_due(session) is None  # not due yet: the row stays
    assert count(session, ModeratorSession) == 1
    clock.now += timedelta(minutes=2)
    runner.run(once=True)  # the loop itself runs the due pass
    assert count(session, ModeratorSession) == 0
    assert make_worker(session, clock).prune_if_due(session) is None  # no retention: never


def test_prune_command(app: Flask, session: Session) -> None:
    person = factories.moderator(session, "mod@example.org")
    token, _ = moderators.start_session(session, person, utcnow() - timedelta(days=20))
    moderators.end_session(session, token, utcnow() - timedelta(days=20))
    session.commit()
    runner = app.test_cli_runner()
    kept = runner.invoke(args=["moderation", "prune"])  # RETENTION_DAYS: 90
    assert kept.exit_code == 0, kept.output
    assert "0 sign-in sessions" in kept.output and count(session, ModeratorSession) == 1
    result = runner.invoke(args=["moderation", "prune", "--days", "10"])
    assert result.exit_code == 0, result.output
    assert "older than 10 days" in result.output and "1 sign-in sessions" in result.output
    assert count(session, ModeratorSession) == 0
    bad = runner.invoke(args=["moderation", "prune", "--days", "0"])
    assert bad.exit_code == 2 and "--days" in bad.output
