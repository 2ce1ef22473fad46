"""Re-scoring stored comments with the current model (after a model upgrade, say)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from moderation.models import Comment, Score, Site, Thread
from moderation.scoring import Scorer
from moderation.services import lifecycle
from moderation.types import CommentStatus

RESCORABLE = (CommentStatus.VISIBLE, CommentStatus.HELD, CommentStatus.HIDDEN)


@dataclass
class RescoreResult:
    scored: int = 0
    changed: int = 0
    skipped: int = 0


def rescore_query(
    scorer: Scorer,
    *,
    site_slug: str | None = None,
    since: datetime | None = None,
    statuses: Sequence[CommentStatus] = RESCORABLE,
) -> Select[int]:
    """Ids of the comments still to re-score, oldest first: those matching the filters
    whose current score is not from ``scorer``'s version. Because finished comments drop
    out, an interrupted run resumes where it stopped. Pending comments are the worker's."""
    already = exists().where(
        Score.comment_id == Comment.id,
        Score.superseded_at.is_(None),
        Score.scorer_version == scorer.version,
    )
    query = (
        select(Comment.id)
        .where(Comment.status.in_([s for s in statuses if s != CommentStatus.PENDING]), ~already)
        .order_by(Comment.id)
    )
    if site_slug is not None:
        query = query.join(Thread, Thread.id == Comment.thread_id).join(
            Site, and_(Site.id == Thread.site_id, Site.slug == site_slug)
        )
    if since is not None:
        query = query.where(Comment.created_at >= since)
    return query


def count_to_rescore(session: Session, query: Select[int]) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def rescore_batch(
    session: Session, scorer: Scorer, comment_ids: Sequence[int], now: datetime
) -> RescoreResult:
    """Score these comments again; the new Score supersedes the current one. The policy is
    re-applied only where no person decided (``lifecycle.rescore``)."""
    comments = session.scalars(
        select(Comment).where(Comment.id.in_(comment_ids)).order_by(Comment.id)
    ).all()
    result = RescoreResult()
    if not comments:
        return result
    started = time.perf_counter()
    all_scores = scorer.score([c.body for c in comments])
    per_comment_ms = (time.perf_counter() - started) * 1000 / len(comments)
    for comment, scores in zip(comments, all_scores, strict=True):
        changed = lifecycle.rescore(session, comment, scores, scorer, per_comment_ms, now)
        if changed is None:
            result.skipped += 1  # changed while it was scored: the next run takes it
            continue
        result.scored += 1
        result.changed += changed
    session.flush()
    return result
