"""The moderators' work: the review queue, decisions (with an optimistic version check so
two moderators never silently overwrite each other), undo, and the audit log."""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from moderation.models import (
    ActionRule,
    Comment,
    Flag,
    ModerationAction,
    Moderator,
    Score,
    Site,
    Thread,
)
from moderation.scoring import LabelThresholds
from moderation.services import lifecycle, policy
from moderation.services.errors import Conflict, Invalid, NotFound
from moderation.types import Actor, CommentStatus, Rule


class Tab(enum.StrEnum):
    HELD = "held"  # needs review: the default
    REPORTED = "reported"  # visible, with reader reports since the last decision
    PENDING = "pending"  # not scored yet
    HIDDEN = "hidden"
    ALL = "all"


class Order(enum.StrEnum):
    PRIORITY = "priority"  # highest label score, then most reports, then oldest
    NEWEST = "newest"


class Action(enum.StrEnum):
    APPROVE = "approve"  # → visible
    HIDE = "hide"  # → hidden
    HIDE_THREAD = "hide_thread"  # the comment and every reply below it → hidden
    RESTORE = "restore"  # a hidden comment → visible
    KEEP = "keep"  # a reported visible comment stays visible; its reports are dismissed


ACTION_TARGET = {
    Action.APPROVE: CommentStatus.VISIBLE,
    Action.HIDE: CommentStatus.HIDDEN,
    Action.HIDE_THREAD: CommentStatus.HIDDEN,
    Action.RESTORE: CommentStatus.VISIBLE,
    Action.KEEP: CommentStatus.VISIBLE,
}

REASON_FILTERS: dict[str, frozenset[Rule]] = {
    # What a moderator picks → the rules of the system's actions it matches (any rule that
    # fired, not only the strongest). "reports" matches comments with reader reports.
    "toxicity": frozenset({Rule.LABEL_OVER_HOLD, Rule.LABEL_OVER_HIDE}),
    "banned": frozenset({Rule.BANNED_WORD}),
    "suspect": frozenset({Rule.SUSPECT_WORD}),
    "learned from moderators": frozenset({Rule.LEARNED_HOLD}),
    "threat": frozenset({Rule.THREAT}),
    "veiled threat": frozenset({Rule.VEILED_THREAT}),
    "attack on a group": frozenset({Rule.GROUP_ATTACK}),
    "insult aimed at someone": frozenset({Rule.INSULT_AIMED}),
    "profanity aimed at no one": frozenset({Rule.PROFANITY_NOT_AIMED}),
    "premoderation": frozenset({Rule.PREMODERATION}),
    "banned author": frozenset({Rule.AUTHOR_BANNED}),
    "trusted author": frozenset({Rule.AUTHOR_TRUSTED}),
    "reports": frozenset({Rule.READER_REPORTS}),
}


@dataclass(frozen=True)
class Scope:
    """Which sites a moderator may see: ``None`` for admins (all)."""

    site_ids: frozenset[int] | None

    def allows(self, site_id: int) -> bool:
        return self.site_ids is None or site_id in self.site_ids


@dataclass(frozen=True)
class QueueFilter:
    site: str | None = None
    thread: str | None = None
    label: str | None = None  # with min_score: that label's score; without: any label
    min_score: float | None = None
    reason: str | None = None
    search: str | None = None


@dataclass
class QueuePage:
    items: list[Comment]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class AlreadyDecided(Conflict):
    """Someone changed the comment since the moderator loaded it."""

    def __init__(self, comment: Comment, last: ModerationAction | None) -> None:
        who = "the system"
        if last is not None and last.moderator is not None:
            who = last.moderator.email
        elif last is not None and last.actor == Actor.AUTHOR:
            who = "its author"
        super().__init__(
            f"comment {comment.id} was already decided by {who}: it is now {comment.status}"
        )
        self.comment = comment
        self.last_action = last


def _open_reports() -> ColumnElement[bool]:
    """Reports made since the comment's last moderator decision."""
    last = lifecycle.moderator_decided_at(Comment.id)
    return exists().where(
        Flag.comment_id == Comment.id, or_(last.is_(None), Flag.created_at > last)
    )


