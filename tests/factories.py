"""Test data, made through the service's own code: comments are submitted as the API
submits them, scored through the lifecycle with the app's scorer, decided as moderators
and authors decide them, so their history (actions, scores, outbox) is the real one.

One shortcut, said by its name: ``with_status`` puts a comment straight into a status
without the history that would lead there, for tests of what readers and the queue show
(trees, tombstones, ordering) where how it got there does not matter."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.models import Comment, Moderator, Site
from moderation.services import comments, lifecycle, moderators, review
from moderation.types import CommentStatus, Role, utcnow

PASSWORD = "correct horse battery"


def submit(
    session: Session,
    site: Site,
    body: str = "a comment",
    *,
    thread: str = "t",
    parent: Comment | None = None,
    author: str = "A",
    now: datetime | None = None,
    **kwargs: Any,
) -> Comment:
    """A new comment, ``pending`` for the scorer, committed (as after a POST)."""
    comment = comments.submit(
        session,
        site_slug=site.slug,
        thread_key=thread,
        author_name=author,
        body=body,
        now=now or utcnow(),
        parent_id=parent.id if parent is not None else None,
        **kwargs,
    )
    session.commit()
    return comment


def with_status(
    session: Session,
    site: Site,
    body: str = "a comment",
    *,
    status: CommentStatus,
    top_score: float | None = None,
    parent: Comment | None = None,
    thread: str = "t",
    author: str = "A",
) -> Comment:
    """A submitted comment put straight into ``status`` (and ``top_score``), without the
    actions that would have led there."""
    comment = submit(session, site, body, thread=thread, parent=parent, author=author)
    comment.status = status
    comment.top_score = top_score
    session.commit()
    return comment


def scored(
    session: Session, comment: Comment, scores: dict[str, float], now: datetime | None = None
) -> Comment:
    """The pending ``comment`` scored with these label scores, as the worker records them:
    the site's policy decides its status."""
    decision = lifecycle.record_scores(session, comment, scores, get_scorer(), 1.0, now or utcnow())
    assert decision is not None, "the comment was not pending"
    session.commit()
    return comment


def moderator(
    session: Session,
    email: str = "mod@example.org",
    role: Role = Role.ADMIN,
    sites: Sequence[Site] = (),
) -> Moderator:
    """A moderator account (an admin unless ``role`` says otherwise)."""
    person, _ = moderators.create_moderator(session, email, role, list(sites), PASSWORD)
    session.commit()
    return person


def decided(
    session: Session,
    comment: Comment,
    action: review.Action,
    by: Moderator | None = None,
    reason: str | None = None,
) -> review.DecisionResult:
    """A moderator's decision on ``comment`` as they see it now (by a new admin unless
    ``by`` says who)."""
    person = by or moderator(session, f"mod-{uuid.uuid4().hex[:8]}@example.org")
    result = review.decide(
        session,
        person,
        review.scope_of(person),
        [(comment.id, comment.version)],
        action,
        utcnow(),
        reason,
    )
    session.commit()
    return result


def deleted_by_author(session: Session, comment: Comment, author_token: str) -> Comment:
    """The author deletes their own comment (submitted with ``author_token``)."""
    comments.delete_by_author(
        session,
        comment.id,
        author_token=author_token,
        now=utcnow(),
        window=timedelta(minutes=15),
    )
    session.commit()
    return comment
