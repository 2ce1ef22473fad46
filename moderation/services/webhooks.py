"""Webhooks: a site's comment events, delivered to other systems as signed JSON POSTs.

The lifecycle writes each event to the outbox in the transaction of its change. From
there, in the workers:

1. ``outbox.dispatch`` takes undispatched outbox events, oldest first (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL), and ``fan_out`` writes one WebhookDelivery for each webhook of
   the event's site that wants its type, with the exact JSON body it will send, in the
   transaction that marks the event dispatched: an event is fanned out exactly once.
2. ``deliver_due`` claims due deliveries with a lease (as the scorer claims comments),
   commits the claim, POSTs them, and records each result. 2xx is delivered; anything
   else, or no answer within the timeout, is retried with exponential backoff until the
   retry window (24 h) has passed, then the delivery is dead. A worker that dies between
   sending and recording leaves the claim to expire and the delivery is sent again: a
   duplicate with the same ``X-Moderation-Delivery`` id, never a loss.

Receivers check ``X-Moderation-Signature: sha256=HEX``, the HMAC-SHA256 with the
webhook's secret of ``TIMESTAMP.DELIVERY.BODY``, where TIMESTAMP is
``X-Moderation-Timestamp`` (Unix seconds; reject old ones to stop replays) and DELIVERY
``X-Moderation-Delivery``, as Stripe and GitHub sign theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.models import OutboxEvent, Score, Site, Webhook, WebhookDelivery
from moderation.services import deliveries, outbound
from moderation.services.deliveries import RETRY_WINDOW as RETRY_WINDOW
from moderation.services.deliveries import DeliveryResult as DeliveryResult
from moderation.services.deliveries import Outcome as Outcome
from moderation.services.errors import Invalid, NotFound
from moderation.services.sites import get_site
from moderation.types import DeliveryStatus, EventType, iso_utc

USER_AGENT = "comment-moderation-webhooks/1"


# ---------------------------------------------------------------- managing webhooks


def check_url(url: str, allow_private: bool) -> str:
    """The URL if a webhook may be sent there: http(s) only, and, unless
    ``allow_private``, a host that resolves to none but public addresses, so that a
    webhook cannot be pointed at the service's own network. Raises Invalid."""
    return outbound.resolve(url, allow_private).url


def check_events(events: Iterable[str]) -> list[str]:
    """The event types, each known; Invalid names the unknown ones."""
    wanted = [e.strip() for e in events if e.strip()]
    known = {e.value for e in EventType}
    unknown = [e for e in wanted if e not in known]
    if unknown or not wanted:
        raise Invalid(
            f"unknown event types: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            if unknown
            else "name at least one event type",
            field="events",
        )
    return list(dict.fromkeys(wanted))


def add_webhook(
    session: Session,
    site_slug: str,
    url: str,
    events: Iterable[str],
    now: datetime,
    *,
    secret: str | None = None,
    allow_private: bool = False,
) -> Webhook:
    """A new webhook of the site; its secret is generated unless given."""
    site = get_site(session, site_slug)
    wanted = check_events(events)  # before the URL: its check may wait on DNS
    webhook = Webhook(
        site=site,
        url=check_url(url, allow_private),
        events=wanted,
        secret=secret or "whsec_" + secrets.token_urlsafe(32),
        active=True,
        created_at=now,
    )
    session.add(webhook)
    session.flush()
    return webhook


def get_webhook(session: Session, webhook_id: int) -> Webhook:
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"no webhook {webhook_id}")
    return webhook


def list_webhooks(session: Session, site_slug: str | None = None) -> list[Webhook]:
    query = select(Webhook).order_by(Webhook.id)
    if site_slug is not None:
        query = query.where(Webhook.site_id == get_site(session, site_slug).id)
    return list(session.scalars(query))


def remove_webhook(session: Session, webhook_id: int) -> None:
    """Delete the webhook and its deliveries (pending ones are not sent)."""
    session.delete(get_webhook(session, webhook_id))
    session.flush()