def _tab_condition(tab: Tab) -> ColumnElement[bool]:
    if tab == Tab.REPORTED:
        return and_(
            Comment.status == CommentStatus.VISIBLE, Comment.flag_count > 0, _open_reports()
        )
    if tab == Tab.ALL:
        return literal(True)
    return Comment.status == CommentStatus(tab.value)


def _base_query(scope: Scope, tab: Tab, filters: QueueFilter) -> Select[Comment]:
    query = select(Comment).where(_tab_condition(tab))
    # Join only when a filter needs it: the unfiltered count of a big queue stays an
    # index-only count.
    if scope.site_ids is not None or filters.site or filters.thread:
        query = query.join(Thread, Thread.id == Comment.thread_id)
        if scope.site_ids is not None:
            query = query.where(Thread.site_id.in_(scope.site_ids))
        if filters.thread:
            query = query.where(Thread.key == filters.thread)
        if filters.site:
            query = query.join(Site, Site.id == Thread.site_id).where(Site.slug == filters.site)
    if filters.min_score is not None:
        if filters.label:
            current = aliased(Score)
            query = query.where(
                exists().where(
                    current.comment_id == Comment.id,
                    current.superseded_at.is_(None),
                    current.labels[filters.label].as_float() >= filters.min_score,
                )
            )
        else:
            query = query.where(Comment.top_score >= filters.min_score)
    if filters.reason:
        if filters.reason not in REASON_FILTERS:
            raise Invalid(f"unknown reason {filters.reason!r}", field="reason")
        if filters.reason == "reports":
            query = query.where(Comment.flag_count > 0)
        else:
            query = query.where(
                exists()
                .where(
                    ModerationAction.comment_id == Comment.id,
                    ActionRule.action_id == ModerationAction.id,
                    ActionRule.rule.in_(REASON_FILTERS[filters.reason]),
                )
                .correlate(Comment)
            )
    if filters.search:
        pattern = f"%{filters.search.strip()}%"
        query = query.where(or_(Comment.body.ilike(pattern), Comment.author_name.ilike(pattern)))
    return query


