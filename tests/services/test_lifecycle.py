"""A comment's life at service level: every status change is one conditional UPDATE, one
ModerationAction (who, which rule, the reason a moderator reads) and exactly one
OutboxEvent; changes that leave the status alone (a score, a report) are one event and
no action; a change that loses a race, or is rolled back, writes nothing at all."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.db import db
from moderation.models import Comment, ModerationAction, Moderator, OutboxEvent, Score, Site
from moderation.scoring import LabelThresholds, Scorer
from moderation.services import comments, flags, lifecycle, rescoring, review, worker
from moderation.types import (
    Actor,
    CommentStatus,
    EventType,
    FlagReason,
    ModerationMode,
    Rule,
    utcnow,
)
from tests import factories
from tests.conftest import database_state, make_site

CLEAN = "What a thoughtful post, thanks"  # lite: toxicity ~0.00
TOXIC = "fuck you idiot"  # lite: toxicity ~1.00, over lite's hold threshold 0.9; an insult
INSULT = "insult aimed at a person: 'fuck you', 'you idiot'"
# Held by the model alone: no rule of the policy's text rules knows it.
MODEL_ONLY = "pussies, all of them"
TOKEN = "author-token-" + "x" * 24
WINDOW = timedelta(minutes=15)


# ---------------------------------------------------------------- what a change wrote


@dataclass
class Written:
    """The ModerationAction and OutboxEvent rows written inside a ``writes`` block."""

    actions: list[ModerationAction] = field(default_factory=list)
    events: list[OutboxEvent] = field(default_factory=list)


@contextmanager
def writes(session: Session) -> Iterator[Written]:
    last_action = session.scalar(select(func.max(ModerationAction.id))) or 0
    last_event = session.scalar(select(func.max(OutboxEvent.id))) or 0
    written = Written()
    yield written
    written.actions = list(
        session.scalars(
            select(ModerationAction)
            .where(ModerationAction.id > last_action)
            .order_by(ModerationAction.id)
        )
    )
    written.events = list(
        session.scalars(
            select(OutboxEvent).where(OutboxEvent.id > last_event).order_by(OutboxEvent.id)
        )
    )


def assert_event(
    event: OutboxEvent,
    comment: Comment,
    event_type: EventType,
    action: ModerationAction | None = None,
) -> None:
    """The event tells of ``comment`` as it is now, and of ``action`` (None: a change
    that left the status alone)."""
    thread = comment.thread
    assert event.type == event_type
    assert (event.comment_id, event.site_id) == (comment.id, thread.site_id)
    assert event.action_id == (action.id if action is not None else None)
    payload = event.payload
    assert (
        payload["comment_id"],
        payload["site"],
        payload["thread"],
        payload["parent_id"],
        payload["status"],
        payload["version"],
    ) == (
        comment.id,
        thread.site.slug,
        thread.key,
        comment.parent_id,
        comment.status.value,
        comment.version,
    )
    if action is None:
        assert not {"from_status", "actor", "rule", "reason"} & payload.keys()
    else:
        from_status = action.from_status.value if action.from_status is not None else None
        assert (payload["from_status"], payload["actor"], payload["rule"], payload["reason"]) == (
            from_status,
            action.actor.value,
            action.rule.value,
            action.reason,
        )


def assert_action(
    action: ModerationAction,
    comment: Comment,
    *,
    actor: Actor,
    rule: Rule,
    from_status: CommentStatus | None,
    reason: str,
    fired: Sequence[Rule] | None = None,
) -> None:
    """One status change of ``comment`` to its current status, said as a moderator reads it,
    with every rule that fired in order of strength."""
    assert action.comment_id == comment.id
    assert (action.actor, action.rule, action.from_status, action.to_status) == (
        actor,
        rule,
        from_status,
        comment.status,
    )
    assert action.reason == reason
    assert lifecycle.describe(action.rule, action.detail) == action.reason
    assert [(r.position, r.rule) for r in action.fired] == list(enumerate(fired or [rule]))


def assert_one_change(
    written: Written,
    comment: Comment,
    event_type: EventType,
    *,
    actor: Actor,
    rule: Rule,
    from_status: CommentStatus | None,
    reason: str,
    fired: Sequence[Rule] | None = None,
) -> ModerationAction:
    """Exactly one status change was written: one action, one event telling of it."""
    [action] = written.actions
    [event] = written.events
    assert_action(
        action, comment, actor=actor, rule=rule, from_status=from_status, reason=reason, fired=fired
    )
    assert_event(event, comment, event_type, action)
    return action


def assert_no_change(written: Written, comment: Comment, event_type: EventType) -> OutboxEvent:
    """No status change: no action, and one event that says what happened instead."""
    assert written.actions == []
    [event] = written.events
    assert_event(event, comment, event_type)
    return event


# ---------------------------------------------------------------- making comments


def run_worker(
    session: Session, scorer: Scorer | None = None, max_attempts: int = 3
) -> worker.BatchResult:
    return worker.process_batch(
        session,
        scorer or get_scorer(),
        "w1",
        batch_size=10,
        lease_seconds=60,
        max_attempts=max_attempts,
    )


def scored_by_worker(
    session: Session, site: Site, body: str, **kwargs: Any
) -> tuple[Comment, Written]:
    """A comment submitted, then scored by the worker with the real model."""
    comment = factories.submit(session, site, body, **kwargs)
    with writes(session) as written:
        assert run_worker(session).scored == 1
    session.refresh(comment)
    return comment, written


def scored_inline(session: Session, site: Site, body: str) -> tuple[Comment, Written]:
    """A comment submitted, then scored inline (within the request) with the real model."""
    comment = factories.submit(session, site, body)
    with writes(session) as written:
        assert worker.score_inline(session, comment, get_scorer(), budget_ms=5000) is not None
        session.commit()
    return comment, written


def visible(session: Session, site: Site, body: str = CLEAN, **kwargs: Any) -> Comment:
    """A comment the policy let through (its history: created, then published)."""
    comment = factories.submit(session, site, body, **kwargs)
    return factories.scored(session, comment, {"toxicity": 0.01})


def held_by_policy(session: Session, site: Site, body: str = TOXIC, **kwargs: Any) -> Comment:
    comment = factories.submit(session, site, body, **kwargs)
    return factories.scored(session, comment, {"toxicity": 0.99})


def report(session: Session, comment: Comment, reader: str) -> None:
    flags.flag_comment(session, comment.id, FlagReason.ABUSIVE, None, reader, utcnow())
    session.commit()


def decide(
    session: Session,
    person: Moderator,
    comment: Comment,
    action: review.Action,
    reason: str | None = None,
) -> review.DecisionResult:
    return factories.decided(session, comment, action, by=person, reason=reason)


def current_score(session: Session, comment: Comment) -> Score:
    return session.scalars(
        select(Score).where(Score.comment_id == comment.id, Score.superseded_at.is_(None))
    ).one()


def toxicity(session: Session, comment: Comment) -> float:
    return float(current_score(session, comment).labels["toxicity"])


class BrokenScorer:
    """Something outside failing: a model whose file is corrupt."""

    name = "broken"
    version = "0"
    labels: tuple[str, ...] = ("toxicity",)
    default_thresholds: Mapping[str, LabelThresholds] = {}

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        raise RuntimeError("model file is corrupt")


# ---------------------------------------------------------------- submitting


def test_a_new_comment_waits_pending_with_a_created_event_and_no_decision(
    session: Session, site: Site
) -> None:
    with writes(session) as written:
        comment = factories.submit(session, site, CLEAN, thread="post-1")
    assert (comment.status, comment.version) == (CommentStatus.PENDING, 1)
    event = assert_no_change(written, comment, EventType.CREATED)
    assert event.payload["thread"] == "post-1"
    assert comment.actions == []


def test_a_comment_posted_despite_the_warning_is_held_at_once_and_says_why(
    session: Session, site: Site
) -> None:
    with writes(session) as written:
        comment = factories.submit(session, site, TOXIC, acknowledged_warning=True)
    assert (comment.status, comment.version) == (CommentStatus.HELD, 1)
    assert_one_change(
        written,
        comment,
        EventType.CREATED,
        actor=Actor.SYSTEM,
        rule=Rule.POSTED_DESPITE_WARNING,
        from_status=None,
        reason="the author posted despite the pre-posting warning; held for a moderator",
    )
    assert comment.scores == []  # nobody asked the model: a person decides


# ---------------------------------------------------------------- the model's first score


def test_the_worker_publishes_a_clean_comment_because_it_passed_the_policy(
    session: Session, site: Site
) -> None:
    comment, written = scored_by_worker(session, site, CLEAN)
    assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 2)
    score = toxicity(session, comment)
    action = assert_one_change(
        written,
        comment,
        EventType.PUBLISHED,
        actor=Actor.SYSTEM,
        rule=Rule.PASSED_POLICY,
        from_status=CommentStatus.PENDING,
        reason=f"passed policy (toxicity {score:.2f})",
    )
    assert action.detail == {"fired": [{"rule": "passed_policy", "scores": {"toxicity": score}}]}
    assert written.events[0].payload["scores"] == {"toxicity": score}
    assert (comment.claimed_by, comment.claimed_until, comment.top_score) == (None, None, score)


def test_the_worker_holds_a_comment_over_the_hold_threshold(session: Session, site: Site) -> None:
    comment, written = scored_by_worker(session, site, TOXIC)
    assert (comment.status, comment.version) == (CommentStatus.HELD, 2)
    score = toxicity(session, comment)
    assert score > 0.99
    action = assert_one_change(
        written,
        comment,
        EventType.HELD,
        actor=Actor.SYSTEM,
        rule=Rule.LABEL_OVER_HOLD,
        from_status=CommentStatus.PENDING,
        reason=f"toxicity 1.00 ≥ hold threshold 0.90; {INSULT}",
        fired=[Rule.LABEL_OVER_HOLD, Rule.INSULT_AIMED],
    )
    assert action.detail == {
        "fired": [
            {"rule": "label_over_hold", "label": "toxicity", "score": score, "threshold": 0.9},
            {"rule": "insult_aimed", "words": ["fuck you", "you idiot"]},
        ]
    }


def test_the_worker_hides_a_comment_over_the_sites_hide_threshold(session: Session) -> None:
    site = make_site(session, thresholds={"toxicity": {"hold": 0.35, "hide": 0.8}})
    comment, written = scored_by_worker(session, site, TOXIC)
    assert (comment.status, comment.version) == (CommentStatus.HIDDEN, 2)
    assert_one_change(
        written,
        comment,
        EventType.HIDDEN,
        actor=Actor.SYSTEM,
        rule=Rule.LABEL_OVER_HIDE,
        from_status=CommentStatus.PENDING,
        reason=f"toxicity 1.00 ≥ hide threshold 0.80; {INSULT}",
        fired=[Rule.LABEL_OVER_HIDE, Rule.INSULT_AIMED],
    )


def test_inline_scoring_hides_a_comment_with_a_banned_word(session: Session) -> None:
    site = make_site(session, banned_words=["spam"])
    comment, written = scored_inline(session, site, "buy spam now")
    assert (comment.status, comment.version) == (CommentStatus.HIDDEN, 2)
    assert_one_change(
        written,
        comment,
        EventType.HIDDEN,
        actor=Actor.SYSTEM,
        rule=Rule.BANNED_WORD,
        from_status=CommentStatus.PENDING,
        reason="banned word: 'spam'",
    )


def test_inline_scoring_holds_a_comment_with_a_suspect_word(session: Session) -> None:
    site = make_site(session, suspect_words=["crypto"])
    comment, written = scored_inline(session, site, "Nice write-up about crypto")
    assert (comment.status, comment.version) == (CommentStatus.HELD, 2)
    assert_one_change(
        written,
        comment,
        EventType.HELD,
        actor=Actor.SYSTEM,
        rule=Rule.SUSPECT_WORD,
        from_status=CommentStatus.PENDING,
        reason="suspect word: 'crypto'",
    )


def test_a_premoderated_site_holds_even_a_clean_comment(session: Session) -> None:
    site = make_site(session, moderation_mode=ModerationMode.PRE)
    comment, written = scored_inline(session, site, CLEAN)
    assert (comment.status, comment.version) == (CommentStatus.HELD, 2)
    assert_one_change(
        written,
        comment,
        EventType.HELD,
        actor=Actor.SYSTEM,
        rule=Rule.PREMODERATION,
        from_status=CommentStatus.PENDING,
        reason="premoderation: this site holds every comment for review",
    )


def test_every_rule_that_fired_is_recorded_strongest_first(session: Session) -> None:
    site = make_site(
        session,
        moderation_mode=ModerationMode.PRE,
        thresholds={"toxicity": {"hold": 0.35, "hide": 0.8}},
        banned_words=["idiot"],
        suspect_words=["you"],
    )
    comment, written = scored_by_worker(session, site, TOXIC)
    assert (comment.status, comment.version) == (CommentStatus.HIDDEN, 2)
    assert_one_change(
        written,
        comment,
        EventType.HIDDEN,
        actor=Actor.SYSTEM,
        rule=Rule.BANNED_WORD,
        from_status=CommentStatus.PENDING,
        reason=(
            "banned word: 'idiot'; toxicity 1.00 ≥ hide threshold 0.80; "
            f"premoderation: this site holds every comment for review; {INSULT}; "
            "suspect word: 'you'"
        ),
        fired=[
            Rule.BANNED_WORD,
            Rule.LABEL_OVER_HIDE,
            Rule.PREMODERATION,
            Rule.INSULT_AIMED,
            Rule.SUSPECT_WORD,
        ],  # fmt: skip
    )


def test_a_comment_held_for_several_reasons_names_each_of_them(session: Session) -> None:
    site = make_site(session, suspect_words=["idiot"])
    comment, written = scored_by_worker(session, site, TOXIC)
    assert comment.status == CommentStatus.HELD
    assert_one_change(
        written,
        comment,
        EventType.HELD,
        actor=Actor.SYSTEM,
        rule=Rule.LABEL_OVER_HOLD,
        from_status=CommentStatus.PENDING,
        reason=f"toxicity 1.00 ≥ hold threshold 0.90; {INSULT}; suspect word: 'idiot'",
        fired=[Rule.LABEL_OVER_HOLD, Rule.INSULT_AIMED, Rule.SUSPECT_WORD],
    )


def test_a_comment_held_despite_the_warning_gets_a_score_for_the_moderator_and_stays_held(
    session: Session, site: Site
) -> None:
    comment = factories.submit(session, site, TOXIC, acknowledged_warning=True)
    with writes(session) as written:
        assert comments.score_held_comment(session, comment, get_scorer(), 5000, utcnow())
        session.commit()
    assert (comment.status, comment.version) == (CommentStatus.HELD, 1)
    event = assert_no_change(written, comment, EventType.SCORED)
    score = toxicity(session, comment)
    assert event.payload["scores"] == {"toxicity": score}
    assert comment.top_score == score
    # Only once: a second attempt (another request, say) records nothing.
    with writes(session) as again:
        assert not comments.score_held_comment(session, comment, get_scorer(), 5000, utcnow())
        session.commit()
    assert (again.actions, again.events) == ([], [])
    assert len(comment.scores) == 1


def test_a_held_score_that_is_rolled_back_leaves_neither_score_nor_event(
    session: Session, site: Site
) -> None:
    # On SQLite too: the savepoint is inside a transaction even when it is its first write.
    comment = factories.submit(session, site, TOXIC, acknowledged_warning=True)
    before = database_state(session)
    assert comments.score_held_comment(session, comment, get_scorer(), 5000, utcnow())
    session.rollback()
    assert database_state(session) == before


# ---------------------------------------------------------------- re-scoring


def test_a_rescore_that_changes_the_status_says_which_model_decided(
    session: Session, site: Site
) -> None:
    # An older model let the toxic text through; the current one holds it.
    submitted = factories.submit(session, site, MODEL_ONLY)
    comment = factories.scored(session, submitted, {"toxicity": 0.1})
    assert comment.status == CommentStatus.VISIBLE
    with writes(session) as written:
        result = rescoring.rescore_batch(session, get_scorer(), [comment.id], utcnow())
        session.commit()
    assert (result.scored, result.changed) == (1, 1)
    assert (comment.status, comment.version) == (CommentStatus.HELD, 3)
    scorer = get_scorer()
    action = assert_one_change(
        written,
        comment,
        EventType.HELD,
        actor=Actor.SYSTEM,
        rule=Rule.LABEL_OVER_HOLD,
        from_status=CommentStatus.VISIBLE,
        reason=f"re-scored with lite {scorer.version}: toxicity 1.00 ≥ hold threshold 0.90",
    )
    assert action.reason.startswith("re-scored with")
    assert action.detail is not None
    assert action.detail["rescored_with"] == f"lite {scorer.version}"
    old, new = comment.scores
    assert old.superseded_at is not None and old.labels == {"toxicity": 0.1}
    assert new.superseded_at is None and new == current_score(session, comment)
    assert written.events[0].payload["scores"] == new.labels
    assert comment.top_score == new.labels["toxicity"]


def test_a_rescore_that_changes_nothing_is_only_a_scored_event(
    session: Session, site: Site
) -> None:
    comment = visible(session, site)
    with writes(session) as written:
        result = rescoring.rescore_batch(session, get_scorer(), [comment.id], utcnow())
        session.commit()
    assert (result.scored, result.changed) == (1, 0)
    assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 2)
    event = assert_no_change(written, comment, EventType.SCORED)
    assert event.payload["scores"] == current_score(session, comment).labels
    assert [s.superseded_at is None for s in comment.scores] == [False, True]


def _approved_by_a_moderator(session: Session, site: Site) -> Comment:
    comment = held_by_policy(session, site, TOXIC)
    factories.decided(session, comment, review.Action.APPROVE)  # the model would hold it
    return comment


def _deleted_by_its_author(session: Session, site: Site) -> Comment:
    comment = visible(session, site, CLEAN, author_token=TOKEN)
    return factories.deleted_by_author(session, comment, TOKEN)  # the model would show it


def _held_by_readers_reports(session: Session, site: Site) -> Comment:
    comment = visible(session, site, CLEAN)
    for reader in ("r1", "r2", "r3"):
        report(session, comment, reader)
    return comment  # the model would show it


def _posted_despite_the_warning(session: Session, site: Site) -> Comment:
    return factories.submit(session, site, CLEAN, acknowledged_warning=True)  # would show it


@pytest.mark.parametrize(
    ("decided", "status", "decider"),
    [
        (_approved_by_a_moderator, CommentStatus.VISIBLE, Rule.MODERATOR),
        (_deleted_by_its_author, CommentStatus.HIDDEN, Rule.AUTHOR_DELETE),
        (_held_by_readers_reports, CommentStatus.HELD, Rule.READER_REPORTS),
        (_posted_despite_the_warning, CommentStatus.HELD, Rule.POSTED_DESPITE_WARNING),
    ],
    ids=["moderator", "author_deleted", "readers_reports", "posted_despite_warning"],
)
def test_a_rescore_records_its_score_but_leaves_peoples_decisions_alone(
    session: Session,
    site: Site,
    decided: Callable[[Session, Site], Comment],
    status: CommentStatus,
    decider: Rule,
) -> None:
    comment = decided(session, site)
    assert comment.status == status
    assert lifecycle.decided_by_people(session, comment) == decider
    version = comment.version
    with writes(session) as written:
        result = rescoring.rescore_batch(session, get_scorer(), [comment.id], utcnow())
        session.commit()
    assert (result.scored, result.changed) == (1, 0)
    assert (comment.status, comment.version) == (status, version)
    event = assert_no_change(written, comment, EventType.SCORED)
    assert event.payload["scores"] == current_score(session, comment).labels
    assert current_score(session, comment).scorer_version == get_scorer().version


# ---------------------------------------------------------------- scoring that fails


def test_a_comment_the_model_keeps_failing_on_is_held_for_a_moderator(
    session: Session, site: Site
) -> None:
    comment = factories.submit(session, site, CLEAN)
    with writes(session) as first_try:
        assert run_worker(session, BrokenScorer(), max_attempts=2).failed == 1
    session.refresh(comment)
    # A failed try only releases the claim: no decision, nothing told.
    assert (first_try.actions, first_try.events) == ([], [])
    assert (comment.status, comment.version, comment.claimed_by) == (
        CommentStatus.PENDING,
        1,
        None,
    )
    with writes(session) as last_try:
        assert run_worker(session, BrokenScorer(), max_attempts=2).failed == 1
    session.refresh(comment)
    assert (comment.status, comment.version, comment.claimed_by) == (CommentStatus.HELD, 2, None)
    action = assert_one_change(
        last_try,
        comment,
        EventType.HELD,
        actor=Actor.SYSTEM,
        rule=Rule.SCORING_FAILED,
        from_status=CommentStatus.PENDING,
        reason=(
            "scoring failed 2 times (RuntimeError('model file is corrupt')); held for a moderator"
        ),
    )
    assert action.detail == {"attempts": 2, "error": "RuntimeError('model file is corrupt')"}
    assert comment.scores == []


def test_a_comment_whose_worker_died_too_often_is_held_with_one_event(
    session: Session, site: Site
) -> None:
    comment = factories.submit(session, site, CLEAN)
    long_ago = utcnow() - timedelta(minutes=10)
    worker.claim_batch(session, "died", 10, 30, long_ago)  # its lease ran out long ago
    session.commit()
    with writes(session) as written:
        result = run_worker(session, max_attempts=1)
    assert (result.claimed, result.scored, result.failed) == (1, 0, 1)
    session.refresh(comment)
    assert (comment.status, comment.version) == (CommentStatus.HELD, 2)
    assert_one_change(
        written,
        comment,
        EventType.HELD,
        actor=Actor.SYSTEM,
        rule=Rule.SCORING_FAILED,
        from_status=CommentStatus.PENDING,
        reason="scoring failed 2 times (its worker stopped while scoring it); held for a moderator",
    )


# ---------------------------------------------------------------- readers' reports


def test_reports_below_the_threshold_are_told_but_change_nothing(
    session: Session, site: Site
) -> None:
    comment = visible(session, site)
    with writes(session) as written:
        report(session, comment, "r1")
        report(session, comment, "r2")
    assert (comment.status, comment.version, comment.flag_count) == (CommentStatus.VISIBLE, 2, 2)
    assert written.actions == []
    assert [e.type for e in written.events] == [EventType.REPORTED, EventType.REPORTED]
    for event in written.events:
        assert event.action_id is None
        assert event.payload["flag_reason"] == "abusive"
        assert event.payload["status"] == "visible"


def test_reports_from_enough_distinct_readers_hold_the_comment(
    session: Session, site: Site
) -> None:
    comment = visible(session, site)
    with writes(session) as repeated:
        for _ in range(3):
            report(session, comment, "the-same-reader")  # counts once
        report(session, comment, "another-reader")
    assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 2)
    assert repeated.actions == []
    assert [e.type for e in repeated.events] == [EventType.REPORTED] * 4
    with writes(session) as third_reader:
        report(session, comment, "a-third-reader")
    assert (comment.status, comment.version, comment.flag_count) == (CommentStatus.HELD, 3, 5)
    assert_one_change(
        third_reader,
        comment,
        EventType.HELD,
        actor=Actor.SYSTEM,
        rule=Rule.READER_REPORTS,
        from_status=CommentStatus.VISIBLE,
        reason="reported by 3 readers (site holds at 3)",
    )
    assert third_reader.events[0].payload["flag_reason"] == "abusive"


# ---------------------------------------------------------------- moderators


def test_a_moderator_approving_a_held_comment_publishes_it(session: Session, site: Site) -> None:
    person = factories.moderator(session)
    comment = held_by_policy(session, site)
    with writes(session) as written:
        result = decide(session, person, comment, review.Action.APPROVE)
    assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 3)
    action = assert_one_change(
        written,
        comment,
        EventType.PUBLISHED,
        actor=Actor.MODERATOR,
        rule=Rule.MODERATOR,
        from_status=CommentStatus.HELD,
        reason="approved",
    )
    assert (action.moderator_id, action.decision_id) == (person.id, result.decision_id)


def test_a_moderator_hiding_a_comment_with_a_note_is_read_as_that_note(
    session: Session, site: Site
) -> None:
    person = factories.moderator(session)
    comment = visible(session, site)
    with writes(session) as written:
        decide(session, person, comment, review.Action.HIDE, reason="spam link")
    assert (comment.status, comment.version) == (CommentStatus.HIDDEN, 3)
    assert_one_change(
        written,
        comment,
        EventType.HIDDEN,
        actor=Actor.MODERATOR,
        rule=Rule.MODERATOR,
        from_status=CommentStatus.VISIBLE,
        reason="spam link",
    )


def test_hiding_a_comment_with_its_replies_tells_of_each_reply_it_changed(
    session: Session, site: Site
) -> None:
    person = factories.moderator(session)
    top = visible(session, site, "top")
    reply = visible(session, site, "reply", parent=top)
    nested = visible(session, site, "nested", parent=reply)
    already_hidden = visible(session, site, "already hidden", parent=top)
    decide(session, person, already_hidden, review.Action.HIDE)
    elsewhere = visible(session, site, "another conversation")
    with writes(session) as written:
        result = decide(session, person, top, review.Action.HIDE_THREAD)
    assert [c.id for c in result.changed] == [top.id, reply.id, nested.id]
    assert [a.comment_id for a in written.actions] == [top.id, reply.id, nested.id]
    assert len(written.events) == 3
    reasons = [
        "hidden with its replies",
        f"hidden with its replies (reply under comment {top.id})",
        f"hidden with its replies (reply under comment {top.id})",
    ]
    for comment, action, event, reason in zip(
        [top, reply, nested], written.actions, written.events, reasons, strict=True
    ):
        assert (comment.status, comment.version) == (CommentStatus.HIDDEN, 3)
        assert_action(
            action,
            comment,
            actor=Actor.MODERATOR,
            rule=Rule.MODERATOR,
            from_status=CommentStatus.VISIBLE,
            reason=reason,
        )
        assert action.decision_id == result.decision_id
        assert_event(event, comment, EventType.HIDDEN, action)
    assert (already_hidden.status, already_hidden.version) == (CommentStatus.HIDDEN, 3)
    assert (elsewhere.status, elsewhere.version) == (CommentStatus.VISIBLE, 2)


def test_a_moderator_restoring_a_hidden_comment_is_a_restored_event(
    session: Session, site: Site
) -> None:
    person = factories.moderator(session)
    comment = visible(session, site)
    decide(session, person, comment, review.Action.HIDE)
    with writes(session) as written:
        decide(session, person, comment, review.Action.RESTORE)
    assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 4)
    assert_one_change(
        written,
        comment,
        EventType.RESTORED,
        actor=Actor.MODERATOR,
        rule=Rule.MODERATOR,
        from_status=CommentStatus.HIDDEN,
        reason="restored",
    )


def test_undoing_an_approval_puts_the_comment_back_on_hold(session: Session, site: Site) -> None:
    person = factories.moderator(session)
    comment = held_by_policy(session, site)
    approval = decide(session, person, comment, review.Action.APPROVE)
    with writes(session) as written:
        undone = review.undo(
            session, person, review.scope_of(person), approval.decision_id, utcnow()
        )
        session.commit()
    assert (comment.status, comment.version) == (CommentStatus.HELD, 4)
    action = assert_one_change(
        written,
        comment,
        EventType.HELD,
        actor=Actor.MODERATOR,
        rule=Rule.MODERATOR,
        from_status=CommentStatus.VISIBLE,
        reason="undo: approved",
    )
    assert (action.moderator_id, action.decision_id) == (person.id, undone.decision_id)
    assert action.detail is not None
    assert action.detail["undone_action"] == comment.actions[-2].id


def test_undoing_a_whole_thread_hide_restores_each_comment_it_hid(
    session: Session, site: Site
) -> None:
    person = factories.moderator(session)
    top = visible(session, site, "top")
    reply = visible(session, site, "reply", parent=top)
    hid = decide(session, person, top, review.Action.HIDE_THREAD)
    with writes(session) as written:
        review.undo(session, person, review.scope_of(person), hid.decision_id, utcnow())
        session.commit()
    assert [a.comment_id for a in written.actions] == [top.id, reply.id]
    for comment, action, event, reason in zip(
        [top, reply],
        written.actions,
        written.events,
        [
            "undo: hidden with its replies",
            f"undo: hidden with its replies (reply under comment {top.id})",
        ],
        strict=True,
    ):
        assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 4)
        assert_action(
            action,
            comment,
            actor=Actor.MODERATOR,
            rule=Rule.MODERATOR,
            from_status=CommentStatus.HIDDEN,
            reason=reason,
        )
        assert_event(event, comment, EventType.RESTORED, action)


def test_undoing_a_decision_on_a_pending_comment_requeues_it(session: Session, site: Site) -> None:
    person = factories.moderator(session)
    comment = factories.submit(session, site, CLEAN)
    approval = decide(session, person, comment, review.Action.APPROVE)  # before the model
    with writes(session) as written:
        review.undo(session, person, review.scope_of(person), approval.decision_id, utcnow())
        session.commit()
    assert (comment.status, comment.version) == (CommentStatus.PENDING, 3)
    assert_one_change(
        written,
        comment,
        EventType.REQUEUED,
        actor=Actor.MODERATOR,
        rule=Rule.MODERATOR,
        from_status=CommentStatus.VISIBLE,
        reason="undo: approved",
    )


# ---------------------------------------------------------------- authors


def test_an_authors_edit_goes_back_to_pending_and_supersedes_the_score(
    session: Session, site: Site
) -> None:
    comment = visible(session, site, CLEAN, author_token=TOKEN)
    with writes(session) as written:
        comments.edit_by_author(
            session,
            comment.id,
            author_token=TOKEN,
            body="That is a lovely idea",
            now=utcnow(),
            window=WINDOW,
        )
        session.commit()
    assert (comment.status, comment.version, comment.body) == (
        CommentStatus.PENDING,
        3,
        "That is a lovely idea",
    )
    assert (comment.top_score, comment.edited_at is not None) == (None, True)
    assert_one_change(
        written,
        comment,
        EventType.EDITED,
        actor=Actor.AUTHOR,
        rule=Rule.AUTHOR_EDIT,
        from_status=CommentStatus.VISIBLE,
        reason="edited by the author; to be scored again",
    )
    [old] = comment.scores
    assert old.superseded_at is not None
    # The worker scores the new text: one more change, one more event.
    with writes(session) as rescored:
        assert run_worker(session).scored == 1
    session.refresh(comment)
    assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 4)
    assert [e.type for e in rescored.events] == [EventType.PUBLISHED]


def test_an_edit_posted_despite_the_warning_is_held_for_a_moderator(
    session: Session, site: Site
) -> None:
    comment = visible(session, site, CLEAN, author_token=TOKEN)
    with writes(session) as written:
        comments.edit_by_author(
            session,
            comment.id,
            author_token=TOKEN,
            body=TOXIC,
            now=utcnow(),
            window=WINDOW,
            acknowledged_warning=True,
        )
        session.commit()
    assert (comment.status, comment.version) == (CommentStatus.HELD, 3)
    assert_one_change(
        written,
        comment,
        EventType.EDITED,
        actor=Actor.AUTHOR,
        rule=Rule.AUTHOR_EDIT,
        from_status=CommentStatus.VISIBLE,
        reason=(
            "edited by the author; "
            "the author posted despite the pre-posting warning; held for a moderator"
        ),
    )


def test_an_authors_delete_hides_the_comment_and_ends_their_token(
    session: Session, site: Site
) -> None:
    comment = visible(session, site, CLEAN, author_token=TOKEN)
    with writes(session) as written:
        factories.deleted_by_author(session, comment, TOKEN)
    assert (comment.status, comment.version, comment.author_token_hash) == (
        CommentStatus.HIDDEN,
        3,
        None,
    )
    assert_one_change(
        written,
        comment,
        EventType.DELETED,
        actor=Actor.AUTHOR,
        rule=Rule.AUTHOR_DELETE,
        from_status=CommentStatus.VISIBLE,
        reason="deleted by the author",
    )
    assert lifecycle.deleted_by_author(comment)


# ---------------------------------------------------------------- races


def test_of_two_moderators_who_saw_the_same_version_the_second_writes_nothing(
    session: Session, site: Site
) -> None:
    first = factories.moderator(session, "first@example.org")
    second = factories.moderator(session, "second@example.org")
    comment = held_by_policy(session, site)
    with writes(session) as written:
        with Session(db.engine) as a, Session(db.engine) as b:
            seen_by_a, seen_by_b = a.get(Comment, comment.id), b.get(Comment, comment.id)
            assert seen_by_a is not None and seen_by_b is not None
            seen = seen_by_a.version
            assert seen_by_b.version == seen
            assert lifecycle.moderate(
                a,
                seen_by_a,
                seen,
                CommentStatus.HIDDEN,
                moderator_id=first.id,
                decision_id=uuid.uuid4().hex,
                detail={"action": "hide", "note": None},
                now=utcnow(),
            )
            a.commit()
            assert not lifecycle.moderate(
                b,
                seen_by_b,
                seen,
                CommentStatus.VISIBLE,
                moderator_id=second.id,
                decision_id=uuid.uuid4().hex,
                detail={"action": "approve", "note": None},
                now=utcnow(),
            )
            # The loser's copy now shows what won.
            assert (seen_by_b.status, seen_by_b.version) == (CommentStatus.HIDDEN, seen + 1)
            b.commit()
    session.refresh(comment)
    assert (comment.status, comment.version) == (CommentStatus.HIDDEN, seen + 1)
    action = assert_one_change(
        written,
        comment,
        EventType.HIDDEN,
        actor=Actor.MODERATOR,
        rule=Rule.MODERATOR,
        from_status=CommentStatus.HELD,
        reason="hidden",
    )
    assert action.moderator_id == first.id


def test_a_late_worker_result_after_its_lease_was_taken_over_is_dropped(
    session: Session, site: Site
) -> None:
    comment = factories.submit(session, site, CLEAN)
    now = utcnow()
    dead_token, _ = worker.claim_batch(session, "slow", 10, 30, now)
    session.commit()
    live_token, [taken] = worker.claim_batch(session, "live", 10, 30, now + timedelta(seconds=31))
    session.commit()
    assert taken is comment
    scorer = get_scorer()
    with writes(session) as too_late:
        # The slow worker answers while the comment is still pending, but no longer its own.
        assert (
            lifecycle.record_scores(
                session, comment, {"toxicity": 0.9}, scorer, 1.0, utcnow(), dead_token
            )
            is None
        )
        session.commit()
    assert (too_late.actions, too_late.events) == ([], [])
    assert (comment.status, comment.version) == (CommentStatus.PENDING, 1)
    with writes(session) as live:
        decision = lifecycle.record_scores(
            session, comment, {"toxicity": 0.01}, scorer, 1.0, utcnow(), live_token
        )
        assert decision is not None
        # And again after the live worker finished: still dropped.
        assert (
            lifecycle.record_scores(
                session, comment, {"toxicity": 0.9}, scorer, 1.0, utcnow(), dead_token
            )
            is None
        )
        session.commit()
    assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 2)
    assert [e.type for e in live.events] == [EventType.PUBLISHED]
    assert len(live.actions) == 1
    assert [s.labels for s in comment.scores] == [{"toxicity": 0.01}]


class ScorerWithSomeoneMeanwhile:
    """The real model; while it scores, someone else (``meanwhile``) changes the comment
    in their own session and commits, as a moderator or author would in a request."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        inner = get_scorer()
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.labels = inner.labels
        self.default_thresholds = inner.default_thresholds
        self.meanwhile = meanwhile

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.meanwhile()
        return self.inner.score(texts)


