"""Mail to readers about replies to their comments, with double opt-in.

A commenter who gives an email and ticks "email me when someone replies" posts a comment
with ``notify_replies``. Their address is kept once per site (ReplySubscription), for
this and nothing else, and is never shown.

``fan_out`` (called by ``outbox.dispatch`` in the transaction that marks the events
dispatched) writes ReaderMail rows:

- a confirmation, when an opted-in comment is first seen scored and not hidden (a
  comment the policy hides, spam say, never makes the service mail the address it
  gives) and its address has no confirmed subscription: at most one per address and
  site every RESEND_AFTER, so opting in again before confirming sends nothing more;
  nothing at all to an address that unsubscribed;
- a reply mail, when a reply becomes visible (``comment.published``: scored visible,
  or approved from held; ``comment.restored``: hidden, then restored) and its parent's
  author opted in on the parent, is confirmed and not unsubscribed, and is not the
  replier (the same address, whatever its case). One per (reply, recipient), whatever
  happens to the reply later. Replies that became visible before the address was
  confirmed are not mailed, then or later.

``deliver_due`` sends them with the claim, lease and backoff of ``deliveries``, each
rendered when sent: a reply hidden meanwhile, or an address unsubscribed meanwhile,
gets no mail. Every mail carries the one-click unsubscribe headers of RFC 8058.

Mails speak the reader's language: the one they read the widget in when they last opted
in on the site (``Comment.reader_language``, from the API request's Accept-Language),
with the server's catalogues (moderation/translations, the ones moderation/i18n.py gives
Flask-Babel) read here through Babel itself, as services never import Flask."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from babel.support import NullTranslations, Translations
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from moderation.models import Comment, OutboxEvent, ReaderMail, ReplySubscription, Thread
from moderation.services import authors, reader_links
from moderation.services.deliveries import DeliveryResult
from moderation.services.notifications import Notifier, compose, send_due
from moderation.services.transactions import savepoint
from moderation.types import CommentStatus, DeliveryStatus, EventType, ReaderMailKind

RESEND_AFTER = timedelta(hours=24)  # at most one confirmation mail per address and site
CONFIRMS_FROM = frozenset({CommentStatus.VISIBLE.value, CommentStatus.HELD.value})
REPLY_EVENTS = frozenset({EventType.PUBLISHED, EventType.RESTORED})
CATALOGUES = Path(__file__).resolve().parents[1] / "translations"


def email_key(address: str) -> str:
    """What makes two addresses one reader: the address trimmed and lower-cased."""
    return address.strip().lower()


# ---------------------------------------------------------------- from the outbox


def _new_mail(
    subscription: ReplySubscription, kind: ReaderMailKind, comment_id: int, now: datetime
) -> ReaderMail:
    return ReaderMail(
        subscription=subscription,
        kind=kind,
        comment_id=comment_id,
        message_key=str(uuid.uuid4()),
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def _write(session: Session, row: ReaderMail) -> bool:
    """Add ``row`` unless its (subscription, kind, comment) is written already. Checked
    first; the unique constraint settles two workers dispatching two events of one reply
    at once (hidden and restored, say): the loser writes nothing, and its batch goes on."""
    if row.subscription.id is not None and _already_written(
        session, row.subscription, row.kind, row.comment_id
    ):
        return False
    try:
        with savepoint(session):
            session.add(row)
    except IntegrityError:
        return False
    return True


def _subscription(session: Session, site_id: int, address: str, now: datetime) -> ReplySubscription:
    """The subscription of ``address`` on the site, created on its first opt-in."""
    query = select(ReplySubscription).where(
        ReplySubscription.site_id == site_id, ReplySubscription.email_key == email_key(address)
    )
    found = session.scalar(query)
    if found is not None:
        return found
    # Two workers may dispatch two first opt-ins of one address at once: the loser of
    # the race on (site, address) takes the winner's row.
    try:
        with savepoint(session):
            found = ReplySubscription(
                site_id=site_id,
                email=address.strip(),
                email_key=email_key(address),
                confirm_round=0,
                created_at=now,
            )
            session.add(found)
    except IntegrityError:
        found = session.scalars(query.execution_options(populate_existing=True)).one()
    return found


def _already_written(
    session: Session, subscription: ReplySubscription, kind: ReaderMailKind, comment_id: int
) -> bool:
    return (
        session.scalar(
            select(ReaderMail.id).where(
                ReaderMail.subscription_id == subscription.id,
                ReaderMail.kind == kind,
                ReaderMail.comment_id == comment_id,
            )
        )
        is not None
    )


def _ask_to_confirm(session: Session, comment: Comment, address: str, now: datetime) -> bool:
    subscription = _subscription(session, comment.thread.site_id, address, now)
    if subscription.confirmed_at is not None or subscription.unsubscribed_at is not None:
        return False
    sent = subscription.confirm_sent_at
    if sent is not None and now - sent < RESEND_AFTER:
        return False
    if not _write(session, _new_mail(subscription, ReaderMailKind.CONFIRM, comment.id, now)):
        return False
    subscription.confirm_round += 1
    subscription.confirm_sent_at = now
    return True


def _tell_parent(session: Session, reply: Comment, now: datetime) -> bool:
    parent = reply.parent
    if (
        reply.status != CommentStatus.VISIBLE  # hidden again before this dispatch
        or parent is None
        or parent.status == CommentStatus.HIDDEN
        or not parent.notify_replies
        or not parent.author_email
    ):
        return False
    if reply.author_email and email_key(reply.author_email) == email_key(parent.author_email):
        return False  # one's own reply
    subscription = session.scalar(
        select(ReplySubscription).where(
            ReplySubscription.site_id == reply.thread.site_id,
            ReplySubscription.email_key == email_key(parent.author_email),
        )
    )
    if (
        subscription is None
        or subscription.confirmed_at is None
        or subscription.unsubscribed_at is not None
    ):
        return False
    return _write(session, _new_mail(subscription, ReaderMailKind.REPLY, reply.id, now))


def fan_out(session: Session, events: Sequence[OutboxEvent], now: datetime) -> int:
    """Write the confirmation and reply mails ``events`` call for. Returns how many it
    wrote. The caller marks the events dispatched and commits."""
    confirming = {
        e.comment_id
        for e in events
        if e.comment_id is not None and e.payload.get("status") in CONFIRMS_FROM
    }
    replies = {
        e.comment_id
        for e in events
        if e.comment_id is not None and e.type in REPLY_EVENTS and e.payload.get("parent_id")
    }
    if not confirming and not replies:
        return 0
    comments = {
        c.id: c
        for c in session.scalars(
            select(Comment)
            .where(
                Comment.id.in_(confirming | replies),
                # Of the rest, only the few that opted in need a look.
                or_(Comment.id.in_(replies), Comment.notify_replies.is_(True)),
            )
            .options(selectinload(Comment.thread), selectinload(Comment.parent))
        )
    }
    written = 0
    for comment_id in sorted(confirming):
        comment = comments.get(comment_id)
        if (
            comment is not None
            and comment.notify_replies
            and comment.author_email
            and comment.status != CommentStatus.HIDDEN
        ):
            written += _ask_to_confirm(session, comment, comment.author_email, now)
    for comment_id in sorted(replies):
        comment = comments.get(comment_id)
        if comment is not None:
            written += _tell_parent(session, comment, now)
    session.flush()
    return written


# ---------------------------------------------------------------- the links


class LinkRefused(Exception):
    """A confirm or unsubscribe link that does nothing: ``status`` is the HTTP status
    the page answers with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class LinkState:
    """What a followed link shows: the site it is about, and whether there is anything
    left to do (``done``: confirmed or unsubscribed already)."""

    subscription: ReplySubscription
    site_name: str
    done: bool


