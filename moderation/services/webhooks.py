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
webhook's secret of ``TIMESTAMP.BODY``, where TIMESTAMP is ``X-Moderation-Timestamp``
(Unix seconds; reject old ones to stop replays), as Stripe and GitHub sign theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from moderation.models import Comment, OutboxEvent, Score, Site, Webhook, WebhookDelivery
from moderation.services import deliveries
from moderation.services.deliveries import RETRY_WINDOW as RETRY_WINDOW
from moderation.services.deliveries import DeliveryResult as DeliveryResult
from moderation.services.deliveries import Outcome as Outcome
from moderation.services.errors import Invalid, NotFound
from moderation.services.sites import get_site
from moderation.types import DeliveryStatus, EventType

TIMEOUT_SECONDS = 5.0
USER_AGENT = "comment-moderation-webhooks/1"


# ---------------------------------------------------------------- managing webhooks


def _blocked_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_url(url: str, allow_private: bool) -> str:
    """The URL if a webhook may be sent there: http(s) only, and, unless
    ``allow_private``, a host that resolves to none but public addresses, so that a
    webhook cannot be pointed at the service's own network. Raises Invalid."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("must be an http:// or https:// URL with a host", field="url")
    if parts.username or parts.password:
        raise Invalid("must not carry a user or password", field="url")
    if not allow_private:
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Invalid(f"its host {parts.hostname!r} does not resolve", field="url") from exc
        blocked = sorted({str(info[4][0]) for info in infos if _blocked_address(str(info[4][0]))})
        if blocked:
            raise Invalid(
                f"its host {parts.hostname!r} is a private, loopback or link-local address "
                f"({', '.join(blocked)}); set MODERATION_WEBHOOK_ALLOW_PRIVATE=true to allow it",
                field="url",
            )
    return url.strip()


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


def _comment_data(
    event: OutboxEvent, comment: Comment | None, current: Score | None
) -> dict[str, Any]:
    payload = dict(event.payload)
    if comment is None:  # gone with its site: the event's own record is what is left
        return payload
    return {
        "id": comment.id,
        "parent_id": comment.parent_id,
        "status": payload.get("status"),
        "from_status": payload.get("from_status"),
        "version": payload.get("version"),
        "actor": payload.get("actor"),
        "rule": payload.get("rule"),
        "reason": payload.get("reason"),
        "author_name": comment.author_name,
        "body": comment.body,
        "body_html": comment.body_html,
        "created_at": _iso(comment.created_at),
        "edited_at": _iso(comment.edited_at),
        "scores": payload.get("scores") or (current.labels if current is not None else None),
        "flag_count": comment.flag_count,
        "thread": {
            "key": comment.thread.key,
            "title": comment.thread.title,
            "url": comment.thread.url,
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def event_body(
    event: OutboxEvent, site: Site, comment: Comment | None, current: Score | None
) -> str:
    """The JSON a webhook receives for ``event`` (``comment`` as it is now, with its
    ``current`` score)."""
    return json.dumps(
        {
            "id": event.id,
            "type": event.type.value,
            "created_at": _iso(event.created_at),
            "site": site.slug,
            "data": _comment_data(event, comment, current),
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
    # The comments and their current scores for every body of the batch, in two queries.
    comment_ids = {e.comment_id for e, hooks_of in wanted if hooks_of and e.comment_id}
    by_id = {
        c.id: c
        for c in session.scalars(
            select(Comment).where(Comment.id.in_(comment_ids)).options(selectinload(Comment.thread))
        )
    }
    scores = {
        s.comment_id: s
        for s in session.scalars(
            select(Score).where(Score.comment_id.in_(comment_ids), Score.superseded_at.is_(None))
        )
    }
    for event, wanting in wanted:
        if wanting:
            comment = by_id.get(event.comment_id or -1)
            body = event_body(event, wanting[0].site, comment, scores.get(event.comment_id or -1))
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


def sign(secret: str, timestamp: int, body: str) -> str:
    """The ``X-Moderation-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + digest.hexdigest()


Sender = Callable[[str, dict[str, str], str], Outcome]