def _moderator_hides_meanwhile(comment_id: int, moderator_id: int) -> Callable[[], None]:
    def hide() -> None:
        with Session(db.engine) as other:
            person = other.get(Moderator, moderator_id)
            assert person is not None
            review.decide(
                other,
                person,
                review.scope_of(person),
                [(comment_id, 2)],
                review.Action.HIDE,
                utcnow(),
            )
            other.commit()

    return hide


def test_a_moderator_deciding_while_a_rescore_runs_wins(session: Session, site: Site) -> None:
    person = factories.moderator(session)
    # An older model let it through; the re-score would hold it, the moderator hides it.
    comment = factories.scored(session, factories.submit(session, site, TOXIC), {"toxicity": 0.1})
    scorer = ScorerWithSomeoneMeanwhile(_moderator_hides_meanwhile(comment.id, person.id))
    with writes(session) as written:
        result = rescoring.rescore_batch(session, scorer, [comment.id], utcnow())
        session.commit()
    # The re-score found the comment changed since it loaded it: it writes nothing, and
    # leaves the comment to the next run.
    assert (result.scored, result.changed, result.skipped) == (0, 0, 1)
    session.refresh(comment)
    assert (comment.status, comment.version) == (CommentStatus.HIDDEN, 3)
    [action] = written.actions
    assert (action.actor, action.moderator_id, action.to_status) == (
        Actor.MODERATOR,
        person.id,
        CommentStatus.HIDDEN,
    )
    assert [e.type for e in written.events] == [EventType.HIDDEN]
    assert len(comment.scores) == 1
    assert comment.actions[-1] == action  # no system action after the moderator's