def delivery_counts(session: Session, webhook_id: int) -> dict[DeliveryStatus, int]:
    """How many of the webhook's deliveries are pending, delivered and dead."""
    counts = dict(
        session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.webhook_id == webhook_id)
            .group_by(WebhookDelivery.status)
        ).all()
    )
    return {status: counts.get(status, 0) for status in DeliveryStatus}


def recent_deliveries(session: Session, webhook_id: int, limit: int = 100) -> list[WebhookDelivery]:
    """The webhook's delivery log, newest first."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


# ---------------------------------------------------------------- from the outbox


def _comment_data(event: OutboxEvent, current: Score | None) -> dict[str, Any]:
    """The comment as the event saw it (the lifecycle's snapshot, taken in the change's
    own transaction: a later edit does not show through), with what the change was."""
    payload = dict(event.payload)
    data = dict(payload.pop("comment", None) or {"id": payload.get("comment_id")})
    for key in ("status", "from_status", "version", "actor", "rule", "reason"):
        data[key] = payload.get(key)
    scores = payload.get("scores")
    if scores is None and current is not None and current.created_at <= event.created_at:
        scores = current.labels  # the score that stood when the event happened
    data["scores"] = scores
    if "flag_reason" in payload:
        data["flag_reason"] = payload["flag_reason"]
    return data


def event_body(event: OutboxEvent, site: Site, current: Score | None) -> str:
    """The JSON a webhook receives for ``event`` (``current``: the comment's current
    score, for events that carry none of their own)."""
    return json.dumps(
        {
            "id": event.id,
            "type": event.type.value,
            "created_at": iso_utc(event.created_at),
            "site": site.slug,
            "data": _comment_data(event, current),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def fan_out(session: Session, events: Sequence[OutboxEvent], now: datetime) -> int:
    """Write one WebhookDelivery for each webhook of each event's site that wants its
    type, with the exact body it will send (``outbox.dispatch`` calls this in the
    transaction that marks the events dispatched). Returns how many it wrote."""
    written = 0
    site_ids = {e.site_id for e in events if e.site_id is not None}
    hooks: dict[int, list[Webhook]] = {}
    for hook in session.scalars(
        select(Webhook).where(Webhook.site_id.in_(site_ids), Webhook.active.is_(True))
    ):
        hooks.setdefault(hook.site_id, []).append(hook)
    wanted = [
        (event, [h for h in hooks.get(event.site_id or -1, []) if event.type.value in h.events])
        for event in events
    ]
    # The current scores for every body of the batch, in one query.
    comment_ids = {e.comment_id for e, hooks_of in wanted if hooks_of and e.comment_id}
    scores = {
        s.comment_id: s
        for s in session.scalars(
            select(Score).where(Score.comment_id.in_(comment_ids), Score.superseded_at.is_(None))
        )
    }
    for event, wanting in wanted:
        if wanting:
            body = event_body(event, wanting[0].site, scores.get(event.comment_id or -1))
            for hook in wanting:
                session.add(
                    WebhookDelivery(
                        webhook_id=hook.id,
                        event_id=event.id,
                        delivery_key=str(uuid.uuid4()),
                        body=body,
                        status=DeliveryStatus.PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                written += 1
    return written


# ---------------------------------------------------------------- sending


def sign(secret: str, timestamp: int, delivery: str, body: str) -> str:
    """The ``X-Moderation-Signature`` value for ``body`` sent at ``timestamp`` as
    ``delivery``: the id is signed too, so a replay cannot pass as a new delivery."""
    signed = f"{timestamp}.{delivery}.{body}".encode()
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


Sender = Callable[[outbound.Target, dict[str, str], str], Outcome]
post = outbound.post


def claim_deliveries(
    session: Session, worker_id: str, batch_size: int, lease_seconds: float, now: datetime
) -> list[WebhookDelivery]:
    """Claim up to ``batch_size`` due deliveries for ``lease_seconds`` (see
    ``deliveries.claim_due``). The caller commits the claim before sending."""
    return deliveries.claim_due(session, WebhookDelivery, worker_id, batch_size, lease_seconds, now)


@dataclass(frozen=True)
class Send:
    """What sending one claimed delivery needs, read before the claim commits: the sends
    run in other threads, where the ORM objects cannot load anything."""

    delivery_id: int
    delivery_key: str
    body: str
    url: str
    secret: str
    event_type: str

    def headers(self, now: float) -> dict[str, str]:
        timestamp = int(now)
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Moderation-Event": self.event_type,
            "X-Moderation-Delivery": self.delivery_key,
            "X-Moderation-Timestamp": str(timestamp),
            "X-Moderation-Signature": sign(self.secret, timestamp, self.delivery_key, self.body),
        }


def prepare(claimed: Sequence[WebhookDelivery]) -> list[Send]:
    """The sends of these claimed deliveries."""
    return [
        Send(d.id, d.delivery_key, d.body, d.webhook.url, d.webhook.secret, d.event.type.value)
        for d in claimed
    ]


def record(session: Session, delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> bool:
    """Record an attempt, only while this claim still holds the delivery. Returns whether
    it was recorded (a late result after the lease passed to another worker is not)."""
    return deliveries.record_attempt(session, WebhookDelivery, delivery, outcome, now)


def send_claimed(
    sends: Sequence[Send],
    sender: Sender = post,
    allow_private: bool = False,
    concurrency: int = 8,
) -> list[Outcome]:
    """POST each claimed delivery, several at once: one slow receiver does not hold up
    the others. Each URL is resolved and checked once per batch (its host may resolve
    elsewhere now than when the webhook was added) and the POST goes to the address
    checked. Whatever goes wrong with one delivery is its failed outcome, never the
    batch's."""
    checked: dict[str, outbound.Target | Outcome] = {}
    for send in sends:
        if send.url not in checked:
            try:
                checked[send.url] = outbound.resolve(send.url, allow_private)
            except Invalid as error:
                checked[send.url] = Outcome(False, None, f"refused: {error.message}", 0.0)

    def one(send: Send) -> Outcome:
        target = checked[send.url]
        if isinstance(target, Outcome):
            return target
        try:
            return sender(target, send.headers(time.time()), send.body)
        except Exception as exc:  # a bug or an odd receiver: this delivery fails, alone
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500], 0.0)

    if len(sends) <= 1:
        return [one(send) for send in sends]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(sends))) as pool:
        return list(pool.map(one, sends))


