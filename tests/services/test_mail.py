"""Moderators' mail end to end: held comments fanned out from the outbox by the worker,
rendered from the templates, and sent to a real SMTP server (aiosmtpd) on 127.0.0.1;
retried until it accepts; digests and the burst rule; the log when no server is set."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import MailMessage, Moderator, Site
from moderation.services import decision_links, mail, notifications, worker
from moderation.services.errors import Invalid
from moderation.types import DeliveryStatus, MailKind, NotifyPreference, Role, utcnow
from tests import factories
from tests.conftest import make_site
from tests.smtp_server import smtp_server

TOXIC = "fuck you idiot"
SECRET = "test-secret"
PUBLIC = "https://moderation.example"


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or utcnow().replace(minute=5, second=0, microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def notifier(url: str | None) -> notifications.Notifier:
    server = mail.parse_smtp_url(url) if url else None
    return notifications.Notifier(mail.Mailer(server, "moderation@example.org"), SECRET, PUBLIC)


def make_worker(session: Session, clock: Clock, url: str | None) -> worker.Worker:
    return worker.Worker(
        session, get_scorer(), batch_size=16, lease_seconds=60, poll_seconds=0, max_attempts=3,
        worker_id="w1", clock=clock, notifier=notifier(url),
    )  # fmt: skip


def person(
    session: Session,
    email: str,
    role: Role = Role.MODERATOR,
    sites: tuple[Site, ...] = (),
    notify: NotifyPreference = NotifyPreference.IMMEDIATE,
) -> Moderator:
    made = factories.moderator(session, email, role, sites)
    made.notify = notify
    session.commit()
    return made


def links(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(Approve|Hide):[ ]+(\S+)", text, re.MULTILINE))


def test_smtp_urls_are_parsed() -> None:
    plain = mail.parse_smtp_url("smtp://mail.example:2525")
    assert (plain.scheme, plain.host, plain.port, plain.user) == (
        "smtp",
        "mail.example",
        2525,
        None,
    )
    tls = mail.parse_smtp_url("smtps://ann:p%40ss@mail.example")
    assert (tls.port, tls.user, tls.password) == (465, "ann", "p@ss")
    starttls = mail.parse_smtp_url("smtp+starttls://mail.example", "bob", "pw")
    assert (starttls.port, starttls.user, starttls.password) == (587, "bob", "pw")
    assert "pw" not in repr(starttls) and "p@ss" not in repr(tls)
    with pytest.raises(Invalid):
        mail.parse_smtp_url("http://mail.example")


def test_a_held_comment_mails_its_sites_immediate_moderators(session: Session, site: Site) -> None:
    other = make_site(session, "other")
    person(session, "admin@example.org", Role.ADMIN)
    person(session, "mod@example.org", sites=(site,))
    person(session, "other@example.org", sites=(other,))
    person(session, "quiet@example.org", sites=(site,), notify=NotifyPreference.OFF)
    person(session, "hourly@example.org", sites=(site,), notify=NotifyPreference.HOURLY)
    clock = Clock()
    with smtp_server() as server:
        comment = factories.submit(session, site, TOXIC, thread="post-7", author="Troll")
        make_worker(session, clock, server.url).run(once=True)
    assert sorted(m["To"] for m in server.messages) == ["admin@example.org", "mod@example.org"]
    message = server.to("mod@example.org")[0]
    assert message.is_multipart() and message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Troll" in message["Subject"] and "Troll" in text and "Troll" in html
    assert TOXIC in text and comment.body_html in html
    assert "post-7" in text and "Why it is held:" in text
    found = links(text)
    assert set(found) == {"Approve", "Hide"}
    for action, url in found.items():
        assert url.startswith(f"{PUBLIC}/moderation/comments/{comment.id}?decision=")
        assert url in html
        link = decision_links.read(SECRET, url.split("decision=")[1], clock.now)
        assert link == decision_links.DecisionLink(comment.id, comment.version, action.lower())
    rows = session.scalars(select(MailMessage)).all()
    assert {(r.kind, r.status) for r in rows} == {(MailKind.IMMEDIATE, DeliveryStatus.DELIVERED)}


def test_a_refusing_server_gets_the_mail_on_the_fourth_try(session: Session, site: Site) -> None:
    person(session, "mod@example.org", sites=(site,))
    clock = Clock()
    with smtp_server(refusals=3) as server:
        factories.submit(session, site, TOXIC)
        runner = make_worker(session, clock, server.url)
        runner.run(once=True)
        waits = []
        for _ in range(3):
            row = session.scalars(select(MailMessage)).one()
            session.refresh(row)
            assert row.status == DeliveryStatus.PENDING and row.response_status == 451
            waits.append(row.next_attempt_at - clock.now)
            clock.now = row.next_attempt_at
            runner.run(once=True)
        session.refresh(row)
    assert server.refused == 3 and len(server.messages) == 1
    assert waits == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 4)


def test_a_crash_between_sending_and_recording_sends_it_again(session: Session, site: Site) -> None:
    person(session, "mod@example.org", sites=(site,))
    clock = Clock()
    with smtp_server() as server:
        factories.submit(session, site, TOXIC)
        make_worker(session, clock, None).run(once=True)  # queued; this worker had no SMTP
        session.execute(MailMessage.__table__.update().values(status=DeliveryStatus.PENDING))
        session.commit()
        [claimed] = notifications.deliveries.claim_due(
            session, MailMessage, "dying", 10, 60, clock()
        )
        session.commit()
        sent = notifications.render(session, claimed, notifier(server.url), clock())
        assert sent is not None
        notifier(server.url).mailer.send(sent)  # ... and the worker dies before recording
        clock.advance(seconds=61)  # the lease ends
        result = notifications.deliver_due(session, "w2", clock, notifier(server.url))
    assert result.delivered == 1
    assert len(server.messages) == 2  # a duplicate, never a loss
    assert server.messages[0]["Message-ID"] == server.messages[1]["Message-ID"]


def test_without_an_smtp_url_the_mail_goes_to_the_log(
    session: Session, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    person(session, "mod@example.org", sites=(site,))
    with caplog.at_level(logging.INFO, logger="moderation.services"):
        quiet = notifications.notifier_from_config(
            {"SMTP_URL": None, "SECRET_KEY": SECRET, "PUBLIC_URL": PUBLIC}
        )
        assert "MODERATION_SMTP_URL is not set" in caplog.text
        factories.submit(session, site, TOXIC, author="Troll")
        runner = make_worker(session, Clock(), None)
        runner.notifier = quiet
        runner.run(once=True)
    assert "mail not sent (no MODERATION_SMTP_URL): to mod@example.org" in caplog.text
    assert TOXIC in caplog.text and "Approve: " in caplog.text
    row = session.scalars(select(MailMessage)).one()
    assert row.status == DeliveryStatus.DELIVERED


def test_a_burst_of_500_held_comments_makes_one_digest_per_digest_moderator(
    session: Session, site: Site
) -> None:
    person(session, "hourly@example.org", sites=(site,), notify=NotifyPreference.HOURLY)
    person(session, "daily@example.org", Role.ADMIN, notify=NotifyPreference.DAILY)
    person(session, "now@example.org", sites=(site,))
    clock = Clock()
    with smtp_server() as server:
        runner = make_worker(session, clock, server.url)
        for i in range(500):
            factories.submit(session, site, f"{TOXIC} {i}", now=clock.now)
        runner.run(once=True)
        assert len(server.to("now@example.org")) == notifications.BURST_LIMIT
        assert server.to("hourly@example.org") == server.to("daily@example.org") == []
        clock.advance(minutes=1)  # the next minute: the immediate moderator's summary
        runner.run(once=True)
        clock.advance(hours=1)  # past the top of the hour: the hourly digest
        runner.run(once=True)
        runner.run(once=True)
        clock.now = clock.now.replace(hour=0, minute=0) + timedelta(days=1)  # midnight
        runner.run(once=True)
    for address in ("hourly@example.org", "daily@example.org"):
        [digest] = server.to(address)
        text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "500 comments held" in text and text.count("Approve: ") == 500
    now_mails = server.to("now@example.org")
    assert len(now_mails) == notifications.BURST_LIMIT + 1
    summary = now_mails[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert summary.count("Approve: ") == 500 - notifications.BURST_LIMIT