def test_the_next_rescore_run_scores_what_changed_meanwhile_and_tells_its_status(
    session: Session, site: Site
) -> None:
    person = factories.moderator(session)
    comment = factories.scored(session, factories.submit(session, site, TOXIC), {"toxicity": 0.1})
    scorer = ScorerWithSomeoneMeanwhile(_moderator_hides_meanwhile(comment.id, person.id))
    rescoring.rescore_batch(session, scorer, [comment.id], utcnow())
    session.commit()
    with writes(session) as written:
        result = rescoring.rescore_batch(session, get_scorer(), [comment.id], utcnow())
        session.commit()
    assert (result.scored, result.changed, result.skipped) == (1, 0, 0)
    [scored_event] = written.events
    # A consumer reading in id order is never told the comment is visible again.
    assert scored_event.type == EventType.SCORED
    assert (scored_event.payload["status"], scored_event.payload["version"]) == ("hidden", 3)
    session.refresh(comment)
    assert comment.status == CommentStatus.HIDDEN  # the moderator's decision stands


def _author_edits_meanwhile(comment_id: int, body: str) -> Callable[[], None]:
    def edit() -> None:
        with Session(db.engine) as other:
            comments.edit_by_author(
                other, comment_id, author_token=TOKEN, body=body, now=utcnow(), window=WINDOW
            )
            other.commit()

    return edit


