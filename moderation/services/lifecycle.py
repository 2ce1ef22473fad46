"""A comment's life: the one place where a comment changes status.

Every change goes through here, whoever makes it (a new submission, the worker's score,
a re-score, readers' reports, a moderator, the author, an import), and each is the same
four things in the caller's transaction:

1. one conditional UPDATE of the comment that bumps its ``version`` and succeeds only
   while the comment is as the caller saw it (and, for the worker, still its claim): of
   two people, or a person and the model, changing a comment at once exactly one wins
   and the others learn it;
2. a ModerationAction saying who and which ``Rule`` fired, with the rule's particulars
   (``detail``) and the reason a moderator reads, rendered from them by ``describe``;
3. the Score, when the change comes from the model: a new current one, superseding the
   previous one (kept, with ``superseded_at``);
4. exactly one OutboxEvent (``EventType``), so notifications and webhooks hear of every
   change that committed, and of none that did not.

It also answers the questions the rest asks about that history: did people decide this
comment (``decided_by_people``), and when did a moderator last decide it.

Nothing here commits: callers commit once, at their boundary (a request, a worker batch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, ScalarSelect, Table, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from moderation.models import (
    ActionRule,
    Comment,
    Flag,
    ImportedComment,
    ModerationAction,
    OutboxEvent,
    Score,
    Thread,
)
from moderation.scoring import Scorer
from moderation.services import authors, learning, policy
from moderation.services.transactions import savepoint
from moderation.types import Actor, CommentStatus, EventType, Rule, StandingKind, iso_utc

POSTED_DESPITE_WARNING = "the author posted despite the pre-posting warning; held for a moderator"

# What a moderator's action reads as when they give no reason of their own.
MODERATOR_WORDS = {
    "approve": "approved",
    "hide": "hidden",
    "hide_thread": "hidden with its replies",
    "restore": "restored",
    "keep": "kept: readers' reports dismissed",
}

_POLICY_RULES = frozenset(
    {
        Rule.BANNED_WORD,
        Rule.LABEL_OVER_HIDE,
        Rule.PREMODERATION,
        Rule.LABEL_OVER_HOLD,
        Rule.LEARNED_HOLD,
        Rule.SUSPECT_WORD,
        Rule.PASSED_POLICY,
        Rule.AUTHOR_BANNED,
        Rule.AUTHOR_TRUSTED,
        Rule.THREAT,
        Rule.VEILED_THREAT,
        Rule.GROUP_ATTACK,
        Rule.INSULT_AIMED,
        Rule.PROFANITY_NOT_AIMED,
    }
)


# ---------------------------------------------------------------- the reason, from data


def _fired_from_detail(item: dict[str, Any]) -> policy.Fired:
    return policy.Fired(
        Rule(item["rule"]),
        label=item.get("label"),
        score=item.get("score"),
        threshold=item.get("threshold"),
        words=tuple(item.get("words", ())),
        scores=tuple(item.get("scores", {}).items()),
    )


def describe(rule: Rule, detail: dict[str, Any] | None) -> str:
    """The reason a moderator reads, from an action's rule and detail."""
    detail = detail or {}
    if rule in _POLICY_RULES:
        text = "; ".join(_fired_from_detail(item).text for item in detail.get("fired", []))
        if detail.get("rescored_with"):
            return f"re-scored with {detail['rescored_with']}: {text}"
        return text
    if rule == Rule.MODERATOR:
        if "undoes" in detail:
            return f"undo: {detail['undoes']}"
        words = detail.get("note") or MODERATOR_WORDS.get(detail.get("action", ""), "decided")
        if detail.get("under") is not None:
            return f"{words} (reply under comment {detail['under']})"
        return str(words)
    if rule == Rule.READER_REPORTS:
        return f"reported by {detail['readers']} readers (site holds at {detail['threshold']})"
    if rule == Rule.POSTED_DESPITE_WARNING:
        return POSTED_DESPITE_WARNING
    if rule == Rule.SCORING_FAILED:
        attempts = detail["attempts"]
        times = "once" if attempts == 1 else f"{attempts} times"
        return f"scoring failed {times} ({detail['error']}); held for a moderator"
    if rule == Rule.AUTHOR_EDIT:
        warned = detail.get("posted_despite_warning")
        return "edited by the author; " + (
            POSTED_DESPITE_WARNING if warned else "to be scored again"
        )
    if rule == Rule.AUTHOR_DELETE:
        return "deleted by the author"
    if rule == Rule.IMPORT:
        source = detail.get("source", "another platform")
        if "as" in detail:
            return f"imported from {source} as {detail['as']}"
        return f"imported from {source}"
    return str(detail.get("text", rule.value))


