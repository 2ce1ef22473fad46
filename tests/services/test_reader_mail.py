"""Readers' reply mail end to end: comments opted in with ``notify_replies``, the real
worker fanning the outbox out and sending through a real SMTP server (aiosmtpd) on
127.0.0.1: one confirmation (double opt-in), then one mail per visible reply to a
confirmed author; none for held, hidden or one's own replies; none after unsubscribing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Comment, OutboxEvent, ReaderMail, ReplySubscription, Site
from moderation.services import mail, notifications, outbox, reader_mail, review, worker
from moderation.types import CommentStatus, DeliveryStatus, ReaderMailKind, utcnow
from tests import factories
from tests.conftest import make_site
from tests.smtp_server import SmtpCollector, smtp_server

SECRET = "test-secret"
PUBLIC = "https://comments.example"
TOXIC = "fuck you idiot"
ANN = "Ann@Example.org"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Reader:
    """The worker and the SMTP server a test runs against, and what they sent."""

    def __init__(self, session: Session, server: SmtpCollector) -> None:
        self.session = session
        self.server = server
        self.clock = Clock()
        notifier = notifications.Notifier(
            mail.Mailer(mail.parse_smtp_url(server.url), "comments@example.org"), SECRET, PUBLIC
        )
        self.worker = worker.Worker(
            session, get_scorer(), batch_size=16, lease_seconds=60, poll_seconds=0,
            max_attempts=3, worker_id="w1", clock=self.clock, notifier=notifier,
        )  # fmt: skip

    def run(self) -> None:
        self.worker.run(once=True)

    def post(
        self,
        site: Site,
        body: str,
        email: str | None,
        *,
        notify: bool = False,
        parent: Comment | None = None,
        thread: str = "post-1",
        author: str = "Ann",
    ) -> Comment:
        """A comment posted as the API posts it, then scored and dispatched by the worker."""
        comment = factories.submit(
            self.session, site, body, thread=thread, parent=parent, author=author,
            author_email=email, notify_replies=notify, thread_title="Tomatoes on a balcony",
            thread_url="https://blog.example/tomatoes", now=self.clock.now,
        )  # fmt: skip
        self.run()
        self.session.refresh(comment)
        return comment

    def confirm(self, message: EmailMessage) -> None:
        token = link(message, "Confirm").rsplit("/", 1)[1]
        reader_mail.confirm(self.session, SECRET, token, self.clock.now)
        self.session.commit()


def text_of(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def html_of(message: EmailMessage) -> str:
    return str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]


def link(message: EmailMessage, label: str) -> str:
    found = re.search(rf"^{label}[^:\n]*: +(\S+)\s*$", text_of(message), re.MULTILINE)
    assert found, text_of(message)
    return found.group(1)


def assert_unsubscribe_headers(message: EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    assert re.fullmatch(rf"<{PUBLIC}/replies/unsubscribe/[\w.-]+>", header), header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    assert url in text_of(message) and url in html_of(message)
    return url


@pytest.fixture
def reader(session: Session) -> Iterator[Reader]:
    with smtp_server() as server:
        yield Reader(session, server)


def confirmed_author(reader: Reader, site: Site, email: str = ANN) -> Comment:
    """Ann's comment, opted in, her address confirmed; the confirmation mail consumed."""
    comment = reader.post(site, "Mine grow on a west balcony.", email, notify=True)
    [confirmation] = reader.server.to(email)
    reader.confirm(confirmation)
    reader.server.messages.clear()
    return comment