def test_an_edit_while_a_rescore_runs_leaves_the_new_text_to_the_worker(
    session: Session, site: Site
) -> None:
    comment = visible(session, site, CLEAN, author_token=TOKEN)
    scorer = ScorerWithSomeoneMeanwhile(
        _author_edits_meanwhile(comment.id, "That is a lovely idea")
    )
    rescoring.rescore_batch(session, scorer, [comment.id], utcnow())
    session.commit()
    session.refresh(comment)
    assert (comment.status, comment.body) == (CommentStatus.PENDING, "That is a lovely idea")
    # The worker scores the new text, and its score is the one that stands.
    assert run_worker(session).scored == 1
    session.refresh(comment)
    assert comment.status == CommentStatus.VISIBLE
    assert current_score(session, comment).labels == get_scorer().score([comment.body])[0]


# ---------------------------------------------------------------- a whole life, and the outbox


def test_the_outbox_tells_a_comments_whole_life_one_event_per_change(
    session: Session, site: Site
) -> None:
    person = factories.moderator(session)
    with writes(session) as life:
        comment = factories.submit(session, site, TOXIC, author_token=TOKEN)
        run_worker(session)  # held by the model
        comments.edit_by_author(
            session,
            comment.id,
            author_token=TOKEN,
            body="Sorry, that was rude of me",
            now=utcnow(),
            window=WINDOW,
        )
        session.commit()
        run_worker(session)  # the new text is published
        session.refresh(comment)
        for reader in ("r1", "r1", "r2", "r3"):  # the third distinct reader holds it
            report(session, comment, reader)
        decide(session, person, comment, review.Action.APPROVE)
        report(session, comment, "r4")  # only one reader since the moderator looked
        rescoring.rescore_batch(session, get_scorer(), [comment.id], utcnow())  # people decided
        session.commit()
        factories.deleted_by_author(session, comment, TOKEN)
    session.refresh(comment)

    assert [e.type for e in life.events] == [
        EventType.CREATED,
        EventType.HELD,
        EventType.EDITED,
        EventType.PUBLISHED,
        EventType.REPORTED,
        EventType.REPORTED,
        EventType.REPORTED,
        EventType.HELD,
        EventType.PUBLISHED,
        EventType.REPORTED,
        EventType.SCORED,
        EventType.DELETED,
    ]
    assert [(a.rule, a.to_status) for a in life.actions] == [
        (Rule.LABEL_OVER_HOLD, CommentStatus.HELD),
        (Rule.AUTHOR_EDIT, CommentStatus.PENDING),
        (Rule.PASSED_POLICY, CommentStatus.VISIBLE),
        (Rule.READER_REPORTS, CommentStatus.HELD),
        (Rule.MODERATOR, CommentStatus.VISIBLE),
        (Rule.AUTHOR_DELETE, CommentStatus.HIDDEN),
    ]
    # One event per status change, one to one, in the same order...
    told = [e for e in life.events if e.action_id is not None]
    assert [e.action_id for e in told] == [a.id for a in life.actions]
    # ...and the others are the changes that left the status alone.
    assert {e.type for e in life.events if e.action_id is None} == {
        EventType.CREATED,
        EventType.SCORED,
        EventType.REPORTED,
    }
    # Each change starts where the previous one ended, and bumps the version by one.
    statuses = [CommentStatus.PENDING] + [a.to_status for a in life.actions]
    assert [a.from_status for a in life.actions] == statuses[:-1]
    assert [e.payload["version"] for e in told] == list(range(2, 2 + len(life.actions)))
    assert [e.payload["status"] for e in told] == [s.value for s in statuses[1:]]
    assert (comment.status, comment.version) == (CommentStatus.HIDDEN, 1 + len(life.actions))
    for action in life.actions:
        assert lifecycle.describe(action.rule, action.detail) == action.reason
    # The whole database agrees: every action has its event, and no event is orphaned.
    assert session.scalar(select(func.count(ModerationAction.id))) == len(life.actions)
    assert session.scalar(
        select(func.count(OutboxEvent.id)).where(OutboxEvent.action_id.is_not(None))
    ) == len(life.actions)


def test_a_change_that_is_rolled_back_leaves_no_event(session: Session, site: Site) -> None:
    person = factories.moderator(session)
    comment = visible(session, site)
    with writes(session) as written:
        assert lifecycle.moderate(
            session,
            comment,
            comment.version,
            CommentStatus.HIDDEN,
            moderator_id=person.id,
            decision_id=uuid.uuid4().hex,
            detail={"action": "hide", "note": None},
            now=utcnow(),
        )
        session.flush()
        # Written in the transaction, but nobody outside it is told before it commits.
        assert session.scalar(select(func.count(OutboxEvent.id))) == 3
        with Session(db.engine) as consumer:
            assert consumer.scalar(select(func.count(OutboxEvent.id))) == 2
        session.rollback()
    assert (written.actions, written.events) == ([], [])
    assert (comment.status, comment.version) == (CommentStatus.VISIBLE, 2)
    # A submission rolled back tells nothing either.
    with writes(session) as submitted:
        comments.submit(
            session,
            site_slug=site.slug,
            thread_key="t",
            author_name="A",
            body=CLEAN,
            now=utcnow(),
        )
        session.rollback()
    assert (submitted.actions, submitted.events) == ([], [])
    assert session.scalar(select(func.count(Comment.id))) == 1