def _confirming(session: Session, secret: str, token: str, now: datetime) -> LinkState:
    try:
        link = reader_links.read_confirm(secret, token, now)
    except reader_links.LinkExpired:
        raise LinkRefused(
            "This link has expired (they last 7 days). Post a comment with the box ticked "
            "again to get a new one.",
            410,
        ) from None
    except reader_links.LinkInvalid:
        raise LinkRefused("This link is not valid.", 400) from None
    subscription = session.get(ReplySubscription, link.subscription_id)
    if subscription is None:
        raise LinkRefused("This link is not valid.", 400)
    if subscription.unsubscribed_at is not None:
        raise LinkRefused("This address unsubscribed: it gets no more mail from this site.", 409)
    if subscription.confirmed_at is None and link.round != subscription.confirm_round:
        raise LinkRefused("A newer confirmation mail replaced this one: use its link.", 409)
    return LinkState(subscription, subscription.site.name, subscription.confirmed_at is not None)


def confirm_state(session: Session, secret: str, token: str, now: datetime) -> LinkState:
    """What the confirm link ``token`` would do, changing nothing (its GET page: mail
    scanners follow links). Raises LinkRefused for a link that does nothing."""
    return _confirming(session, secret, token, now)


def confirm(session: Session, secret: str, token: str, now: datetime) -> LinkState:
    """Confirm the address the link names: replies to its opted-in comments are mailed
    from now on. Confirming twice is the same as once. Raises LinkRefused."""
    state = _confirming(session, secret, token, now)
    if not state.done:
        state.subscription.confirmed_at = now
        session.flush()
    return state


def _unsubscribing(session: Session, secret: str, token: str) -> LinkState:
    try:
        subscription_id = reader_links.read_unsubscribe(secret, token)
    except reader_links.LinkInvalid:
        raise LinkRefused("This link is not valid.", 400) from None
    subscription = session.get(ReplySubscription, subscription_id)
    if subscription is None:
        raise LinkRefused("This link is not valid.", 400)
    return LinkState(subscription, subscription.site.name, subscription.unsubscribed_at is not None)


def unsubscribe_state(session: Session, secret: str, token: str) -> LinkState:
    """What the unsubscribe link ``token`` would do, changing nothing. Raises LinkRefused."""
    return _unsubscribing(session, secret, token)


