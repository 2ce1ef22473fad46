"""Reader reports send a visible comment back to the moderators."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from moderation.models import Comment, Site
from moderation.services import flags, review
from moderation.services.errors import NotFound
from moderation.types import Actor, CommentStatus, FlagReason, utcnow
from tests import factories


def visible(session: Session, site: Site) -> Comment:
    return factories.with_status(session, site, "borderline", status=CommentStatus.VISIBLE)


def report(session: Session, comment: Comment, reason: FlagReason = FlagReason.ABUSIVE) -> None:
    flags.flag_comment(session, comment.id, reason, "note", None, utcnow())
    session.commit()


def test_the_third_flag_holds_a_visible_comment(session: Session, site: Site) -> None:
    comment = visible(session, site)
    report(session, comment)
    report(session, comment, FlagReason.SPAM)
    assert comment.status == CommentStatus.VISIBLE
    report(session, comment)
    assert comment.status == CommentStatus.HELD
    action = comment.actions[-1]
    assert action.actor == Actor.SYSTEM
    assert action.reason == "reported by 3 readers (site holds at 3)"
    assert [f.reason for f in comment.flags] == ["abusive", "spam", "abusive"]


def test_flags_before_a_moderators_approval_do_not_count_again(
    session: Session, site: Site
) -> None:
    comment = visible(session, site)
    for _ in range(3):
        report(session, comment)
    assert comment.status == CommentStatus.HELD
    # A moderator looked at it and approved it.
    factories.decided(session, comment, review.Action.APPROVE)
    report(session, comment)
    assert comment.status == CommentStatus.VISIBLE


def test_readers_cannot_flag_what_they_cannot_see(session: Session, site: Site) -> None:
    comment = visible(session, site)
    comment.status = CommentStatus.HELD
    session.commit()
    with pytest.raises(NotFound):
        flags.flag_comment(session, comment.id, FlagReason.SPAM, None, None, utcnow())


def test_one_reader_reporting_three_times_counts_once(session: Session, site: Site) -> None:
    comment = visible(session, site)
    for _ in range(3):
        flags.flag_comment(session, comment.id, FlagReason.ABUSIVE, None, "same-reader", utcnow())
        session.commit()
    assert comment.status == CommentStatus.VISIBLE
    for reader in ("second-reader", "third-reader"):
        flags.flag_comment(session, comment.id, FlagReason.ABUSIVE, None, reader, utcnow())
        session.commit()
    assert comment.status == CommentStatus.HELD
