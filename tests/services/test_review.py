"""Moderators' decisions: the queue, optimistic checks, whole-thread hiding, undo, audit."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from moderation.models import Comment, Moderator, Site
from moderation.services import flags, review
from moderation.services.review import Action, AlreadyDecided, QueueFilter, Scope, Tab
from moderation.types import CommentStatus, FlagReason, Role, utcnow
from tests import factories
from tests.conftest import make_site
from tests.review.conftest import account

ALL = Scope(None)


def moderator(
    session: Session,
    email: str = "mod@example.org",
    role: Role = Role.ADMIN,
    sites: list[Site] | None = None,
) -> Moderator:
    return account(session, email, role, sites)


def held(
    session: Session,
    site: Site,
    body: str = "borderline",
    parent: Comment | None = None,
    score: float = 0.5,
    status: CommentStatus = CommentStatus.HELD,
) -> Comment:
    return factories.with_status(session, site, body, status=status, top_score=score, parent=parent)


def test_held_tab_lists_highest_score_first_and_counts_every_tab(
    session: Session, site: Site
) -> None:
    low = held(session, site, "low", score=0.4)
    high = held(session, site, "high", score=0.99)
    visible = held(session, site, "fine", status=CommentStatus.VISIBLE, score=0.01)
    flags.flag_comment(session, visible.id, FlagReason.SPAM, None, None, utcnow())
    session.commit()
    page = review.queue(session, ALL, Tab.HELD)
    assert [c.id for c in page.items] == [high.id, low.id]
    newest = review.queue(session, ALL, Tab.HELD, order=review.Order.NEWEST)
    assert newest.items[0].id == high.id  # written last
    counts = review.counts(session, ALL)
    assert (counts[Tab.HELD], counts[Tab.REPORTED], counts[Tab.ALL]) == (2, 1, 3)


def test_filters_narrow_the_queue(session: Session, site: Site) -> None:
    held(session, site, "buy cheap pills", score=0.3)
    target = held(session, site, "you absolute clown", score=0.95)
    assert [
        c.id for c in review.queue(session, ALL, Tab.HELD, QueueFilter(search="CLOWN")).items
    ] == [target.id]
    assert [
        c.id for c in review.queue(session, ALL, Tab.HELD, QueueFilter(min_score=0.9)).items
    ] == [target.id]


def test_a_moderator_sees_only_their_sites(session: Session, site: Site) -> None:
    other = make_site(session, "news")
    mine = held(session, site)
    held(session, other)
    scope = review.scope_of(moderator(session, role=Role.MODERATOR, sites=[site]))
    assert [c.id for c in review.queue(session, scope).items] == [mine.id]


def test_approve_records_who_when_and_why(session: Session, site: Site) -> None:
    person = moderator(session)
    comment = held(session, site)
    review.decide(
        session,
        person,
        ALL,
        [(comment.id, comment.version)],
        Action.APPROVE,
        utcnow(),
        reason="fair criticism",
    )
    session.commit()
    assert comment.status == CommentStatus.VISIBLE
    action = comment.actions[-1]
    assert (action.moderator_id, action.from_status, action.to_status, action.reason) == (
        person.id,
        CommentStatus.HELD,
        CommentStatus.VISIBLE,
        "fair criticism",
    )


def test_the_second_of_two_moderators_is_told_and_nothing_is_overwritten(
    session: Session, site: Site
) -> None:
    first = moderator(session, "first@example.org")
    second = moderator(session, "second@example.org")
    comment = held(session, site)
    seen_by_both = comment.version
    review.decide(session, first, ALL, [(comment.id, seen_by_both)], Action.HIDE, utcnow())
    session.commit()
    with pytest.raises(
        AlreadyDecided, match="already decided by first@example.org: it is now hidden"
    ):
        review.decide(session, second, ALL, [(comment.id, seen_by_both)], Action.APPROVE, utcnow())
    session.rollback()
    assert comment.status == CommentStatus.HIDDEN
    assert len([a for a in comment.actions if a.moderator_id]) == 1


def test_hide_with_replies_hides_the_whole_subtree_and_nothing_else(
    session: Session, site: Site
) -> None:
    top = held(session, site, "top", status=CommentStatus.VISIBLE)
    parent = held(session, site, "parent", top, status=CommentStatus.VISIBLE)
    child = held(session, site, "child", parent, status=CommentStatus.VISIBLE)
    grandchild = held(session, site, "grandchild", child, status=CommentStatus.HELD)
    sibling = held(session, site, "sibling", top, status=CommentStatus.VISIBLE)
    result = review.decide(
        session,
        moderator(session),
        ALL,
        [(parent.id, parent.version)],
        Action.HIDE_THREAD,
        utcnow(),
    )
    session.commit()
    assert {c.id for c in result.changed} == {parent.id, child.id, grandchild.id}
    assert {parent.status, child.status, grandchild.status} == {CommentStatus.HIDDEN}
    assert (top.status, sibling.status) == (CommentStatus.VISIBLE, CommentStatus.VISIBLE)


def test_undo_puts_a_bulk_decision_back(session: Session, site: Site) -> None:
    person = moderator(session)
    a, b = held(session, site, "a"), held(session, site, "b")
    result = review.decide(
        session, person, ALL, [(a.id, a.version), (b.id, b.version)], Action.HIDE, utcnow()
    )
    session.commit()
    review.undo(session, person, ALL, result.decision_id, utcnow())
    session.commit()
    assert (a.status, b.status) == (CommentStatus.HELD, CommentStatus.HELD)
    assert a.actions[-1].reason == "undo: hidden"


def test_undo_is_refused_once_someone_else_decided_since(session: Session, site: Site) -> None:
    first, second = moderator(session, "1@example.org"), moderator(session, "2@example.org")
    comment = held(session, site)
    result = review.decide(
        session, first, ALL, [(comment.id, comment.version)], Action.HIDE, utcnow()
    )
    review.decide(session, second, ALL, [(comment.id, comment.version)], Action.RESTORE, utcnow())
    session.commit()
    with pytest.raises(AlreadyDecided):
        review.undo(session, first, ALL, result.decision_id, utcnow())


def test_audit_log_filters_by_moderator(session: Session, site: Site) -> None:
    first, second = moderator(session, "1@example.org"), moderator(session, "2@example.org")
    a, b = held(session, site, "a"), held(session, site, "b")
    review.decide(session, first, ALL, [(a.id, a.version)], Action.APPROVE, utcnow())
    review.decide(session, second, ALL, [(b.id, b.version)], Action.HIDE, utcnow())
    session.commit()
    rows, total = review.audit_log(session, ALL, review.AuditFilter(moderator_id=second.id))
    assert total == 1 and rows[0].comment_id == b.id


def test_dashboard_counts_overturns_against_what_the_model_decided(
    session: Session, site: Site
) -> None:
    from moderation.services.dashboard import dashboard

    person = moderator(session)

    def scored(body: str, outcome: CommentStatus) -> Comment:
        toxicity = 0.9 if outcome == CommentStatus.HELD else 0.01  # lite holds at 0.35
        comment = factories.scored(
            session, factories.submit(session, site, body), {"toxicity": toxicity}
        )
        assert comment.status == outcome
        return comment

    too_strict = scored("held by the model, approved", CommentStatus.HELD)
    right = scored("held by the model, hidden", CommentStatus.HELD)
    missed = scored("let through, then reported", CommentStatus.VISIBLE)
    for _ in range(3):
        flags.flag_comment(session, missed.id, FlagReason.ABUSIVE, None, None, utcnow())
    session.commit()
    assert missed.status == CommentStatus.HELD  # readers sent it to review
    for comment, action in (
        (too_strict, Action.APPROVE),
        (right, Action.HIDE),
        (missed, Action.HIDE),
    ):
        review.decide(session, person, ALL, [(comment.id, comment.version)], action, utcnow())
    session.commit()
    stats = dashboard(session, ALL, utcnow())
    assert (stats.held_reviewed, stats.held_approved, stats.visible_hidden) == (2, 1, 1)
    assert stats.decisions_per_day[-1][1] == {"approve": 1.0, "hide": 2.0}
    assert stats.queue_size[-1][1] == 0.0


def test_the_dashboard_leaves_out_undone_decisions_and_their_undos(
    session: Session, site: Site
) -> None:
    from moderation.services.dashboard import dashboard

    person = moderator(session)
    comments = [
        factories.scored(session, factories.submit(session, site, f"rude {i}"), {"toxicity": 0.9})
        for i in range(6)
    ]
    assert {c.status for c in comments} == {CommentStatus.HELD}
    decisions = {}
    for comment in comments[:5]:
        decisions[comment.id] = review.decide(
            session, person, ALL, [(comment.id, comment.version)], Action.APPROVE, utcnow()
        ).decision_id
    review.decide(
        session, person, ALL, [(comments[5].id, comments[5].version)], Action.HIDE, utcnow()
    )
    session.commit()
    # Two approvals were mistakes: undone, and the comments hidden instead.
    for comment in comments[:2]:
        review.undo(session, person, ALL, decisions[comment.id], utcnow())
        assert comment.status == CommentStatus.HELD
        review.decide(session, person, ALL, [(comment.id, comment.version)], Action.HIDE, utcnow())
    session.commit()
    stats = dashboard(session, ALL, utcnow())
    assert (stats.held_reviewed, stats.held_approved) == (6, 3)  # "3 of 6", not "5 of 6"
    assert stats.decisions_per_day[-1][1] == {"approve": 3.0, "hide": 3.0}


def test_two_moderators_who_loaded_the_same_version_cannot_both_win(
    session: Session, site: Site
) -> None:
    """Each moderator works in their own session (request) and read version 1 before
    either decided: the conditional update lets exactly one of them through."""
    from sqlalchemy.orm import Session as OrmSession

    from moderation.db import db

    first, second = moderator(session, "1@example.org"), moderator(session, "2@example.org")
    comment = held(session, site)
    with OrmSession(db.engine) as a, OrmSession(db.engine) as b:
        seen_a = a.get(Comment, comment.id)
        seen_b = b.get(Comment, comment.id)
        assert seen_a is not None and seen_b is not None
        assert seen_a.version == seen_b.version
        review.decide(
            a,
            a.get(Moderator, first.id),
            ALL,
            [(comment.id, seen_a.version)],
            Action.APPROVE,
            utcnow(),
        )
        a.commit()
        with pytest.raises(AlreadyDecided, match="by 1@example.org: it is now visible"):
            review.decide(
                b,
                b.get(Moderator, second.id),
                ALL,
                [(comment.id, seen_b.version)],
                Action.HIDE,
                utcnow(),
            )
        b.rollback()
    session.expire_all()
    assert comment.status == CommentStatus.VISIBLE
    assert [a.moderator_id for a in comment.actions] == [first.id]


def test_a_comment_its_author_deleted_cannot_be_approved_or_restored(
    session: Session, site: Site
) -> None:
    from moderation.services.errors import Invalid

    comment = factories.submit(session, site, author_token="t" * 32)
    factories.deleted_by_author(session, comment, "t" * 32)
    for action in (Action.RESTORE, Action.APPROVE):
        with pytest.raises(Invalid, match="deleted by its author"):
            review.decide(
                session,
                moderator(session, f"{action}@example.org"),
                ALL,
                [(comment.id, comment.version)],
                action,
                utcnow(),
            )
        session.rollback()


def test_a_keep_cannot_be_undone_and_says_what_to_do_instead(session: Session, site: Site) -> None:
    from moderation.services.errors import Invalid

    person = moderator(session)
    comment = held(session, site, status=CommentStatus.VISIBLE, score=0.1)
    flags.flag_comment(session, comment.id, FlagReason.SPAM, None, None, utcnow())
    session.commit()
    result = review.decide(
        session, person, ALL, [(comment.id, comment.version)], Action.KEEP, utcnow()
    )
    session.commit()
    assert [c.id for c in result.changed] == [comment.id]
    with pytest.raises(Invalid, match="a Keep cannot be undone; hide the comment"):
        review.undo(session, person, ALL, result.decision_id, utcnow())


def test_the_reason_filter_finds_each_targeting_rule_that_fired(
    session: Session, site: Site
) -> None:
    from moderation.scoring.lite import LiteScorer
    from moderation.services import comments, worker

    bodies = {
        "threat": "Someone should shoot that reporter.",
        "veiled threat": "I know where you live.",
        "insult aimed at someone": "You absolute moron.",
        "attack on a group": "Refugees are vermin.",
        "profanity aimed at no one": "Shit, the printer jammed again.",
    }
    posted = {
        reason: comments.submit(
            session, site_slug=site.slug, thread_key="t", author_name="A", body=body, now=utcnow()
        )  # fmt: skip
        for reason, body in bodies.items()
    }
    session.commit()
    worker.process_batch(session, LiteScorer(), "w1", batch_size=10, lease_seconds=60,
                         max_attempts=3)  # fmt: skip
    session.expire_all()
    for reason, comment in posted.items():
        assert reason in review.REASON_FILTERS
        found = review.queue(session, ALL, Tab.ALL, QueueFilter(reason=reason)).items
        assert [c.id for c in found] == [comment.id], reason
    assert posted["profanity aimed at no one"].status == CommentStatus.VISIBLE
    assert posted["threat"].status == CommentStatus.HELD
    assert posted["veiled threat"].actions[-1].reason == (
        "veiled threat aimed at a person: 'i know where you live'"
    )