def post(url: str, headers: dict[str, str], body: str) -> Outcome:
    """POST ``body`` to ``url``; no redirects (a redirect could lead anywhere)."""
    started = time.perf_counter()
    try:
        response = requests.post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500], elapsed)
    elapsed = (time.perf_counter() - started) * 1000
    ok = 200 <= response.status_code < 300
    error = None if ok else f"answered {response.status_code}"
    return Outcome(ok, response.status_code, error, elapsed)


def claim_deliveries(
    session: Session, worker_id: str, batch_size: int, lease_seconds: float, now: datetime
) -> list[WebhookDelivery]:
    """Claim up to ``batch_size`` due deliveries for ``lease_seconds`` (see
    ``deliveries.claim_due``). The caller commits the claim before sending."""
    return deliveries.claim_due(session, WebhookDelivery, worker_id, batch_size, lease_seconds, now)


def _headers(delivery: WebhookDelivery, event_type: str, secret: str, now: float) -> dict[str, str]:
    timestamp = int(now)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Moderation-Event": event_type,
        "X-Moderation-Delivery": delivery.delivery_key,
        "X-Moderation-Timestamp": str(timestamp),
        "X-Moderation-Signature": sign(secret, timestamp, delivery.body),
    }


def record(session: Session, delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> bool:
    """Record an attempt, only while this claim still holds the delivery. Returns whether
    it was recorded (a late result after the lease passed to another worker is not)."""
    return deliveries.record_attempt(session, WebhookDelivery, delivery, outcome, now)


def send_claimed(
    deliveries: Sequence[WebhookDelivery],
    targets: dict[int, tuple[str, str, str]],
    sender: Sender = post,
    concurrency: int = 8,
) -> list[Outcome]:
    """POST each claimed delivery (``targets``: delivery id → url, secret, event type),
    several at once: one slow receiver does not hold up the others."""

    def one(delivery: WebhookDelivery) -> Outcome:
        url, secret, event_type = targets[delivery.id]
        return sender(url, _headers(delivery, event_type, secret, time.time()), delivery.body)

    if len(deliveries) <= 1:
        return [one(d) for d in deliveries]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(deliveries))) as pool:
        return list(pool.map(one, deliveries))


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
    """Claim due deliveries, commit the claim, send them, record and commit the results.
    Each URL is checked again before sending (its host may resolve elsewhere now)."""
    claimed = claim_deliveries(session, worker_id, batch_size, lease_seconds, clock())
    targets = {d.id: (d.webhook.url, d.webhook.secret, d.event.type.value) for d in claimed}
    session.commit()
    if not claimed:
        return DeliveryResult()
    refused: dict[int, Outcome] = {}
    for delivery in claimed:
        try:
            check_url(targets[delivery.id][0], allow_private)
        except Invalid as error:
            refused[delivery.id] = Outcome(False, None, f"refused: {error.message}", 0.0)
    sendable = [d for d in claimed if d.id not in refused]
    sent = dict(zip((d.id for d in sendable), send_claimed(sendable, targets, sender), strict=True))
    outcomes = [refused.get(d.id) or sent[d.id] for d in claimed]
    result = DeliveryResult(claimed=len(claimed))
    now = clock()
    for delivery, outcome in zip(claimed, outcomes, strict=True):
        if record(session, delivery, outcome, now):
            if outcome.delivered:
                result.delivered += 1
            else:
                result.failed += 1
    session.commit()
    return result


def send_test(session: Session, webhook_id: int, sender: Sender = post) -> Outcome:
    """Send a ``ping`` to the webhook now, signed like a real event (nothing recorded)."""
    webhook = get_webhook(session, webhook_id)
    body = json.dumps(
        {"id": None, "type": "ping", "site": webhook.site.slug, "data": {"webhook": webhook.id}},
        separators=(",", ":"),
    )
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Moderation-Event": "ping",
        "X-Moderation-Delivery": str(uuid.uuid4()),
        "X-Moderation-Timestamp": str(timestamp),
        "X-Moderation-Signature": sign(webhook.secret, timestamp, body),
    }
    return sender(webhook.url, headers, body)
