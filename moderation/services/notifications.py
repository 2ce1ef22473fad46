"""Mail to moderators about held comments.

``fan_out`` (called by ``outbox.dispatch`` in the transaction that marks the events
dispatched) turns each event that leaves a comment held (``comment.held`` from the policy,
readers' reports or failed scoring; a comment posted or edited straight into ``held``)
into, for every active moderator of the comment's site (admins: every site) by their
preference (``Moderator.notify``):

- immediate: one MailMessage, unless that moderator already got BURST_LIMIT mails in the
  last BURST_WINDOW: then a MailItem that waits for a summary at the next minute;
- hourly / daily: a MailItem that waits for the digest at the next full hour / midnight UTC;
- off: nothing.

``collect_digests`` turns each moderator's waiting items from before their period's start
into one MailMessage: at most one digest per moderator per period, however many comments
were held. ``deliver_due`` sends due messages with the claim, lease and backoff of
``deliveries`` (at least once; a crash between sending and recording sends it again, with
the same Message-ID). A message is rendered when it is sent, from the comments as they are
then: one decided in the meantime is shown as decided, without links."""

from __future__ import annotations

import functools
import gettext
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from moderation.models import (
    Comment,
    MailItem,
    MailMessage,
    ModerationAction,
    Moderator,
    OutboxEvent,
    Thread,
)
from moderation.services import decision_links, deliveries
from moderation.services.deliveries import DeliveryResult, Outcome
from moderation.services.mail import Mailer, mailer_from_config
from moderation.types import (
    Actor,
    CommentStatus,
    DeliveryStatus,
    EventType,
    MailKind,
    NotifyPreference,
    Role,
)

log = logging.getLogger(__name__)

BURST_LIMIT = 10  # immediate mails to one moderator within BURST_WINDOW; then a summary
BURST_WINDOW = timedelta(minutes=1)