def _policy_detail(decision: policy.Decision, **extra: Any) -> dict[str, Any]:
    detail = {"fired": [fired.as_detail() for fired in decision.fired], **extra}
    if decision.learned is not None:  # the site's learned calibration decided hold or not
        detail["learned"] = decision.learned
    return detail


# ---------------------------------------------------------------- what people decided


def moderator_decided_at(comment_id: ColumnElement[int] | int | Any) -> ScalarSelect[datetime]:
    """When a moderator last decided the comment (NULL if never), as a scalar subquery.
    Given ``Comment.id`` it is correlated with the enclosing query's comment at any depth
    (say, inside an ``exists()`` over that comment's flags), never a FROM of its own."""
    return (
        select(func.max(ModerationAction.created_at))
        .where(ModerationAction.comment_id == comment_id, ModerationAction.actor == Actor.MODERATOR)
        .correlate(Comment)
        .scalar_subquery()
    )


def last_action(session: Session, comment: Comment) -> ModerationAction | None:
    """The comment's latest status change."""
    return session.scalar(
        select(ModerationAction)
        .where(ModerationAction.comment_id == comment.id)
        .order_by(ModerationAction.id.desc())
        .limit(1)
    )


def decided_by_people(session: Session, comment: Comment) -> Rule | None:
    """Whose decision stands on this comment, if people decided it, else None:

    - ``MODERATOR``: a moderator decided it, ever;
    - ``AUTHOR_DELETE``: its author took it down;
    - ``READER_REPORTS``: readers' reports put it on hold, and it waits for a moderator;
    - ``POSTED_DESPITE_WARNING``: its author posted it despite the warning, and it waits.

    The model never overturns any of these (a re-score only records its score). An author
    may not edit a comment a moderator or readers' reports decided."""
    moderated = session.scalar(
        select(
            exists().where(
                ModerationAction.comment_id == comment.id,
                ModerationAction.actor == Actor.MODERATOR,
            )
        )
    )
    if moderated:
        return Rule.MODERATOR
    last = last_action(session, comment)
    if last is not None and last.to_status == comment.status:
        if comment.status == CommentStatus.HIDDEN and last.rule == Rule.AUTHOR_DELETE:
            return Rule.AUTHOR_DELETE
        if comment.status == CommentStatus.HELD and last.rule == Rule.READER_REPORTS:
            return Rule.READER_REPORTS
    if comment.status == CommentStatus.HELD and comment.acknowledged_warning:
        return Rule.POSTED_DESPITE_WARNING
    return None


def deleted_by_author(comment: Comment) -> bool:
    """Whether the comment is hidden because its author deleted it (its loaded history)."""
    last = comment.actions[-1] if comment.actions else None
    return (
        comment.status == CommentStatus.HIDDEN
        and last is not None
        and last.rule == Rule.AUTHOR_DELETE
    )


# ---------------------------------------------------------------- writing: the parts


def _event_type(from_status: CommentStatus | None, target: CommentStatus, rule: Rule) -> EventType:
    if from_status is None:
        return EventType.CREATED
    if rule == Rule.AUTHOR_EDIT:
        return EventType.EDITED
    if rule == Rule.AUTHOR_DELETE:
        return EventType.DELETED
    if target == CommentStatus.VISIBLE:
        return EventType.RESTORED if from_status == CommentStatus.HIDDEN else EventType.PUBLISHED
    if target == CommentStatus.HELD:
        return EventType.HELD
    if target == CommentStatus.HIDDEN:
        return EventType.HIDDEN
    return EventType.REQUEUED


_PAYLOAD_FIELDS = ("id", "parent_id", "status", "version", "author_name", "body", "body_html",
                   "created_at", "edited_at", "top_score", "flag_count")  # fmt: skip


