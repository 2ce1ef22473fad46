"""Figures for the moderators' dashboard: queue size over time, decisions per day, score
distributions by status, and how often moderators overturned the model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, literal_column, select
from sqlalchemy.orm import Session

from moderation.models import Comment, ModerationAction, Thread
from moderation.services.review import Scope
from moderation.types import Actor, CommentStatus


@dataclass
class Dashboard:
    queue_size: list[tuple[str, float]]  # (day, held comments at the end of it)
    decisions_per_day: list[tuple[str, dict[str, float]]]  # (day, {approve, hide})
    score_histogram: dict[str, list[int]]  # status -> counts in ten score bins
    held_reviewed: int  # moderator decisions on comments the model held
    held_approved: int  # ... that approved them (the model was too strict)
    visible_hidden: int  # comments the model let through that moderators hid


def _in_scope(scope: Scope):  # type: ignore[no-untyped-def]
    if scope.site_ids is None:
        return []
    return [Comment.thread_id.in_(select(Thread.id).where(Thread.site_id.in_(scope.site_ids)))]


def _is_undo(detail: dict[str, Any] | None) -> bool:
    detail = detail or {}
    return detail.get("action") == "undo" or "undoes" in detail


def _standing_decisions(actions: list[tuple[int, dict[str, Any] | None]]) -> set[int]:
    """The ids of the moderators' ``(id, detail)`` actions that are decisions still in
    force: not undos (``review.undo`` writes ``{"action": "undo", "undone_action": id}``),
    and not undone by an undo that stands itself (an undo may be undone in turn)."""
    undone_by: dict[int, int] = {}
    for action_id, detail in actions:
        undone = (detail or {}).get("undone_action")
        if _is_undo(detail) and undone is not None:
            undone_by[int(undone)] = action_id

    def stands(action_id: int) -> bool:
        undo = undone_by.get(action_id)
        return undo is None or not stands(undo)

    return {
        action_id for action_id, detail in actions if not _is_undo(detail) and stands(action_id)
    }


def dashboard(session: Session, scope: Scope, now: datetime, days: int = 14) -> Dashboard:
    """The dashboard's figures over the last ``days`` days, for this moderator's sites."""
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    day_ends = [start + timedelta(days=d + 1) for d in range(days)]
    label = [(end - timedelta(days=1)).strftime("%m-%d") for end in day_ends]

    held_now = (
        session.scalar(
            select(func.count(Comment.id)).where(
                Comment.status == CommentStatus.HELD, *_in_scope(scope)
            )
        )
        or 0
    )
    actions = session.execute(
        select(
            ModerationAction.created_at,
            ModerationAction.actor,
            ModerationAction.from_status,
            ModerationAction.to_status,
            ModerationAction.comment_id,
            ModerationAction.id,
            ModerationAction.detail,
        )
        .join(Comment, Comment.id == ModerationAction.comment_id)
        .where(ModerationAction.created_at >= start, *_in_scope(scope))
    ).all()
    # The moderators' decisions that stand: an undo is no decision of its own, and a
    # decision that was undone (by an undo that itself stands) no longer counts.
    standing = _standing_decisions([(a[5], a[6]) for a in actions if a[1] == Actor.MODERATOR])

    queue_size = []
    for index, end in enumerate(day_ends):
        entered_after = sum(1 for a in actions if a[0] >= end and a[3] == CommentStatus.HELD)
        left_after = sum(1 for a in actions if a[0] >= end and a[2] == CommentStatus.HELD)
        queue_size.append((label[index], float(held_now - entered_after + left_after)))

    decisions: list[tuple[str, dict[str, float]]] = []
    for index, end in enumerate(day_ends):
        begin = end - timedelta(days=1)
        day = [a for a in actions if a[5] in standing and begin <= a[0] < end]
        decisions.append(
            (
                label[index],
                {
                    "approve": float(sum(1 for a in day if a[3] == CommentStatus.VISIBLE)),
                    "hide": float(sum(1 for a in day if a[3] == CommentStatus.HIDDEN)),
                },
            )
        )

    histogram = {
        s.value: [0] * 10 for s in (CommentStatus.VISIBLE, CommentStatus.HELD, CommentStatus.HIDDEN)
    }
    # One bind for the multiplier, so PostgreSQL sees the grouped expression as the
    # selected one (two renderings of the same cast would be two expressions to it).
    bucket = cast(Comment.top_score * literal_column("10"), Integer).label("bucket")
    rows = session.execute(
        select(Comment.status, bucket, func.count(Comment.id))
        .where(
            Comment.top_score.is_not(None),
            Comment.status != CommentStatus.PENDING,
            *_in_scope(scope),
        )
        .group_by(Comment.status, bucket)
    ).all()
    for status, bin_index, count in rows:
        histogram[status.value][min(int(bin_index), 9)] += count

    # Overturns compare each comment's first standing moderator decision in the window
    # with what the model decided (the system's action out of `pending`), not with the
    # status it had just before: a comment readers reported into review was the model's
    # "visible".
    first_decision: dict[int, CommentStatus] = {}
    for _when, _, _, to_status, comment_id, action_id, _ in sorted(
        actions, key=lambda a: (a[0], a[5])
    ):
        if action_id in standing:
            first_decision.setdefault(comment_id, to_status)
    model_outcome = dict(
        session.execute(
            select(ModerationAction.comment_id, ModerationAction.to_status)
            .where(
                ModerationAction.comment_id.in_(list(first_decision)),
                ModerationAction.actor == Actor.SYSTEM,
                ModerationAction.from_status == CommentStatus.PENDING,
            )
            .order_by(ModerationAction.id)
        ).all()
    )
    reviewed_held = [c for c in first_decision if model_outcome.get(c) == CommentStatus.HELD]
    return Dashboard(
        queue_size=queue_size,
        decisions_per_day=decisions,
        score_histogram=histogram,
        held_reviewed=len(reviewed_held),
        held_approved=sum(1 for c in reviewed_held if first_decision[c] == CommentStatus.VISIBLE),
        visible_hidden=sum(
            1
            for c, decided in first_decision.items()
            if model_outcome.get(c) == CommentStatus.VISIBLE and decided == CommentStatus.HIDDEN
        ),
    )