def queue(
    session: Session,
    scope: Scope,
    tab: Tab = Tab.HELD,
    filters: QueueFilter | None = None,
    order: Order = Order.PRIORITY,
    page: int = 1,
    per_page: int = 25,
) -> QueuePage:
    """One page of the queue ``tab`` for a moderator with ``scope``."""
    filters = filters or QueueFilter()
    query = _base_query(scope, tab, filters)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if order == Order.NEWEST:
        ordered = query.order_by(Comment.created_at.desc(), Comment.id.desc())
    else:
        # Matches ix_comment_queue_priority, so a page is an index range scan. Comments
        # without a score (scoring failed) come first on PostgreSQL and last on SQLite.
        ordered = query.order_by(
            Comment.top_score.desc(),
            Comment.flag_count.desc(),
            Comment.created_at.asc(),
            Comment.id.asc(),
        )
    items = list(
        session.scalars(
            ordered.options(
                selectinload(Comment.thread).selectinload(Thread.site),
                selectinload(Comment.parent),
                selectinload(Comment.scores),
                selectinload(Comment.flags),
                selectinload(Comment.actions).selectinload(ModerationAction.moderator),
            )
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return QueuePage(items=items, total=total, page=page, per_page=per_page)


def counts(session: Session, scope: Scope) -> dict[Tab, int]:
    """How many comments each tab holds for this moderator (all filters off)."""
    result = {}
    for tab in Tab:
        query = _base_query(scope, tab, QueueFilter())
        result[tab] = (
            session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        )
    return result


def get_for_review(session: Session, scope: Scope, comment_id: int) -> Comment:
    """The comment, if this moderator may see it; NotFound otherwise."""
    comment = session.get(Comment, comment_id)
    if comment is None or not scope.allows(comment.thread.site_id):
        raise NotFound(f"no comment {comment_id}")
    return comment


def branch(comment: Comment) -> list[Comment]:
    """The comment's ancestors, top-level first: the conversation it answers."""
    chain: list[Comment] = []
    parent = comment.parent
    while parent is not None:
        chain.append(parent)
        parent = parent.parent
    return list(reversed(chain))


def current_score(comment: Comment) -> Score | None:
    current = [s for s in comment.scores if s.superseded_at is None]
    return current[-1] if current else None


@dataclass(frozen=True)
class ScoreBar:
    """One label's score as the moderator sees it: against that label's hold and hide
    thresholds on the comment's site (``None``: that rule is off)."""

    label: str
    value: float
    hold: float | None
    hide: float | None

    @property
    def band(self) -> str:
        """``hide``, ``hold`` or ``ok``: which threshold the score reaches, as the policy
        compares them (at or above)."""
        if self.hide is not None and self.value >= self.hide:
            return "hide"
        if self.hold is not None and self.value >= self.hold:
            return "hold"
        return "ok"

    @property
    def meter_high(self) -> float:
        """The ``<meter>``'s ``high``: a browser paints a value above it in its worst
        colour, so it sits just below the hide threshold (the policy hides at or above)."""
        return math.nextafter(self.hide, 0.0) if self.hide is not None else 1.0

    @property
    def meter_low(self) -> float:
        """The ``<meter>``'s ``low``: below it, the good colour; from it up to ``high``,
        the middling one. The hold threshold (at most ``high``: hiding comes first)."""
        return min(self.hold if self.hold is not None else 1.0, self.meter_high)


def score_bars(comment: Comment, scorer_defaults: Mapping[str, LabelThresholds]) -> list[ScoreBar]:
    """The comment's current label scores, highest first, each with the effective
    thresholds of its site (the scorer's ``scorer_defaults`` with the site's overrides)."""
    score = current_score(comment)
    if score is None:
        return []
    limits = policy.effective_thresholds(comment.thread.site, scorer_defaults)
    ranked = sorted(score.labels.items(), key=lambda item: item[1], reverse=True)
    return [
        ScoreBar(
            label,
            value,
            limits[label].hold if label in limits else None,
            limits[label].hide if label in limits else None,
        )
        for label, value in ranked
    ]


def _subtree(session: Session, comment: Comment) -> list[Comment]:
    """The comment and every reply below it, at any depth."""
    root = comment.root_id or comment.id
    candidates = session.scalars(
        select(Comment)
        .where(
            Comment.thread_id == comment.thread_id,
            or_(Comment.root_id == root, Comment.id == root),
        )
        .order_by(Comment.id)
    ).all()
    inside = {comment.id}
    found = [comment]
    for candidate in candidates:  # ids ascend, so parents come before their replies
        if candidate.parent_id in inside:
            inside.add(candidate.id)
            found.append(candidate)
    return found


@dataclass
class DecisionResult:
    decision_id: str
    changed: list[Comment]


def decide(
    session: Session,
    moderator: Moderator,
    scope: Scope,
    decisions: Sequence[tuple[int, int]],
    action: Action,
    now: datetime,
    reason: str | None = None,
) -> DecisionResult:
    """Apply ``action`` to each ``(comment_id, version_seen)``. A version that moved on
    since the moderator saw the comment raises AlreadyDecided and changes nothing, so no
    decision overwrites another silently. Returns what changed, grouped for undo."""
    decision_id = uuid.uuid4().hex
    target = ACTION_TARGET[action]
    changed: list[Comment] = []
    for comment_id, version_seen in decisions:
        comment = get_for_review(session, scope, comment_id)
        if comment.version != version_seen:
            last = comment.actions[-1] if comment.actions else None
            raise AlreadyDecided(comment, last)
        if action == Action.RESTORE and comment.status != CommentStatus.HIDDEN:
            raise Invalid(f"comment {comment_id} is not hidden", field="action")
        if target == CommentStatus.VISIBLE and lifecycle.deleted_by_author(comment):
            raise Invalid(f"comment {comment_id} was deleted by its author", field="action")
        if action == Action.KEEP:
            if comment.status != CommentStatus.VISIBLE:
                raise Invalid(
                    f"comment {comment_id} is {comment.status}: only a visible comment is kept",
                    field="action",
                )
            if not lifecycle.keep(
                session,
                comment,
                version_seen,
                moderator_id=moderator.id,
                decision_id=decision_id,
                now=now,
            ):
                raise AlreadyDecided(comment, comment.actions[-1] if comment.actions else None)
            changed.append(comment)
            continue
        group = _subtree(session, comment) if action == Action.HIDE_THREAD else [comment]
        for member in group:
            if member.status == target:
                continue
            detail: dict[str, Any] = {"action": action.value, "note": reason}
            if member is not comment:
                detail["under"] = comment.id
            won = lifecycle.moderate(
                session,
                member,
                version_seen if member is comment else member.version,
                target,
                moderator_id=moderator.id,
                decision_id=decision_id,
                detail=detail,
                now=now,
            )
            if not won:
                raise AlreadyDecided(member, member.actions[-1] if member.actions else None)
            changed.append(member)
    session.flush()
    return DecisionResult(decision_id, changed)


def undo(
    session: Session, moderator: Moderator, scope: Scope, decision_id: str, now: datetime
) -> DecisionResult:
    """Put back what the moderator's decision ``decision_id`` changed, as new actions
    (history is append-only). Refused if anyone changed one of those comments since."""
    actions = session.scalars(
        select(ModerationAction)
        .where(
            ModerationAction.decision_id == decision_id,
            ModerationAction.moderator_id == moderator.id,
        )
        .order_by(ModerationAction.id)
    ).all()
    if not actions:
        raise NotFound(f"no decision {decision_id} of yours to undo")
    if any((a.detail or {}).get("action") == Action.KEEP for a in actions):
        # The reports it dismissed would not come back: a later decision is the way.
        raise Invalid("a Keep cannot be undone; hide the comment if it should go", field="decision")
    for action in actions:
        latest = session.scalar(
            select(func.max(ModerationAction.id)).where(
                ModerationAction.comment_id == action.comment_id
            )
        )
        if latest != action.id:
            comment = action.comment
            raise AlreadyDecided(comment, comment.actions[-1])
    undo_id = uuid.uuid4().hex
    restored: list[Comment] = []
    for action in actions:
        comment = get_for_review(session, scope, action.comment_id)
        previous = action.from_status or CommentStatus.HELD
        won = lifecycle.moderate(
            session,
            comment,
            comment.version,
            previous,
            moderator_id=moderator.id,
            decision_id=undo_id,
            detail={"action": "undo", "undoes": action.reason, "undone_action": action.id},
            now=now,
        )
        if not won:
            raise AlreadyDecided(comment, comment.actions[-1] if comment.actions else None)
        restored.append(comment)
    session.flush()
    return DecisionResult(undo_id, restored)


@dataclass(frozen=True)
class AuditFilter:
    moderator_id: int | None = None
    site: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_log(
    session: Session, scope: Scope, filters: AuditFilter, page: int = 1, per_page: int = 50
) -> tuple[list[ModerationAction], int]:
    """Decisions newest first (people's and the system's), with the total count."""
    query = (
        select(ModerationAction)
        .join(Comment, Comment.id == ModerationAction.comment_id)
        .join(Thread, Thread.id == Comment.thread_id)
        .join(Site, Site.id == Thread.site_id)
    )
    if scope.site_ids is not None:
        query = query.where(Thread.site_id.in_(scope.site_ids))
    if filters.moderator_id is not None:
        query = query.where(ModerationAction.moderator_id == filters.moderator_id)
    if filters.site:
        query = query.where(Site.slug == filters.site)
    if filters.since is not None:
        query = query.where(ModerationAction.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(ModerationAction.created_at < filters.until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(
            selectinload(ModerationAction.comment)
            .selectinload(Comment.thread)
            .selectinload(Thread.site),
            selectinload(ModerationAction.moderator),
        )
        .order_by(ModerationAction.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def scope_of(moderator: Moderator, site_ids: Collection[int] | None = None) -> Scope:
    """Admins see every site; moderators the sites assigned to them."""
    from moderation.types import Role

    if moderator.role == Role.ADMIN:
        return Scope(None)
    return Scope(frozenset(site_ids if site_ids is not None else (s.id for s in moderator.sites)))