def _mail_environment(translations: gettext.NullTranslations) -> Environment:
    """The mail templates, their ``{% trans %}`` and ``_()`` speaking ``translations``."""
    environment = Environment(
        loader=PackageLoader("moderation", "templates/mail"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    return environment


mail_templates = _mail_environment(gettext.NullTranslations())  # English: moderators' mail


@functools.cache
def _mail_templates(translations: gettext.NullTranslations) -> Environment:
    """One environment per catalogue (readers' mail, reader_mail.py): installing a
    catalogue sets the environment's globals, so a shared one would race between threads."""
    return _mail_environment(translations)


@dataclass(frozen=True)
class Notifier:
    """What sending needs from the app: the mailer, the key that signs the decision links
    (the app's SECRET_KEY) and the service's public address the links start with."""

    mailer: Mailer
    secret: str
    public_url: str


def notifier_from_config(config: Mapping[str, Any]) -> Notifier:
    """The worker's Notifier from the app's settings (SMTP_*, MAIL_FROM, SECRET_KEY,
    PUBLIC_URL); says, once for the worker, when mail goes to the log instead."""
    mailer = mailer_from_config(config)
    if mailer.server is None:
        log.warning(
            "MODERATION_SMTP_URL is not set: mail (moderators' and readers') is written to "
            "this log, not sent"
        )
    else:
        log.info("mail goes through %r as %s", mailer.server, mailer.sender)
    return Notifier(mailer, str(config["SECRET_KEY"]), str(config["PUBLIC_URL"]))


# ---------------------------------------------------------------- from the outbox


def _tells(event: OutboxEvent) -> bool:
    """Whether ``event`` leaves a comment held that moderators should hear of: not a
    moderator's own undo."""
    if event.comment_id is None or event.site_id is None:
        return False
    if event.payload.get("status") != CommentStatus.HELD.value:
        return False
    if event.type == EventType.HELD:
        return bool(event.payload.get("actor") != Actor.MODERATOR.value)
    return event.type in (EventType.CREATED, EventType.EDITED)


def _recipients(session: Session, site_ids: set[int]) -> dict[int, list[Moderator]]:
    """Site id → its active moderators who want mail (admins are on every site)."""
    people = session.scalars(
        select(Moderator)
        .where(Moderator.active.is_(True), Moderator.notify != NotifyPreference.OFF)
        .options(selectinload(Moderator.sites))
        .order_by(Moderator.id)
    ).all()
    return {
        site_id: [
            m for m in people if m.role == Role.ADMIN or any(s.id == site_id for s in m.sites)
        ]
        for site_id in site_ids
    }


def _new_message(
    moderator_id: int, kind: MailKind, comment_ids: list[int], now: datetime
) -> MailMessage:
    return MailMessage(
        moderator_id=moderator_id,
        kind=kind,
        comment_ids=comment_ids,
        message_key=str(uuid.uuid4()),
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def fan_out(session: Session, events: Sequence[OutboxEvent], now: datetime) -> int:
    """Write the mails (or digest items) the held comments among ``events`` call for.
    Returns how many rows it wrote. The caller marks the events dispatched and commits."""
    told = [e for e in events if _tells(e)]
    if not told:
        return 0
    by_site = _recipients(session, {e.site_id for e in told if e.site_id is not None})
    immediate = {m.id for people in by_site.values() for m in people
                 if m.notify == NotifyPreference.IMMEDIATE}  # fmt: skip
    recent: dict[int, int] = {}
    if immediate:
        recent = {
            moderator_id: int(count)
            for moderator_id, count in session.execute(
                select(MailMessage.moderator_id, func.count())
                .where(
                    MailMessage.moderator_id.in_(immediate),
                    MailMessage.kind.in_([MailKind.IMMEDIATE, MailKind.SUMMARY]),
                    MailMessage.created_at > now - BURST_WINDOW,
                )
                .group_by(MailMessage.moderator_id)
            )
        }
    written = 0
    for event in told:
        if event.site_id is None or event.comment_id is None:
            continue  # _tells says they are not
        for person in by_site.get(event.site_id, []):
            if (
                person.notify == NotifyPreference.IMMEDIATE
                and recent.get(person.id, 0) < BURST_LIMIT
            ):
                session.add(_new_message(person.id, MailKind.IMMEDIATE, [event.comment_id], now))
                recent[person.id] = recent.get(person.id, 0) + 1
            else:
                session.add(MailItem(moderator_id=person.id, comment_id=event.comment_id,
                                     created_at=now))  # fmt: skip
            written += 1
    return written


def period_start(preference: NotifyPreference, now: datetime) -> datetime:
    """The start of the period ``now`` is in: waiting items from before it are due. An
    immediate moderator's overflow waits for the next minute."""
    if preference == NotifyPreference.DAILY:
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if preference == NotifyPreference.HOURLY:
        return now.replace(minute=0, second=0, microsecond=0)
    return now.replace(second=0, microsecond=0)


def collect_digests(session: Session, now: datetime) -> int:
    """Gather each moderator's due waiting items into one digest (or burst summary).
    Items of moderators now off or deactivated are dropped. Returns how many messages it
    wrote. The caller commits."""
    waiting = session.execute(
        select(MailItem.id, MailItem.moderator_id, MailItem.comment_id, MailItem.created_at)
        .where(MailItem.message_id.is_(None))
        .order_by(MailItem.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not waiting:
        return 0
    people = {
        m.id: m
        for m in session.scalars(
            select(Moderator).where(Moderator.id.in_({row.moderator_id for row in waiting}))
        )
    }
    dropped: list[int] = []
    due: dict[int, list[tuple[int, int]]] = {}
    for row in waiting:
        person = people.get(row.moderator_id)
        if person is None or not person.active or person.notify == NotifyPreference.OFF:
            dropped.append(row.id)
        elif row.created_at < period_start(person.notify, now):
            due.setdefault(person.id, []).append((row.id, row.comment_id))
    if dropped:
        session.execute(delete(MailItem).where(MailItem.id.in_(dropped)))
    for moderator_id, items in due.items():
        kind = (
            MailKind.SUMMARY
            if people[moderator_id].notify == NotifyPreference.IMMEDIATE
            else MailKind.DIGEST
        )
        message = _new_message(moderator_id, kind, list(dict.fromkeys(c for _, c in items)), now)
        session.add(message)
        session.flush()
        session.execute(
            update(MailItem)
            .where(MailItem.id.in_([i for i, _ in items]))
            .values(message_id=message.id)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return len(due)


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Entry:
    """One comment as a mail shows it."""

    id: int
    site: str
    author: str
    body: str
    body_html: str
    thread_title: str
    thread_url: str | None
    reason: str
    status: str
    flag_count: int
    review_url: str
    approve_url: str | None  # None once the comment is no longer held
    hide_url: str | None


def _entries(
    session: Session, comment_ids: list[int], notifier: Notifier, now: datetime
) -> list[Entry]:
    comments = {
        c.id: c
        for c in session.scalars(
            select(Comment)
            .where(Comment.id.in_(comment_ids))
            .options(selectinload(Comment.thread).selectinload(Thread.site))
        )
    }
    reasons: dict[int, str] = {}
    for action in session.scalars(
        select(ModerationAction)
        .where(
            ModerationAction.comment_id.in_(comment_ids),
            ModerationAction.to_status == CommentStatus.HELD,
        )
        .order_by(ModerationAction.id)
    ):
        reasons[action.comment_id] = action.reason  # the latest hold's
    base = notifier.public_url.rstrip("/")
    entries = []
    for comment_id in comment_ids:
        comment = comments.get(comment_id)
        if comment is None:  # gone (its site deleted)
            continue
        review_url = f"{base}/moderation/comments/{comment.id}"

        def link(action: str, comment: Comment = comment, review_url: str = review_url) -> str:
            token = decision_links.sign(
                notifier.secret,
                decision_links.DecisionLink(comment.id, comment.version, action),
                now,
            )
            return f"{review_url}?decision={token}"

        held = comment.status == CommentStatus.HELD
        url = comment.thread.url or ""
        entries.append(
            Entry(
                id=comment.id,
                site=comment.thread.site.slug,
                author=comment.author_name,
                body=comment.body,
                body_html=comment.body_html,
                thread_title=comment.thread.title or comment.thread.key,
                thread_url=url if url.lower().startswith(("https://", "http://")) else None,
                reason=reasons.get(comment.id, "held for review"),
                status=comment.status.value,
                flag_count=comment.flag_count,
                review_url=review_url,
                approve_url=link("approve") if held else None,
                hide_url=link("hide") if held else None,
            )
        )
    return entries


def _subject(kind: MailKind, entries: list[Entry]) -> str:
    if kind == MailKind.IMMEDIATE:
        entry = entries[0]
        return f"[{entry.site}] Held for review: {entry.author} on “{entry.thread_title}”"
    count = f"{len(entries)} comment{'' if len(entries) == 1 else 's'}"
    if kind == MailKind.SUMMARY:
        return f"[moderation] {count} more held for review"
    return f"[moderation] Digest: {count} held for review"


def render(
    session: Session, message: MailMessage, notifier: Notifier, now: datetime
) -> EmailMessage | None:
    """The mail ``message`` stands for, as of ``now``: multipart text and HTML from the
    templates in moderation/templates/mail. None when none of its comments exists any more."""
    entries = _entries(session, list(message.comment_ids), notifier, now)
    if not entries:
        return None
    recipient = session.get(Moderator, message.moderator_id)
    if recipient is None:
        return None
    context = {
        "kind": message.kind.value,
        "entries": entries,
        "held": [e for e in entries if e.approve_url],
        "queue_url": f"{notifier.public_url.rstrip('/')}/moderation/",
        "notifications_url": f"{notifier.public_url.rstrip('/')}/moderation/notifications",
        "preference": recipient.notify.value,
        "burst_limit": BURST_LIMIT,
    }
    return compose(notifier, recipient.email, _subject(message.kind, entries),
                   message.message_key, now, "held", context)  # fmt: skip


def compose(
    notifier: Notifier,
    to: str,
    subject: str,
    message_key: str,
    now: datetime,
    template: str,
    context: dict[str, Any],
    headers: dict[str, str] | None = None,
    translations: gettext.NullTranslations | None = None,
) -> EmailMessage:
    """A mail of the service: text and HTML from ``template`` (``.txt``/``.html``), a
    Message-ID from ``message_key`` (the same on every retry, so a resent mail is the
    same mail), marked auto-generated. The subject goes on one line: names and titles in
    it are what people typed, and a line break would make the header invalid.
    ``translations``: the catalogue the templates' marked texts are read from (English
    without one); the caller translates the subject."""
    mail = EmailMessage()
    mail["Subject"] = " ".join(subject.split())
    mail["From"] = notifier.mailer.sender
    mail["To"] = to
    mail["Date"] = format_datetime(now)
    domain = notifier.mailer.sender.rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<{message_key}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        mail[name] = value
    templates = mail_templates if translations is None else _mail_templates(translations)
    mail.set_content(templates.get_template(f"{template}.txt").render(context))
    mail.add_alternative(templates.get_template(f"{template}.html").render(context),
                         subtype="html")  # fmt: skip
    return mail


# ---------------------------------------------------------------- sending


def deliver_due(
    session: Session,
    worker_id: str,
    clock: Callable[[], datetime],
    notifier: Notifier,
    *,
    batch_size: int = 32,
    lease_seconds: float = 60,
) -> DeliveryResult:
    """Claim due messages, commit the claim, render and send them, record and commit the
    results. When the server cannot be reached at all, the rest of the batch is not tried
    (each waits for its next attempt), so a dead server cannot outlast the lease."""
    return send_due(
        session,
        MailMessage,
        render,
        worker_id,
        clock,
        notifier,
        batch_size=batch_size,
        lease_seconds=lease_seconds,
    )


def send_due(
    session: Session,
    model: Any,
    render_one: Callable[[Session, Any, Notifier, datetime], EmailMessage | None],
    worker_id: str,
    clock: Callable[[], datetime],
    notifier: Notifier,
    *,
    batch_size: int = 32,
    lease_seconds: float = 60,
) -> DeliveryResult:
    """``deliver_due`` for any table of mails (``model``: moderators' or readers'), each
    rendered by ``render_one`` when it is sent; None from it means nothing is left to tell
    (the row is done without a mail)."""
    claimed = deliveries.claim_due(session, model, worker_id, batch_size, lease_seconds, clock())
    session.commit()
    if not claimed:
        return DeliveryResult()
    outcomes: list[Outcome] = []
    unreachable: Outcome | None = None
    for message in claimed:
        if unreachable is not None:
            outcomes.append(unreachable)
            continue
        try:
            mail = render_one(session, message, notifier, clock())
        except Exception as exc:  # a template error must not strand the batch
            log.exception("rendering mail %s failed", message.id)
            outcomes.append(Outcome(False, None, f"rendering failed: {exc!r}"[:500], 0.0))
            continue
        if mail is None:
            outcomes.append(Outcome(True, None, "nothing left to tell", 0.0))
            continue
        outcome = notifier.mailer.send(mail)
        outcomes.append(outcome)
        if not outcome.delivered and outcome.status is None:
            unreachable = outcome
    result = deliveries.record_all(session, model, claimed, outcomes, clock())
    session.commit()
    return result


def set_preference(session: Session, moderator: Moderator, preference: NotifyPreference) -> bool:
    """Set how ``moderator`` hears of held comments. Returns whether it changed. Items
    waiting for a digest go into the next one the new preference sends (none for off)."""
    if moderator.notify == preference:
        return False
    moderator.notify = preference
    session.flush()
    return True