def unsubscribe(session: Session, secret: str, token: str, now: datetime) -> LinkState:
    """Unsubscribe the address the link names: no mail of any kind goes to it on this
    site any more, queued ones included. Twice is the same as once. Raises LinkRefused."""
    state = _unsubscribing(session, secret, token)
    if not state.done:
        state.subscription.unsubscribed_at = now
        session.flush()
    return state


# ---------------------------------------------------------------- rendering


def _urls(notifier: Notifier, subscription: ReplySubscription) -> tuple[str, str]:
    base = notifier.public_url.rstrip("/")
    token = reader_links.sign_unsubscribe(notifier.secret, subscription.id)
    return base, f"{base}/replies/unsubscribe/{token}"


def _thread_url(thread: Thread) -> str | None:
    url = thread.url or ""
    return url if url.lower().startswith(("https://", "http://")) else None


def reader_language(session: Session, subscription: ReplySubscription) -> str | None:
    """The language of the address's latest opted-in comment on the site that is not
    hidden (a reader who posts in French after German gets French from then on); None
    (English) when it had none."""
    return session.scalar(
        select(Comment.reader_language)
        .join(Thread, Comment.thread_id == Thread.id)
        .where(
            Comment.author_key == authors.author_key(subscription.email, None),
            Thread.site_id == subscription.site_id,
            Comment.notify_replies.is_(True),
            Comment.status != CommentStatus.HIDDEN,
        )
        .order_by(Comment.id.desc())
        .limit(1)
    )


@functools.cache
def translations(language: str) -> NullTranslations:
    """The catalogue of ``language``; for English or a language without one, none (the
    texts as written)."""
    return Translations.load(str(CATALOGUES), [language])


def render(
    session: Session, mail: ReaderMail, notifier: Notifier, now: datetime
) -> EmailMessage | None:
    """The mail ``mail`` stands for, as of ``now``, multipart text and HTML from the
    templates; None when there is nothing left to tell: the address unsubscribed (or, for
    a confirmation, confirmed already or its comment hidden since), or the reply is no
    longer visible."""
    subscription = mail.subscription
    if subscription.unsubscribed_at is not None:
        return None
    comment = mail.comment
    thread = comment.thread
    base, unsubscribe_url = _urls(notifier, subscription)
    language = reader_language(session, subscription) or "en"
    catalogue = translations(language)
    gettext = catalogue.gettext
    context: dict[str, object] = {
        "lang": language if isinstance(catalogue, Translations) else "en",
        "site": thread.site.name,
        "thread_title": thread.title or thread.key,
        "thread_url": _thread_url(thread),
        "unsubscribe_url": unsubscribe_url,
    }
    if mail.kind == ReaderMailKind.CONFIRM:
        if (
            subscription.confirmed_at is not None
            or subscription.confirm_sent_at is None
            or comment.status == CommentStatus.HIDDEN  # hidden since: as if never asked
        ):
            return None
        token = reader_links.sign_confirm(
            notifier.secret,
            reader_links.ConfirmLink(subscription.id, subscription.confirm_round),
            subscription.confirm_sent_at,
        )
        context["confirm_url"] = f"{base}/replies/confirm/{token}"
        subject = gettext("[%(site)s] Confirm: email me when someone replies") % {
            "site": thread.site.name
        }
        template = "reader_confirm"
    else:
        parent = comment.parent
        if (
            subscription.confirmed_at is None
            or comment.status != CommentStatus.VISIBLE
            or parent is None
            or parent.status == CommentStatus.HIDDEN
        ):
            return None
        thread_url = context["thread_url"]
        context.update(
            replier=comment.author_name,
            body=comment.body,
            body_html=comment.body_html,
            parent_body=parent.body,
            # The widget shows the comment a page's #comment-ID names.
            comment_url=(
                f"{str(thread_url).partition('#')[0]}#comment-{comment.id}" if thread_url else None
            ),
        )
        subject = gettext("[%(site)s] %(replier)s replied to you on “%(thread)s”") % {
            "site": thread.site.name,
            "replier": comment.author_name,
            "thread": context["thread_title"],
        }
        template = "reader_reply"
    # RFC 8058: mail clients offer "unsubscribe" and POST to the link, no page, no sign-in.
    one_click = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return compose(notifier, subscription.email, subject, mail.message_key, now, template,
                   context, one_click, catalogue)  # fmt: skip


def deliver_due(
    session: Session,
    worker_id: str,
    clock: Callable[[], datetime],
    notifier: Notifier,
    *,
    batch_size: int = 32,
    lease_seconds: float = 60,
) -> DeliveryResult:
    """Claim due readers' mails, render and send them, record the results (committing
    the claim and the results, as ``notifications.deliver_due`` does)."""
    return send_due(
        session,
        ReaderMail,
        render,
        worker_id,
        clock,
        notifier,
        batch_size=batch_size,
        lease_seconds=lease_seconds,
    )