def test_opting_in_mails_one_confirmation_and_opting_in_again_does_not_spam(
    reader: Reader, session: Session, site: Site
) -> None:
    reader.post(site, "First!", ANN, notify=True)
    [message] = reader.server.messages
    assert message["To"] == ANN
    assert "Confirm" in message["Subject"] and site.name in message["Subject"]
    assert message.get_content_type() == "multipart/alternative"
    confirm_url = link(message, "Confirm")
    assert confirm_url.startswith(f"{PUBLIC}/replies/confirm/")
    assert confirm_url in html_of(message)
    assert "Tomatoes on a balcony" in text_of(message)
    assert_unsubscribe_headers(message)

    # Again before confirming, on another thread and with the address in another case:
    # still one subscription, and no second mail within a day.
    reader.clock.advance(hours=23)
    reader.post(site, "Second!", ANN.lower(), notify=True, thread="post-2")
    assert len(reader.server.messages) == 1
    assert session.scalar(select(func.count()).select_from(ReplySubscription)) == 1

    # A day later a new opt-in sends a new mail, whose link replaces the first one's.
    reader.clock.advance(hours=2)
    reader.post(site, "Third!", ANN, notify=True, thread="post-3")
    assert len(reader.server.messages) == 2
    old_token = confirm_url.rsplit("/", 1)[1]
    with pytest.raises(reader_mail.LinkRefused, match="newer confirmation"):
        reader_mail.confirm(session, SECRET, old_token, reader.clock.now)
    reader.confirm(reader.server.messages[1])
    subscription = session.scalars(select(ReplySubscription)).one()
    assert subscription.confirmed_at == reader.clock.now

    # Confirmed: opting in on more comments sends nothing more.
    reader.post(site, "Fourth!", ANN, notify=True, thread="post-4")
    assert len(reader.server.messages) == 2


def test_a_visible_reply_mails_the_confirmed_parent_author_exactly_once(
    reader: Reader, session: Session, site: Site
) -> None:
    parent = confirmed_author(reader, site)
    reply = reader.post(site, "Which **varieties** did you try?", "bob@example.org",
                        parent=parent, author="Bob")  # fmt: skip
    assert reply.status == CommentStatus.VISIBLE
    [message] = reader.server.messages
    assert message["To"] == ANN
    assert "Bob replied" in message["Subject"] and "Tomatoes on a balcony" in message["Subject"]
    text, html = text_of(message), html_of(message)
    assert "Which **varieties** did you try?" in text and reply.body_html in html
    assert "Mine grow on a west balcony." in text  # the comment it answers
    comment_url = f"https://blog.example/tomatoes#comment-{reply.id}"
    assert link(message, "Read it") == comment_url and comment_url in html
    unsubscribe_url = assert_unsubscribe_headers(message)
    assert urlsplit(unsubscribe_url).netloc == "comments.example"  # MODERATION_PUBLIC_URL

    # Hidden by a moderator, then restored: comment.restored, but the reply was told of.
    factories.decided(session, reply, review.Action.HIDE)
    factories.decided(session, reply, review.Action.RESTORE)
    reader.run()
    reader.run()
    assert len(reader.server.messages) == 1
    rows = session.scalars(select(ReaderMail).where(ReaderMail.kind == ReaderMailKind.REPLY)).all()
    assert [(r.comment_id, r.status) for r in rows] == [(reply.id, DeliveryStatus.DELIVERED)]
    undispatched = select(func.count()).where(OutboxEvent.published_at.is_(None))
    assert session.scalar(undispatched) == 0  # comment.restored went through, told no one


def test_a_held_reply_mails_only_once_a_moderator_approves_it(
    reader: Reader, session: Session, site: Site
) -> None:
    parent = confirmed_author(reader, site)
    reply = reader.post(site, TOXIC, "troll@example.org", parent=parent, author="Troll")
    assert reply.status == CommentStatus.HELD
    reader.run()
    assert reader.server.to(ANN) == []
    factories.decided(session, reply, review.Action.APPROVE)
    reader.run()
    [message] = reader.server.to(ANN)
    assert TOXIC in text_of(message)
    reader.run()
    assert len(reader.server.to(ANN)) == 1


def test_a_hidden_reply_never_mails(reader: Reader, session: Session) -> None:
    site = make_site(session, "strict", banned_words=["casino"])
    parent = confirmed_author(reader, site)
    reply = reader.post(site, "Best casino bonus here", "spam@example.org", parent=parent)
    assert reply.status == CommentStatus.HIDDEN
    reader.run()
    assert reader.server.messages == []
    assert session.scalar(select(func.count()).select_from(ReaderMail)) == 1  # the confirmation


def test_a_reply_hidden_before_its_mail_goes_out_is_not_mailed(
    reader: Reader, session: Session, site: Site
) -> None:
    parent = confirmed_author(reader, site)
    reply = factories.submit(session, site, "Nice", parent=parent, thread="post-1", author="Bob")
    factories.scored(session, reply, {"toxicity": 0.01}, reader.clock.now)
    assert reply.status == CommentStatus.VISIBLE
    # The worker has not dispatched comment.published yet when a moderator hides it.
    factories.decided(session, reply, review.Action.HIDE)
    reader.run()
    assert reader.server.messages == []


