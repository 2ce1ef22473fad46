"""Webhooks end to end: the lifecycle's outbox, fanned out by the worker and POSTed to a
real HTTP server on 127.0.0.1, signed; retried until it answers 2xx; nothing lost when a
worker dies between sending and recording."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Site, WebhookDelivery
from moderation.services import outbox, webhooks, worker
from moderation.services.errors import Invalid
from moderation.types import CommentStatus, DeliveryStatus, utcnow
from tests import factories
from tests.conftest import database_state, make_site
from tests.receiver import Receiver, http_receiver

TOXIC = "fuck you idiot"
CLEAN = "What a thoughtful post, thanks"


class Clock:
    """The worker's clock, moved by the test (retries wait minutes to hours)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_worker(session: Session, clock: Clock, name: str = "w1") -> worker.Worker:
    return worker.Worker(
        session,
        get_scorer(),
        batch_size=16,
        lease_seconds=60,
        poll_seconds=0,
        max_attempts=3,
        worker_id=name,
        clock=clock,
        webhook_allow_private=True,  # the receiver is on loopback
    )


def hook(session: Session, site: Site, receiver: Receiver, events: str = "comment.held") -> int:
    made = webhooks.add_webhook(
        session, site.slug, receiver.url, events.split(","), utcnow(),
        secret="s3cret", allow_private=True,
    )  # fmt: skip
    session.commit()
    return made.id


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does, as README shows it."""
    signed = headers["x-moderation-timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-moderation-signature"])


def test_a_held_comment_fires_comment_held_with_a_valid_signature(
    session: Session, site: Site
) -> None:
    clock = Clock()
    with http_receiver() as receiver:
        hook(session, site, receiver, "comment.held,comment.hidden")
        comment = factories.submit(session, site, TOXIC, thread="post-7")
        factories.submit(session, site, CLEAN)  # published: this webhook does not want it
        make_worker(session, clock).run(once=True)
        session.refresh(comment)
        assert comment.status == CommentStatus.HELD
        [call] = receiver.received
    assert call.path == "/hooks/moderation"
    assert verify("s3cret", call.headers, call.body)
    assert not verify("another secret", call.headers, call.body)
    assert call.headers["x-moderation-event"] == "comment.held"
    assert call.headers["content-type"] == "application/json"
    payload = json.loads(call.body)
    assert (payload["type"], payload["site"]) == ("comment.held", site.slug)
    data = payload["data"]
    assert (data["id"], data["status"], data["from_status"]) == (comment.id, "held", "pending")
    assert data["rule"] == "label_over_hold"
    assert data["scores"]["toxicity"] > 0.9
    assert data["body"] == TOXIC and data["thread"]["key"] == "post-7"
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert call.headers["x-moderation-delivery"] == delivery.delivery_key
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
    )


def test_a_receiver_that_fails_three_times_gets_the_event_on_the_fourth_try(
    session: Session, site: Site
) -> None:
    clock = Clock()
    with http_receiver(answers=[500, 503, 500]) as receiver:
        hook(session, site, receiver)
        factories.submit(session, site, TOXIC)
        runner = make_worker(session, clock)
        runner.run(once=True)
        waits = []
        for _ in range(3):
            delivery = session.scalars(select(WebhookDelivery)).one()
            session.refresh(delivery)
            assert delivery.status == DeliveryStatus.PENDING
            waits.append(delivery.next_attempt_at - clock.now)
            clock.advance(seconds=1)
            runner.run(once=True)  # not due yet: nothing sent
            clock.now = delivery.next_attempt_at
            runner.run(once=True)
        session.refresh(delivery)
        bodies = [r.body for r in receiver.received]
        keys = {r.headers["x-moderation-delivery"] for r in receiver.received}
    assert len(bodies) == 4 and len(set(bodies)) == 1  # the same bytes each time
    assert keys == {delivery.delivery_key}  # one idempotency id for every retry
    assert waits == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.DELIVERED,
        4,
        200,
    )


def test_a_delivery_that_fails_for_a_whole_day_is_dead(session: Session, site: Site) -> None:
    clock = Clock()
    with http_receiver(answers=[500] * 100) as receiver:
        hook(session, site, receiver)
        factories.submit(session, site, TOXIC)
        runner = make_worker(session, clock)
        runner.run(once=True)
        delivery = session.scalars(select(WebhookDelivery)).one()
        while delivery.status == DeliveryStatus.PENDING:
            clock.now = delivery.next_attempt_at
            runner.run(once=True)
            session.refresh(delivery)
        tries = len(receiver.received)
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.last_attempt_at is not None
    assert delivery.last_attempt_at - delivery.created_at >= webhooks.RETRY_WINDOW
    assert tries == delivery.attempts and 20 < tries < 40  # hourly once backed off
    assert delivery.error == "answered 500"


def test_a_worker_that_dies_after_sending_loses_nothing(session: Session, site: Site) -> None:
    clock = Clock()
    with http_receiver() as receiver:
        hook(session, site, receiver)
        factories.scored(session, factories.submit(session, site, TOXIC), {"toxicity": 0.9})
        outbox.dispatch(session, clock())
        session.commit()
        # The first worker claims and sends, then dies before recording the result.
        [claimed] = webhooks.claim_deliveries(session, "dying", 10, 60, clock())
        targets = {claimed.id: (claimed.webhook.url, "s3cret", "comment.held")}
        session.commit()
        webhooks.send_claimed([claimed], targets)
        session.rollback()
        # While its lease holds, nobody sends it again; after, another worker does.
        assert webhooks.deliver_due(session, "w2", clock, allow_private=True).claimed == 0
        clock.advance(seconds=61)
        result = webhooks.deliver_due(session, "w2", clock, allow_private=True)
        assert (result.claimed, result.delivered) == (1, 1)
        received = list(receiver.received)
    assert len(received) == 2  # a duplicate, never a loss, with one id to drop it by
    assert len({r.headers["x-moderation-delivery"] for r in received}) == 1
    # The dead worker's late result is not recorded over the delivered one.
    assert not webhooks.record(session, claimed, webhooks.Outcome(False, 500, "late", 1.0), clock())
    session.refresh(claimed)
    assert claimed.status == DeliveryStatus.DELIVERED


def test_each_event_is_fanned_out_once_to_each_webhook_that_wants_it(
    session: Session, site: Site
) -> None:
    other = make_site(session, "other")
    clock = Clock()
    with http_receiver() as first, http_receiver() as second, http_receiver() as elsewhere:
        hook(session, site, first, "comment.created,comment.held")
        hook(session, site, second, "comment.published")
        hook(session, other, elsewhere, "comment.created")
        factories.submit(session, site, TOXIC)
        factories.submit(session, site, CLEAN)
        runner = make_worker(session, clock)
        runner.run(once=True)
        runner.run(once=True)  # nothing new: nothing sent twice
        got = {
            name: sorted(json.loads(r.body)["type"] for r in receiver.received)
            for name, receiver in (("first", first), ("second", second), ("other", elsewhere))
        }
    assert got == {
        "first": ["comment.created", "comment.created", "comment.held"],
        "second": ["comment.published"],
        "other": [],
    }


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.org/hook", "http:// or https://"),
        ("http://127.0.0.1:8080/hook", "private, loopback or link-local"),
        ("http://localhost/hook", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("http://10.1.2.3/hook", "private, loopback or link-local"),
        ("http://[::1]/hook", "private, loopback or link-local"),
        ("https://user:pw@example.org/hook", "user or password"),
    ],
)
def test_a_webhook_cannot_point_at_the_services_own_network(
    session: Session, site: Site, url: str, says: str
) -> None:
    before = database_state(session)
    with pytest.raises(Invalid, match=says):
        webhooks.add_webhook(session, site.slug, url, ["comment.held"], utcnow())
    session.rollback()
    assert database_state(session) == before


def test_unknown_event_types_are_named(session: Session, site: Site) -> None:
    with pytest.raises(Invalid, match="unknown event types: comment.approved"):
        webhooks.add_webhook(
            session, site.slug, "http://127.0.0.1/h", ["comment.approved"], utcnow(),
            allow_private=True,
        )  # fmt: skip


def test_a_url_that_turned_private_is_refused_at_delivery_time(
    session: Session, site: Site
) -> None:
    clock = Clock()
    with http_receiver() as receiver:
        hook(session, site, receiver)  # allowed when it was added
        factories.scored(session, factories.submit(session, site, TOXIC), {"toxicity": 0.9})
        outbox.dispatch(session, clock())
        session.commit()
        result = webhooks.deliver_due(session, "w1", clock, allow_private=False)
        assert (result.claimed, result.delivered, result.failed) == (1, 0, 1)
        assert receiver.received == []
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert delivery.error is not None and delivery.error.startswith("refused:")


def test_the_webhook_commands_add_list_test_and_remove(
    app: Flask, session: Session, site: Site
) -> None:
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    runner = app.test_cli_runner()
    with http_receiver(answers=[200, 500]) as receiver:
        added = runner.invoke(
            args=["moderation", "webhook", "add", "--site", site.slug, "--url", receiver.url,
                  "--events", "comment.held,comment.hidden"]
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "signing secret: whsec_" in added.output
        secret = added.output.split("signing secret: ")[1].split()[0]
        [made] = webhooks.list_webhooks(session)
        listed = runner.invoke(args=["moderation", "webhook", "list"])
        assert receiver.url in listed.output
        assert "comment.held, comment.hidden" in listed.output
        assert "0 pending, 0 delivered, 0 dead" in listed.output

        pinged = runner.invoke(args=["moderation", "webhook", "test", str(made.id)])
        assert pinged.exit_code == 0 and "answered 200" in pinged.output, pinged.output
        [ping] = receiver.received
        assert json.loads(ping.body)["type"] == "ping"
        assert verify(secret, ping.headers, ping.body)
        refused = runner.invoke(args=["moderation", "webhook", "test", str(made.id)])
        assert refused.exit_code == 1 and "answered 500" in refused.output

    removed = runner.invoke(args=["moderation", "webhook", "remove", str(made.id)])
    assert removed.exit_code == 0 and webhooks.list_webhooks(session) == []
    assert "no webhook 99" in runner.invoke(args=["moderation", "webhook", "remove", "99"]).output


def test_bad_webhook_commands_say_what_is_wrong_and_add_nothing(
    app: Flask, session: Session, site: Site
) -> None:
    runner = app.test_cli_runner()
    for args, says in (
        (["--site", "nope", "--url", "https://example.org/h", "--events", "comment.held"],
         "no site 'nope'"),
        (["--site", site.slug, "--url", "http://127.0.0.1:9/h", "--events", "comment.held"],
         "MODERATION_WEBHOOK_ALLOW_PRIVATE"),
        (["--site", site.slug, "--url", "https://example.org/h", "--events", "held"],
         "unknown event types: held"),
    ):  # fmt: skip
        result = runner.invoke(args=["moderation", "webhook", "add", *args])
        assert result.exit_code == 1 and says in result.output, result.output
    assert webhooks.list_webhooks(session) == []
