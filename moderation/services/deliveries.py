"""At-least-once delivery of outgoing rows (webhook deliveries, moderators' mails): the
parts that are the same whatever is sent.

A row has ``status`` (DeliveryStatus), ``attempts``, ``next_attempt_at``, ``claimed_by``,
``claimed_until``, ``response_status``, ``error``, ``duration_ms``, ``created_at``,
``last_attempt_at`` and ``delivered_at``. A worker claims due rows with a lease and
commits the claim before sending; recording an attempt is a conditional UPDATE that holds
only while the claim is still its own. A worker that dies between sending and recording
leaves the claim to expire and the row is sent again: a duplicate, never a loss."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from moderation.types import DeliveryStatus

RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)  # then 1, 2, 4 … minutes, at most an hour apart
LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None  # HTTP status, SMTP reply code
    error: str | None
    duration_ms: float


@dataclass
class DeliveryResult:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s, 1, 2, 4 … min, ≤ 1 h."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


def claim_due(
    session: Session,
    model: Any,
    worker_id: str,
    batch_size: int,
    lease_seconds: float,
    now: datetime,
) -> list[Any]:
    """Claim up to ``batch_size`` due rows of ``model`` for ``lease_seconds``. The caller
    commits the claim before sending, so a worker that dies sending leaves them to expire."""
    token = f"{worker_id}/{uuid.uuid4().hex[:8]}"
    due = (
        model.status == DeliveryStatus.PENDING,
        model.next_attempt_at <= now,
        or_(model.claimed_until.is_(None), model.claimed_until < now),
    )
    # Two statements, as in worker.claim_batch: the row locks of FOR UPDATE SKIP LOCKED
    # last until the claim commits; on SQLite the conditional UPDATE keeps claims apart.
    ids = session.scalars(
        select(model.id)
        .where(*due)
        .order_by(model.next_attempt_at, model.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not ids:
        return []
    session.execute(
        update(model)
        .where(model.id.in_(ids), *due)
        .values(claimed_by=token, claimed_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(model)
            .where(model.claimed_by == token)
            .order_by(model.id)
            .execution_options(populate_existing=True)
        )
    )


def record_attempt(session: Session, model: Any, row: Any, outcome: Outcome, now: datetime) -> bool:
    """Record an attempt on ``row``, only while this claim still holds it. Returns whether
    it was recorded (a late result after the lease passed to another worker is not)."""
    attempts = row.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "claimed_by": None,
        "claimed_until": None,
        "response_status": outcome.status,
        "error": outcome.error,
        "duration_ms": outcome.duration_ms,
        "last_attempt_at": now,
    }
    if outcome.delivered:
        values.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    elif now - row.created_at >= RETRY_WINDOW:
        values.update(status=DeliveryStatus.DEAD)
    else:
        values.update(next_attempt_at=now + backoff(attempts))
    result = session.execute(
        update(model)
        .where(
            model.id == row.id,
            model.claimed_by == row.claimed_by,
            model.status == DeliveryStatus.PENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def record_all(
    session: Session, model: Any, rows: Sequence[Any], outcomes: Sequence[Outcome], now: datetime
) -> DeliveryResult:
    """Record each row's attempt (``record_attempt``); counts what this claim recorded."""
    result = DeliveryResult(claimed=len(rows))
    for row, outcome in zip(rows, outcomes, strict=True):
        if record_attempt(session, model, row, outcome, now):
            if outcome.delivered:
                result.delivered += 1
            else:
                result.failed += 1
    return result