def deliver_due(
    session: Session,
    worker_id: str,
    clock: Callable[[], datetime],
    *,
    batch_size: int = 32,
    lease_seconds: float = 60,
    allow_private: bool = False,
    sender: Sender = post,
) -> DeliveryResult:
    """Claim due deliveries, commit the claim, send them, record and commit the results."""
    claimed = claim_deliveries(session, worker_id, batch_size, lease_seconds, clock())
    sends = prepare(claimed)
    session.commit()
    if not claimed:
        return DeliveryResult()
    outcomes = send_claimed(sends, sender, allow_private)
    result = deliveries.record_all(session, WebhookDelivery, claimed, outcomes, clock())
    session.commit()
    return result


def send_test(
    session: Session, webhook_id: int, allow_private: bool, sender: Sender = post
) -> Outcome:
    """Send a ``ping`` to the webhook now, signed like a real event (nothing recorded).
    Raises Invalid when its URL may not be used now."""
    webhook = get_webhook(session, webhook_id)
    target = outbound.resolve(webhook.url, allow_private)
    body = json.dumps(
        {"id": None, "type": "ping", "site": webhook.site.slug, "data": {"webhook": webhook.id}},
        separators=(",", ":"),
    )
    timestamp = int(time.time())
    delivery = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Moderation-Event": "ping",
        "X-Moderation-Delivery": delivery,
        "X-Moderation-Timestamp": str(timestamp),
        "X-Moderation-Signature": sign(webhook.secret, timestamp, delivery, body),
    }
    return sender(target, headers, body)
