"""Webhooks end to end: the lifecycle's outbox, fanned out by the worker and POSTed to a
real HTTP server on 127.0.0.1, signed; retried until it answers 2xx; nothing lost when a
worker dies between sending and recording."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Site, WebhookDelivery
from moderation.services import comments, outbound, outbox, webhooks, worker
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
    signed = f"{headers['x-moderation-timestamp']}.{headers['x-moderation-delivery']}.".encode()
    signed += body
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
        dead_token = claimed.claimed_by
        sends = webhooks.prepare([claimed])
        session.commit()
        webhooks.send_claimed(sends, allow_private=True)
        session.rollback()
        # While its lease holds, nobody sends it again; after, another worker does.
        assert webhooks.deliver_due(session, "w2", clock, allow_private=True).claimed == 0
        clock.advance(seconds=61)
        [taken] = webhooks.claim_deliveries(session, "w2", 10, 60, clock())
        sends = webhooks.prepare([taken])
        session.commit()
        # The dead worker's late result does not count over the live claim of the heir.
        late = WebhookDelivery(
            id=taken.id, claimed_by=dead_token, attempts=0, created_at=taken.created_at
        )
        assert not webhooks.record(session, late, webhooks.Outcome(True, 200, None, 1.0), clock())
        [outcome] = webhooks.send_claimed(sends, allow_private=True)
        assert webhooks.record(session, taken, outcome, clock())
        session.commit()
        received = list(receiver.received)
    assert len(received) == 2  # a duplicate, never a loss, with one id to drop it by
    assert len({r.headers["x-moderation-delivery"] for r in received}) == 1
    session.refresh(taken)
    assert (taken.status, taken.attempts) == (DeliveryStatus.DELIVERED, 1)


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


def test_the_webhook_tells_the_comment_as_it_was_at_the_event(session: Session, site: Site) -> None:
    clock = Clock()
    with http_receiver() as receiver:
        hook(session, site, receiver, "comment.published")
        comment = factories.submit(session, site, CLEAN, author_token="t" * 32)
        factories.scored(session, comment, {"toxicity": 0.01})
        # The author edits before the event is delivered: the new text is not scored yet.
        comments.edit_by_author(
            session, comment.id, author_token="t" * 32, body="Unscored new text",
            now=utcnow(), window=timedelta(minutes=15),
        )  # fmt: skip
        session.commit()
        outbox.dispatch(session, clock())
        session.commit()
        webhooks.deliver_due(session, "w1", clock, allow_private=True)
        [call] = receiver.received
    data = json.loads(call.body)["data"]
    assert (data["status"], data["version"], data["body"]) == ("visible", 2, CLEAN)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.100.100.200", False),  # shared address space (a cloud's metadata)
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::1", False),  # 6to4 carrying 127.0.0.1
        ("::1", False),
        ("0.0.0.0", False),  # noqa: S104 (an address under test, not one we bind)
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_are_public(address: str, public: bool) -> None:
    assert outbound.is_public(address) is public


def test_a_webhook_url_with_an_impossible_port_is_refused_not_a_traceback() -> None:
    with pytest.raises(Invalid, match="port"):
        webhooks.check_url("http://example.org:99999/hook", allow_private=True)


def test_the_post_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS is outside: a resolver that answers once, then fails (or would answer another
    address: rebinding). The POST must not ask it again."""
    real = socket.getaddrinfo
    answers = iter([real("127.0.0.1", 80, type=socket.SOCK_STREAM)])

    def resolver(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.example":  # an address: nothing to look up
            return real(host, *args, **kwargs)
        try:
            return next(answers)
        except StopIteration:
            raise socket.gaierror(f"{host} looked up twice") from None

    with http_receiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "hooks.example")
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        target = outbound.resolve(url, allow_private=True)
        outcome = outbound.post(target, {"Content-Type": "application/json"}, "{}")
        monkeypatch.undo()
        [call] = receiver.received
    assert outcome.delivered, outcome.error
    assert call.headers["host"] == f"hooks.example:{url.split(':')[2].split('/')[0]}"


def test_a_receiver_that_never_finishes_answering_is_a_failure_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbound, "DEADLINE_SECONDS", 1.0)
    with http_receiver(delay_seconds=5) as receiver:
        target = outbound.resolve(receiver.url, allow_private=True)
        outcome = outbound.post(target, {}, "{}")
    assert not outcome.delivered
    assert outcome.error == "no complete answer within 1 s"
    assert outcome.duration_ms < 3000
