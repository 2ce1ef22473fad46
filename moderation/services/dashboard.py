"""Figures for the moderators' dashboard: queue size over time, decisions per day, score
distributions by status, and how often moderators overturned the model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, cast, func, literal_column, select
from sqlalchemy.orm import Session

from moderation.models import Comment, ModerationAction, Score, Site, Thread
from moderation.scoring import LabelThresholds
from moderation.services import policy
from moderation.services.review import Scope
from moderation.types import Actor, CommentStatus, Rule


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


@dataclass
class Agreement:
    """What the policy would do with a site's stored scores, against what its moderators
    decided: "flagged" is held or hidden by the policy, "hid" is hidden by people."""

    site: str
    flagged_hid: int = 0  # both: the model would hold it, and people hid it
    flagged_approved: int = 0  # false alarm: the model would hold it, people approved it
    passed_hid: int = 0  # missed: the model would let it through, people hid it
    passed_approved: int = 0  # both let it through
    unscored: int = 0  # decided comments without a score (none to compare)

    @property
    def decided(self) -> int:
        return self.flagged_hid + self.flagged_approved + self.passed_hid + self.passed_approved

    @property
    def agree(self) -> int:
        return self.flagged_hid + self.passed_approved

    @property
    def precision(self) -> float | None:
        """Of the comments the model would hold, the share people hid."""
        flagged = self.flagged_hid + self.flagged_approved
        return self.flagged_hid / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        """Of the comments people hid, the share the model would hold."""
        hid = self.flagged_hid + self.passed_hid
        return self.flagged_hid / hid if hid else None


def _policy_flags(decision: policy.Decision) -> bool:
    """Whether the policy would hold or hide the comment by what it says, leaving out
    premoderation: on a premoderated site everything is held, which says nothing."""
    if decision.status == CommentStatus.HIDDEN:
        return True
    passing = (Rule.PREMODERATION, Rule.PASSED_POLICY, Rule.PROFANITY_NOT_AIMED)
    return any(f.rule not in passing for f in decision.fired)


def agreement_by_site(
    session: Session, scope: Scope, scorer_defaults: Mapping[str, LabelThresholds]
) -> list[Agreement]:
    """Per site in ``scope`` with decisions, the site's current policy (thresholds over
    ``scorer_defaults``, banned and suspect words) applied to each decided comment's
    current stored score and text, against its moderators' standing decision: the last
    one not undone. Approved (or kept) is acceptable, hidden is abusive; replies hidden
    with their thread were not judged on their own and do not count. All time, not the
    dashboard's window: these decisions are the site's labels."""
    site_filter = [] if scope.site_ids is None else [Thread.site_id.in_(scope.site_ids)]
    actions = session.execute(
        select(
            ModerationAction.id,
            ModerationAction.detail,
            ModerationAction.comment_id,
            ModerationAction.to_status,
        )
        .join(Comment, Comment.id == ModerationAction.comment_id)
        .join(Thread, Thread.id == Comment.thread_id)
        .where(ModerationAction.actor == Actor.MODERATOR, *site_filter)
        .order_by(ModerationAction.created_at, ModerationAction.id)
    ).all()
    standing = _standing_decisions([(a.id, a.detail) for a in actions])
    people: dict[int, CommentStatus] = {}
    for action in actions:
        if action.id not in standing or "under" in (action.detail or {}):
            continue
        if action.to_status in (CommentStatus.VISIBLE, CommentStatus.HIDDEN):
            people[action.comment_id] = action.to_status  # the last standing one wins

    results: dict[int, Agreement] = {}
    sites: dict[int, Site] = {}
    rows = session.execute(
        select(Comment.id, Comment.body, Thread.site_id, Score.labels)
        .join(Thread, Thread.id == Comment.thread_id)
        .outerjoin(Score, and_(Score.comment_id == Comment.id, Score.superseded_at.is_(None)))
        .where(
            Comment.id.in_(
                select(ModerationAction.comment_id).where(ModerationAction.actor == Actor.MODERATOR)
            ),
            *site_filter,
        )
        .order_by(Comment.id)
    ).all()
    for comment_id, body, site_id, labels in rows:
        decided = people.get(comment_id)
        if decided is None:
            continue
        if site_id not in sites:
            sites[site_id] = session.get_one(Site, site_id)
            results[site_id] = Agreement(sites[site_id].slug)
        tally = results[site_id]
        if not labels:
            tally.unscored += 1
            continue
        flagged = _policy_flags(policy.decide(sites[site_id], body, labels, scorer_defaults))
        hid = decided == CommentStatus.HIDDEN
        if flagged and hid:
            tally.flagged_hid += 1
        elif flagged:
            tally.flagged_approved += 1
        elif hid:
            tally.passed_hid += 1
        else:
            tally.passed_approved += 1
    return sorted(results.values(), key=lambda a: a.site)