def _payload(comment: Mapping[str, Any], thread: Thread) -> dict[str, Any]:
    """An event's payload for ``comment`` (its column values) in ``thread``."""
    return {
        "comment_id": comment["id"],
        "site": thread.site.slug,
        "thread": thread.key,
        "parent_id": comment["parent_id"],
        "status": comment["status"].value,
        "version": comment["version"],
        # The comment as it is in this change's transaction: a consumer that reads the
        # event later must not show text that was edited since (and never scored).
        "comment": {
            "id": comment["id"],
            "parent_id": comment["parent_id"],
            "author_name": comment["author_name"],
            "body": comment["body"],
            "body_html": comment["body_html"],
            "created_at": iso_utc(comment["created_at"]),
            "edited_at": iso_utc(comment.get("edited_at")),
            "top_score": comment.get("top_score"),
            "flag_count": comment["flag_count"],
            "thread": {"key": thread.key, "title": thread.title, "url": thread.url},
        },
    }


def _emit(
    session: Session,
    event_type: EventType,
    comment: Comment,
    now: datetime,
    action: ModerationAction | None = None,
    *,
    dispatched: bool = False,
    **extra: Any,
) -> OutboxEvent:
    thread = comment.thread
    payload = _payload({name: getattr(comment, name) for name in _PAYLOAD_FIELDS}, thread)
    if action is not None:
        payload.update(
            from_status=action.from_status.value if action.from_status else None,
            actor=action.actor.value,
            rule=action.rule.value,
            reason=action.reason,
        )
    payload.update(extra)
    event = OutboxEvent(
        type=event_type,
        comment_id=comment.id,
        site_id=thread.site_id,
        action=action,
        payload=payload,
        created_at=now,
        # Written as already handed out: recorded like any change, fanned out to no one.
        published_at=now if dispatched else None,
    )
    session.add(event)
    return event


def _record(
    session: Session,
    comment: Comment,
    from_status: CommentStatus | None,
    *,
    actor: Actor,
    rule: Rule,
    detail: dict[str, Any] | None,
    now: datetime,
    moderator_id: int | None = None,
    decision_id: str | None = None,
    kind: EventType | None = None,
    dispatched: bool = False,
    **extra: Any,
) -> ModerationAction:
    """The ModerationAction (with every rule that fired) and the event of a change that
    already happened to ``comment`` (``kind``, or the one its transition names)."""
    action = ModerationAction(
        comment=comment,
        actor=actor,
        moderator_id=moderator_id,
        from_status=from_status,
        to_status=comment.status,
        rule=rule,
        detail=detail,
        reason=describe(rule, detail),
        decision_id=decision_id,
        created_at=now,
    )
    fired = [Rule(item["rule"]) for item in (detail or {}).get("fired", [])] or [rule]
    action.fired = [ActionRule(position=i, rule=r) for i, r in enumerate(fired)]
    session.add(action)
    kind = kind or _event_type(from_status, comment.status, rule)
    _emit(session, kind, comment, now, action, dispatched=dispatched, **extra)
    return action


