"""Moderators close and reopen threads and pin a comment on top; each is recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moderation.models import Comment, Moderator, Site, ThreadAction
from moderation.services import comments, threads
from moderation.services.errors import Conflict, Invalid
from moderation.types import CommentStatus, ThreadChange, utcnow
from tests import factories
from tests.conftest import database_state


@pytest.fixture
def mod(session: Session) -> Moderator:
    return factories.moderator(session, "mod-threads@example.org")


def visible(session: Session, site: Site, body: str, parent: Comment | None = None) -> Comment:
    return factories.with_status(
        session, site, body, status=CommentStatus.VISIBLE, parent=parent, thread="t"
    )


def bodies(page: threads.ThreadPage) -> list[str]:
    return [node.comment.body for node in page.roots]


def test_a_closed_thread_refuses_comments_and_replies_until_reopened(
    session: Session, site: Site, mod: Moderator
) -> None:
    first = visible(session, site, "first")
    thread = first.thread
    assert threads.set_closed(session, thread, True, mod, utcnow())
    session.commit()
    before = database_state(session)
    with pytest.raises(Conflict, match="closed"):
        factories.submit(session, site, "too late", thread="t")
    session.rollback()
    with pytest.raises(Conflict, match="closed"):
        factories.submit(session, site, "a late reply", thread="t", parent=first)
    session.rollback()
    assert database_state(session) == before

    assert threads.set_closed(session, thread, False, mod, utcnow())
    session.commit()
    assert factories.submit(session, site, "welcome back", thread="t").status == (
        CommentStatus.PENDING
    )
    changes = session.scalars(select(ThreadAction).order_by(ThreadAction.id)).all()
    assert [(c.change, c.moderator_id, c.thread_id) for c in changes] == [
        (ThreadChange.CLOSE, mod.id, thread.id),
        (ThreadChange.REOPEN, mod.id, thread.id),
    ]
    # Closing a closed thread is no change, and no record.
    assert not threads.set_closed(session, thread, False, mod, utcnow())


def test_the_pinned_comment_comes_first_once_across_pages(
    session: Session, site: Site, mod: Moderator
) -> None:
    roots = [visible(session, site, f"c{i}") for i in range(7)]
    visible(session, site, "reply to c4", parent=roots[4])
    threads.pin(session, roots[4], mod, utcnow())
    session.commit()
    thread = roots[0].thread

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = threads.tree(session, thread, 2, after)
        seen += bodies(page)
        pages += 1
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == ["c4", "c0", "c1", "c2", "c3", "c5", "c6"]
    assert pages == 3

    first = threads.tree(session, thread, 2)
    assert [n.pinned for n in first.roots] == [True, False, False]
    assert [r.comment.body for r in first.roots[0].replies] == ["reply to c4"]


def test_pinning_another_comment_unpins_the_first_and_unpin_puts_it_back(
    session: Session, site: Site, mod: Moderator
) -> None:
    a, b, c = (visible(session, site, body) for body in ("a", "b", "c"))
    threads.pin(session, c, mod, utcnow())
    previous = threads.pin(session, b, mod, utcnow())
    session.commit()
    assert previous is c
    assert bodies(threads.tree(session, a.thread, 10)) == ["b", "a", "c"]
    assert threads.unpin(session, b, mod, utcnow())
    session.commit()
    assert bodies(threads.tree(session, a.thread, 10)) == ["a", "b", "c"]
    changes = session.scalars(select(ThreadAction).order_by(ThreadAction.id)).all()
    assert [(x.change, x.comment_id) for x in changes] == [
        (ThreadChange.PIN, c.id),
        (ThreadChange.UNPIN, c.id),
        (ThreadChange.PIN, b.id),
        (ThreadChange.UNPIN, b.id),
    ]


def test_only_a_visible_top_level_comment_can_be_pinned(
    session: Session, site: Site, mod: Moderator
) -> None:
    root = visible(session, site, "root")
    reply = visible(session, site, "reply", parent=root)
    held = factories.with_status(session, site, "held", status=CommentStatus.HELD, thread="t")
    before = database_state(session)
    with pytest.raises(Invalid, match="top-level"):
        threads.pin(session, reply, mod, utcnow())
    with pytest.raises(Invalid, match="visible"):
        threads.pin(session, held, mod, utcnow())
    session.rollback()
    assert database_state(session) == before


def test_an_authors_own_comment_under_the_pinned_one_shows_once_on_the_first_page(
    session: Session, site: Site, mod: Moderator
) -> None:
    roots = [visible(session, site, f"c{i}") for i in range(5)]
    token = comments.new_author_token()
    own = factories.submit(session, site, "my pending reply", thread="t", parent=roots[3],
                           author_token=token)  # fmt: skip
    threads.pin(session, roots[3], mod, utcnow())
    session.commit()
    hashes = [comments.hash_author_token(token)]
    found: list[int] = []
    after = None
    while True:
        page = threads.tree(session, roots[0].thread, 2, after)
        page = comments.include_own_comments(session, page, after, hashes)
        stack = list(page.roots)
        while stack:
            node = stack.pop()
            found.append(node.comment.id)
            stack.extend(node.replies)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert sorted(found) == sorted([r.id for r in roots] + [own.id])


def test_the_database_holds_at_most_one_pinned_comment_per_thread(
    session: Session, site: Site
) -> None:
    # What settles two moderators pinning at the same moment (threads.pin: Conflict).
    a, b = visible(session, site, "a"), visible(session, site, "b")
    elsewhere = factories.with_status(session, site, "c", status=CommentStatus.VISIBLE, thread="u")
    a.pinned_at = elsewhere.pinned_at = utcnow()
    session.commit()
    b.pinned_at = utcnow()
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