def test_a_reply_by_the_author_themself_does_not_mail(
    reader: Reader, session: Session, site: Site
) -> None:
    parent = confirmed_author(reader, site)
    reader.post(site, "Update: they ripened!", "  ann@EXAMPLE.org ", parent=parent)
    reader.post(site, "No email, so not Ann", None, parent=parent, author="Cy")
    assert [m["To"] for m in reader.server.messages] == [ANN]  # Cy's reply only
    assert "Cy replied" in reader.server.messages[0]["Subject"]


def test_an_unconfirmed_author_gets_no_reply_mail_not_even_after_confirming(
    reader: Reader, session: Session, site: Site
) -> None:
    parent = reader.post(site, "Mine grow on a west balcony.", ANN, notify=True)
    [confirmation] = reader.server.messages
    reader.post(site, "Early reply", "bob@example.org", parent=parent, author="Bob")
    assert reader.server.messages == [confirmation]
    reader.confirm(confirmation)
    reader.run()
    assert reader.server.messages == [confirmation]  # replies before confirming stay untold
    reader.post(site, "Later reply", "bob@example.org", parent=parent, author="Bob")
    assert len(reader.server.to(ANN)) == 2 and "Later reply" in text_of(reader.server.messages[1])


def test_a_comment_not_opted_in_gets_no_reply_mail(
    reader: Reader, session: Session, site: Site
) -> None:
    confirmed_author(reader, site)
    quiet = reader.post(site, "Just saying", ANN, notify=False, thread="post-2")
    reader.post(site, "Reply", "bob@example.org", parent=quiet, author="Bob", thread="post-2")
    assert reader.server.messages == []


def test_a_comment_the_policy_hides_sends_no_confirmation(reader: Reader, session: Session) -> None:
    site = make_site(session, "strict", banned_words=["casino"])
    reader.post(site, "Best casino bonus here", "victim@example.org", notify=True)
    assert reader.server.messages == []
    assert session.scalar(select(func.count()).select_from(ReplySubscription)) == 0


def test_a_comment_hidden_before_its_confirmation_goes_out_sends_none(
    reader: Reader, session: Session, site: Site
) -> None:
    comment = factories.submit(session, site, "Buy now", author_email=ANN, notify_replies=True)
    factories.scored(session, comment, {"toxicity": 0.01}, reader.clock.now)
    outbox.dispatch(session, reader.clock.now)  # the confirmation is queued ...
    session.commit()
    factories.decided(session, comment, review.Action.HIDE)  # ... a moderator hides it
    reader.run()
    assert reader.server.messages == []
    assert session.scalars(select(ReaderMail)).one().status == DeliveryStatus.DELIVERED


def test_after_unsubscribing_an_address_gets_no_mail_at_all(
    reader: Reader, session: Session, site: Site
) -> None:
    parent = confirmed_author(reader, site)
    reader.post(site, "Reply one", "bob@example.org", parent=parent, author="Bob")
    [message] = reader.server.messages
    token = str(message["List-Unsubscribe"]).rsplit("/", 1)[1].rstrip(">")
    # A second reply's mail is queued (dispatched, not sent), then she unsubscribes.
    queued = factories.submit(session, site, "Reply two", parent=parent, thread="post-1")
    factories.scored(session, queued, {"toxicity": 0.01}, reader.clock.now)
    outbox.dispatch(session, reader.clock.now)
    session.commit()
    assert session.scalar(select(func.count()).select_from(ReaderMail)) == 3
    reader_mail.unsubscribe(session, SECRET, token, reader.clock.now)
    session.commit()
    reader.run()
    reader.post(site, "Reply three", "dee@example.org", parent=parent, author="Dee")
    reader.post(site, "Opting in again", ANN, notify=True, thread="post-9")
    reader.clock.advance(days=2)
    reader.post(site, "And again", ANN, notify=True, thread="post-10")
    assert reader.server.messages == [message]


def test_an_address_is_one_subscription_per_site(reader: Reader, session: Session) -> None:
    blog, news = make_site(session, "blog"), make_site(session, "news")
    confirmed_author(reader, blog)
    reader.post(news, "Hello news", ANN, notify=True)
    [message] = reader.server.messages
    assert "Confirm" in message["Subject"] and "News" in message["Subject"]