def _move(
    session: Session,
    comment: Comment,
    seen_version: int,
    target: CommentStatus,
    *,
    only_if: Sequence[ColumnElement[bool]] = (),
    actor: Actor,
    rule: Rule,
    detail: dict[str, Any] | None,
    now: datetime,
    moderator_id: int | None = None,
    decision_id: str | None = None,
    kind: EventType | None = None,
    event: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Move ``comment`` to ``target`` (setting ``values`` too) only if its version is
    still ``seen_version`` and the ``only_if`` conditions hold, then record it. One
    conditional UPDATE: returns whether this call won. The loaded object is updated in
    place either way (refreshed when it lost)."""
    from_status = comment.status
    values.update(status=target, version=seen_version + 1)
    result = session.execute(
        update(Comment)
        .where(Comment.id == comment.id, Comment.version == seen_version, *only_if)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(comment)
        return False
    for name, value in values.items():
        set_committed_value(comment, name, value)
    _record(
        session,
        comment,
        from_status,
        actor=actor,
        rule=rule,
        detail=detail,
        now=now,
        moderator_id=moderator_id,
        decision_id=decision_id,
        kind=kind,
        **(event or {}),
    )
    return True


def _supersede_score(session: Session, comment_id: int, now: datetime) -> None:
    session.execute(
        update(Score)
        .where(Score.comment_id == comment_id, Score.superseded_at.is_(None))
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )


def new_score(
    comment_id: int, scorer: Scorer, scores: dict[str, float], duration_ms: float, now: datetime
) -> Score:
    """The Score row for one model result, naming the scorer and its exact version."""
    return Score(
        comment_id=comment_id,
        scorer=scorer.name,
        scorer_version=scorer.version,
        labels=scores,
        duration_ms=duration_ms,
        created_at=now,
    )


def _top(scores: dict[str, float]) -> float | None:
    return max(scores.values(), default=None)


# ---------------------------------------------------------------- the transitions


@dataclass(frozen=True)
class Scored:
    """A new comment's model result, computed before it is stored, with the policy's
    decision on it (``decide``): ``create`` stores the comment already decided."""

    scores: dict[str, float]
    scorer: Scorer
    duration_ms: float
    decision: policy.Decision


def decide(
    session: Session,
    comment: Comment,
    scores: dict[str, float],
    scorer: Scorer,
    now: datetime,
    author: StandingKind | None | Literal["look up"] = "look up",
) -> policy.Decision:
    """The site's policy on ``comment`` with these ``scores``; ``author``: its author's
    ban or trust when the caller has it already, else looked up here."""
    if author == "look up":
        author = authors.standing_kind(
            session, comment.thread.site_id, comment.author_key, comment.ip_hash, now
        )
    site = comment.thread.site
    return policy.decide(
        site,
        comment.body,
        scores,
        scorer.default_thresholds,
        author=author,
        learned=learning.live_calibration(session, site, scorer.name),
        rescore=policy.rescorer(scorer),
    )


def create(
    session: Session,
    comment: Comment,
    now: datetime,
    status: CommentStatus,
    *,
    rule: Rule | None = None,
    detail: dict[str, Any] | None = None,
    scored: Scored | None = None,
) -> Comment:
    """Store a new comment (built by the caller) in ``status``: ``pending`` for the
    scorer (no action: nothing was decided yet), or ``held``/``visible``/``hidden`` for
    the ``rule`` that says why (posted despite the warning, an import). Emits
    ``comment.created``.

    With ``scored`` (a pending comment scored before it was stored), the comment is
    stored with the policy's decision at once: the same rows as ``create`` followed by
    ``record_scores`` (its ``comment.created`` event as pending, version 1; the action,
    its event, the score; the comment itself at version 2), written in two flushes
    without the conditional UPDATE, which no one else can race on a comment this
    transaction has not yet committed."""
    if scored is not None and status == CommentStatus.PENDING:
        return _create_decided(session, comment, now, scored)
    comment.status = status
    comment.version = 1
    session.add(comment)
    session.flush()
    if comment.status == CommentStatus.PENDING:
        _emit(session, EventType.CREATED, comment, now)
    else:
        if rule is None:
            raise ValueError("a comment created as anything but pending needs its rule")
        _record(session, comment, None, actor=Actor.SYSTEM, rule=rule, detail=detail, now=now)
    session.flush()
    return comment


def _create_decided(session: Session, comment: Comment, now: datetime, scored: Scored) -> Comment:
    decision = scored.decision
    comment.status = decision.status
    comment.version = 2
    comment.top_score = _top(scored.scores)
    comment.updated_at = now
    # Plain INSERTs, without the ORM's unit of work, which costs more than the statements
    # themselves (README, Performance). The comment's comes back whole (its id, the
    # columns' defaults), and the object joins the session as if it had been loaded.
    table = _table(Comment)
    given = {key: value for key, value in vars(comment).items() if key in table.c}
    if comment.thread.id is None:
        session.flush()  # a new page's thread
    given.update(
        thread_id=comment.thread.id, parent_id=comment.parent.id if comment.parent else None
    )
    # The session's connection, not session.execute: nothing to flush first, and the
    # statements are built once (_INSERTS), their parameters given apart.
    connection = session.connection()
    row = connection.execute(_INSERTS["comment"], given).one()
    loaded = vars(comment)
    for key, value in row._mapping.items():
        # The object has what it was built with; the rest (the id, the foreign keys, the
        # columns' defaults) comes from the row, else reading it later would be a query.
        if key not in loaded:
            setattr(comment, str(key), value)
    make_transient_to_detached(comment)
    session.add(comment)
    thread = comment.thread
    fields = {name: getattr(comment, name) for name in _PAYLOAD_FIELDS}
    detail = _policy_detail(decision)
    reason = describe(decision.rule, detail)
    action_id = connection.execute(
        _INSERTS["moderation_action"],
        {"comment_id": comment.id, "actor": Actor.SYSTEM, "moderator_id": None,
         "from_status": CommentStatus.PENDING, "to_status": decision.status,
         "rule": decision.rule, "detail": detail, "reason": reason, "decision_id": None,
         "created_at": now},
    ).scalar_one()  # fmt: skip
    fired = [Rule(item["rule"]) for item in detail["fired"]] or [decision.rule]
    connection.execute(
        _INSERTS["action_rule"],
        [{"action_id": action_id, "position": i, "rule": rule} for i, rule in enumerate(fired)],
    )
    created = _payload({**fields, "status": CommentStatus.PENDING, "version": 1,
                        "top_score": None}, thread)  # fmt: skip
    decided = _payload(fields, thread)
    decided.update(from_status=CommentStatus.PENDING.value, actor=Actor.SYSTEM.value,
                   rule=decision.rule.value, reason=reason, scores=scored.scores)  # fmt: skip
    event = {"comment_id": comment.id, "site_id": thread.site_id, "created_at": now,
             "published_at": None}  # fmt: skip
    connection.execute(
        _INSERTS["outbox_event"],
        [
            {**event, "type": EventType.CREATED, "action_id": None, "payload": created},
            {**event, "type": _event_type(CommentStatus.PENDING, decision.status, decision.rule),
             "action_id": action_id, "payload": decided},
        ],
    )  # fmt: skip
    connection.execute(
        _INSERTS["score"],
        {"comment_id": comment.id, "scorer": scored.scorer.name,
         "scorer_version": scored.scorer.version, "labels": scored.scores,
         "duration_ms": scored.duration_ms, "created_at": now, "superseded_at": None},
    )  # fmt: skip
    return comment


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


_INSERTS = {
    "comment": insert(_table(Comment)).returning(*_table(Comment).c),
    "moderation_action": insert(_table(ModerationAction)).returning(ModerationAction.id),
    "action_rule": insert(_table(ActionRule)),
    "outbox_event": insert(_table(OutboxEvent)),
    "score": insert(_table(Score)),
}


def import_comments(
    session: Session,
    comments: Sequence[tuple[dict[str, Any], CommentStatus, str]],
    threads: Mapping[int, Thread],
    *,
    source: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Store comments brought from another platform, given as their column values (with
    their original ``created_at``) in ``threads``, each in the status people gave it
    there: ``(values, status, source_status)``. A reply to a comment of the same call
    gives ``parent_index`` (that comment's position, earlier in the list) instead of
    ``parent_id`` and ``root_id``. Returns the stored values, ids included, in order.

    Each gets an ``IMPORT`` action by the system (not a moderator's decision) whose
    detail says "imported as approved/unapproved/spam/trash/deleted", and its
    ``comment.created`` event, recorded already dispatched: a site's history is not
    news, and a ten-year import must not send a mail per held comment or a webhook per
    comment. Written with bulk INSERTs, a few statements for the lot: an import writes
    thousands of comments a second."""
    if not comments:
        return []
    rows = [
        {name: value for name, value in values.items() if name != "parent_index"}
        | {"status": status, "version": 1}
        for values, status, _ in comments
    ]
    for (values, _, _), row in zip(comments, rows, strict=True):
        if values.get("parent_index") is not None:
            row.update(parent_id=None, root_id=None)  # set below, once the parent has an id
    ids = list(
        session.scalars(insert(Comment).returning(Comment.id, sort_by_parameter_order=True), rows)
    )
    # Replies to comments of this call: one INSERT for all, then their parents in one
    # executemany, rather than a round trip per level of replies.
    links = []
    for index, ((values, _, _), row, comment_id) in enumerate(
        zip(comments, rows, ids, strict=True)
    ):
        row["id"] = comment_id
        parent_index = values.get("parent_index")
        if parent_index is not None:
            if not 0 <= parent_index < index:
                raise ValueError("a reply must come after its parent")
            parent = rows[parent_index]
            row.update(parent_id=parent["id"], root_id=parent["root_id"] or parent["id"])
            links.append(
                {"id": comment_id, "parent_id": row["parent_id"], "root_id": row["root_id"]}
            )
    if links:
        session.execute(update(Comment), links)
    details = [{"source": source, "as": source_status} for _, _, source_status in comments]
    action_ids = list(
        session.scalars(
            insert(ModerationAction).returning(ModerationAction.id, sort_by_parameter_order=True),
            [
                {
                    "comment_id": comment_id,
                    "actor": Actor.SYSTEM,
                    "moderator_id": None,
                    "from_status": None,
                    "to_status": row["status"],
                    "rule": Rule.IMPORT,
                    "detail": detail,
                    "reason": describe(Rule.IMPORT, detail),
                    "decision_id": None,
                    "created_at": now,
                }
                for comment_id, row, detail in zip(ids, rows, details, strict=True)
            ],
        )
    )
    session.execute(
        insert(ActionRule),
        [{"action_id": action_id, "position": 0, "rule": Rule.IMPORT} for action_id in action_ids],
    )
    events = []
    for comment_id, action_id, row, detail in zip(ids, action_ids, rows, details, strict=True):
        thread = threads[row["thread_id"]]
        payload = _payload(row | {"id": comment_id}, thread)
        payload.update(
            from_status=None,
            actor=Actor.SYSTEM.value,
            rule=Rule.IMPORT.value,
            reason=describe(Rule.IMPORT, detail),
        )
        events.append(
            {
                "type": EventType.CREATED,
                "comment_id": comment_id,
                "site_id": thread.site_id,
                "action_id": action_id,
                "payload": payload,
                "created_at": now,
                "published_at": now,  # handed to no one: see above
            }
        )
    session.execute(insert(OutboxEvent), events)
    return rows


def record_import_score(
    session: Session,
    comment: Comment,
    scores: dict[str, float],
    scorer: Scorer,
    duration_ms: float,
    now: datetime,
    claim_token: str,
    *,
    apply_policy: bool,
) -> bool | None:
    """Record the model's score of an imported comment while ``claim_token`` still holds
    it. Without ``apply_policy`` the status people gave it stays (the score is for the
    record, and for "how many would be held today"), and the ``comment.scored`` event is
    recorded already dispatched, like the import itself. With it, the site's policy
    decides again, unless a moderator decided the comment since. Returns None when the
    claim was lost (nothing written), else whether the status changed."""
    top = _top(scores)
    taken = session.execute(
        update(Comment)
        .where(Comment.id == comment.id, Comment.claimed_by == claim_token)
        .values(claimed_by=None, claimed_until=None, top_score=top)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    for name, value in (("claimed_by", None), ("claimed_until", None), ("top_score", top)):
        set_committed_value(comment, name, value)
    session.execute(
        update(ImportedComment)
        .where(ImportedComment.comment_id == comment.id)
        .values(scoring=None)
        .execution_options(synchronize_session=False)
    )
    _supersede_score(session, comment.id, now)
    session.add(new_score(comment.id, scorer, scores, duration_ms, now))
    if apply_policy and decided_by_people(session, comment) is None:
        site = comment.thread.site
        decision = policy.decide(
            site,
            comment.body,
            scores,
            scorer.default_thresholds,
            learned=learning.live_calibration(session, site, scorer.name),
            rescore=policy.rescorer(scorer),
        )
        if decision.status != comment.status and _move(
            session,
            comment,
            comment.version,
            decision.status,
            actor=Actor.SYSTEM,
            rule=decision.rule,
            detail=_policy_detail(decision),
            now=now,
            event={"scores": scores},
            updated_at=now,
        ):
            session.flush()
            return True
    _emit(session, EventType.SCORED, comment, now, dispatched=not apply_policy, scores=scores)
    session.flush()
    return False


def record_scores(
    session: Session,
    comment: Comment,
    scores: dict[str, float],
    scorer: Scorer,
    duration_ms: float,
    now: datetime,
    claim_token: str | None = None,
) -> policy.Decision | None:
    """Store the model's ``scores`` for a pending comment and move it to the status the
    site's policy decides, only while it is still pending (and, with ``claim_token``,
    still held by that claim). Returns None, changing nothing, when someone else finished
    the comment first: a comment is scored exactly once."""
    decision = decide(session, comment, scores, scorer, now)
    only_if = [Comment.status == CommentStatus.PENDING]
    if claim_token is not None:
        only_if.append(Comment.claimed_by == claim_token)
    moved = _move(
        session,
        comment,
        comment.version,
        decision.status,
        only_if=only_if,
        actor=Actor.SYSTEM,
        rule=decision.rule,
        detail=_policy_detail(decision),
        now=now,
        event={"scores": scores},
        claimed_by=None,
        claimed_until=None,
        top_score=_top(scores),
        updated_at=now,
    )
    if not moved:
        return None
    session.add(new_score(comment.id, scorer, scores, duration_ms, now))
    session.flush()
    return decision


def record_held_score(
    session: Session,
    comment: Comment,
    scores: dict[str, float],
    scorer: Scorer,
    duration_ms: float,
    now: datetime,
) -> bool:
    """Record the model's opinion of a comment held without scoring (posted despite the
    warning) for the moderator; its status stays. Only if it has no current score yet:
    returns whether this call recorded one. Emits ``comment.scored``."""
    current = select(Score.id).where(Score.comment_id == comment.id, Score.superseded_at.is_(None))
    if comment.status != CommentStatus.HELD or session.scalar(current) is not None:
        return False
    try:
        with savepoint(session):  # one current score per comment, whoever wins
            session.add(new_score(comment.id, scorer, scores, duration_ms, now))
            comment.top_score = _top(scores)
    except IntegrityError:
        return False
    _emit(session, EventType.SCORED, comment, now, scores=scores)
    session.flush()
    return True


def rescore(
    session: Session,
    comment: Comment,
    scores: dict[str, float],
    scorer: Scorer,
    duration_ms: float,
    now: datetime,
) -> bool | None:
    """Record a new score for a stored comment (superseding its current one) and apply the
    policy again, unless people decided the comment. ``comment`` is as it was loaded
    before scoring: if it changed meanwhile (a moderator's decision, an author's edit)
    nothing is written and this returns None, leaving it to the next re-score run.
    Otherwise returns whether the status changed; a score that changes nothing emits
    ``comment.scored``."""
    seen_version = comment.version
    # The comment as scored, or nothing: this conditional UPDATE also takes the row (on
    # PostgreSQL its lock, on SQLite the write lock) until the caller commits, so no edit
    # or decision can slip in between it and the writes below.
    taken = session.execute(
        update(Comment)
        .where(
            Comment.id == comment.id,
            Comment.version == seen_version,
            Comment.status != CommentStatus.PENDING,
        )
        .values(top_score=_top(scores))
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(comment)
        return None
    set_committed_value(comment, "top_score", _top(scores))
    _supersede_score(session, comment.id, now)
    session.add(new_score(comment.id, scorer, scores, duration_ms, now))
    if decided_by_people(session, comment) is None:
        decision = policy.decide(
            comment.thread.site,
            comment.body,
            scores,
            scorer.default_thresholds,
            author=authors.standing_kind(
                session, comment.thread.site_id, comment.author_key, comment.ip_hash, now
            ),
            learned=learning.live_calibration(session, comment.thread.site, scorer.name),
            rescore=policy.rescorer(scorer),
        )
        if decision.status != comment.status:
            return _move(
                session,
                comment,
                seen_version,
                decision.status,
                actor=Actor.SYSTEM,
                rule=decision.rule,
                detail=_policy_detail(decision, rescored_with=f"{scorer.name} {scorer.version}"),
                now=now,
                event={"scores": scores},
                updated_at=now,
            )
    _emit(session, EventType.SCORED, comment, now, scores=scores)
    return False


def give_up_scoring(
    session: Session, comment: Comment, claim_token: str, error: str, now: datetime
) -> bool:
    """Hold for a moderator a comment the model failed on (or whose workers died) too
    often, while ``claim_token`` still holds it. Returns whether this call held it."""
    return _move(
        session,
        comment,
        comment.version,
        CommentStatus.HELD,
        only_if=[Comment.claimed_by == claim_token],
        actor=Actor.SYSTEM,
        rule=Rule.SCORING_FAILED,
        detail={"attempts": comment.score_attempts, "error": error},
        now=now,
        claimed_by=None,
        claimed_until=None,
        updated_at=now,
    )


def report(session: Session, comment: Comment, flag: Flag, now: datetime) -> bool:
    """Take a reader's report (``flag``, already added) into account. When the distinct
    readers reporting since the last moderator decision reach the site's
    ``flags_to_hold``, the comment goes back to ``held`` (a moderator who approved it
    already saw the earlier ones). Returns whether it was held; otherwise the report is
    ``comment.reported``."""
    # In SQL, not Python: two readers reporting at once both count.
    session.execute(
        update(Comment)
        .where(Comment.id == comment.id)
        .values(flag_count=Comment.flag_count + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(comment, ["flag_count"])
    # One reader (one address) counts once, however often they report the same comment.
    readers = func.count(func.distinct(Flag.ip_hash)) + func.count(Flag.id).filter(
        Flag.ip_hash.is_(None)
    )
    last_decision = moderator_decided_at(comment.id)
    recent = select(readers).where(
        Flag.comment_id == comment.id,
        (last_decision.is_(None)) | (Flag.created_at > last_decision),
    )
    count = session.scalar(recent) or 0
    threshold = comment.thread.site.flags_to_hold
    # Conditional on the version read: a moderator's decision that lands meanwhile wins,
    # and the report stays recorded without moving the comment.
    if (
        threshold
        and count >= threshold
        and comment.status == CommentStatus.VISIBLE
        and _move(
            session,
            comment,
            comment.version,
            CommentStatus.HELD,
            actor=Actor.SYSTEM,
            rule=Rule.READER_REPORTS,
            detail={"readers": count, "threshold": threshold},
            now=now,
            event={"flag_reason": flag.reason.value},
            updated_at=now,
        )
    ):
        session.flush()
        return True
    _emit(session, EventType.REPORTED, comment, now, flag_reason=flag.reason.value)
    session.flush()
    return False


def moderate(
    session: Session,
    comment: Comment,
    seen_version: int,
    target: CommentStatus,
    *,
    moderator_id: int,
    decision_id: str,
    detail: dict[str, Any],
    now: datetime,
) -> bool:
    """A moderator's decision (or its undo) on the comment as they saw it
    (``seen_version``). Returns whether it won; False means someone changed the comment
    since, and nothing was written."""
    return _move(
        session,
        comment,
        seen_version,
        target,
        actor=Actor.MODERATOR,
        rule=Rule.MODERATOR,
        detail=detail,
        now=now,
        moderator_id=moderator_id,
        decision_id=decision_id,
        updated_at=now,
    )


def keep(
    session: Session,
    comment: Comment,
    seen_version: int,
    *,
    moderator_id: int,
    decision_id: str,
    now: datetime,
) -> bool:
    """A moderator keeps a visible comment readers reported: it stays visible, and the
    reports so far are dismissed (only reports after this decision count towards holding
    it again, and it leaves the Reported tab). Emits ``comment.kept``. Returns whether it
    won against a concurrent change."""
    return _move(
        session,
        comment,
        seen_version,
        CommentStatus.VISIBLE,
        only_if=[Comment.status == CommentStatus.VISIBLE],
        actor=Actor.MODERATOR,
        rule=Rule.MODERATOR,
        detail={"action": "keep", "reports": comment.flag_count},
        now=now,
        moderator_id=moderator_id,
        decision_id=decision_id,
        kind=EventType.KEPT,
        updated_at=now,
    )


def edit(
    session: Session,
    comment: Comment,
    *,
    body: str,
    body_html: str,
    posted_despite_warning: bool,
    now: datetime,
) -> bool:
    """The author's new text: back to ``pending`` to be scored again (the current score is
    superseded, kept for the record), or held for a moderator when posted despite the
    warning. Returns whether it won against a concurrent change."""
    target = CommentStatus.HELD if posted_despite_warning else CommentStatus.PENDING
    moved = _move(
        session,
        comment,
        comment.version,
        target,
        actor=Actor.AUTHOR,
        rule=Rule.AUTHOR_EDIT,
        detail={"posted_despite_warning": posted_despite_warning},
        now=now,
        body=body,
        body_html=body_html,
        acknowledged_warning=posted_despite_warning,
        edited_at=now,
        updated_at=now,
        top_score=None,
        claimed_by=None,
        claimed_until=None,
        score_attempts=0,
    )
    if moved:
        _supersede_score(session, comment.id, now)
        session.flush()
    return moved


def delete(session: Session, comment: Comment, now: datetime) -> bool:
    """The author takes the comment down: ``hidden``, and their token stops working for
    it. Returns whether it won against a concurrent change."""
    moved = _move(
        session,
        comment,
        comment.version,
        CommentStatus.HIDDEN,
        actor=Actor.AUTHOR,
        rule=Rule.AUTHOR_DELETE,
        detail=None,
        now=now,
        author_token_hash=None,
        claimed_by=None,
        claimed_until=None,
        updated_at=now,
    )
    session.flush()
    return moved
