"""Threads as readers see them: nested replies, tombstones, pagination, counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from moderation.models import Comment, Site
from moderation.services import comments, threads
from moderation.services.errors import Conflict, Invalid
from moderation.types import CommentStatus, utcnow


def post(
    session: Session,
    site: Site,
    body: str = "hello",
    parent: Comment | None = None,
    thread: str = "post-1",
    status: CommentStatus = CommentStatus.VISIBLE,
) -> Comment:
    comment = comments.submit(
        session,
        site_slug=site.slug,
        thread_key=thread,
        author_name="Reader",
        body=body,
        now=utcnow(),
        parent_id=parent.id if parent else None,
    )
    comment.status = status
    session.commit()
    return comment


def page(
    session: Session, site: Site, key: str = "post-1", limit: int = 50, after: int | None = None
) -> threads.ThreadPage:
    return threads.tree(session, threads.get_thread(session, site, key), limit, after)


def shape(nodes: list[threads.Node]) -> list[object]:
    return [
        (n.comment.body if not n.tombstone else "†", shape(n.replies))
        if n.replies
        else (n.comment.body if not n.tombstone else "†")
        for n in nodes
    ]


def test_a_ten_deep_reply_chain_comes_back_nested_ten_deep(session: Session, site: Site) -> None:
    parent = None
    for depth in range(1, 11):
        parent = post(session, site, f"Comment Depth {depth:02d}", parent)
    result = page(session, site)
    node = result.roots[0]
    seen = [node.comment.body]
    while node.replies:
        assert len(node.replies) == 1
        node = node.replies[0]
        seen.append(node.comment.body)
    assert seen == [f"Comment Depth {d:02d}" for d in range(1, 11)]
    assert node.comment.depth == 9
    assert result.comment_count == 10


def test_replies_come_oldest_first_at_every_level(session: Session, site: Site) -> None:
    a = post(session, site, "a")
    post(session, site, "b")
    a1 = post(session, site, "a1", a)
    post(session, site, "a2", a)
    post(session, site, "a1x", a1)
    assert shape(page(session, site).roots) == [("a", [("a1", ["a1x"]), "a2"]), "b"]


def test_hidden_comment_with_visible_replies_is_a_tombstone(session: Session, site: Site) -> None:
    gone = post(session, site, "rude")
    reply = post(session, site, "calm reply", gone)
    post(session, site, "hidden leaf", reply, status=CommentStatus.HIDDEN)
    post(session, site, "lonely held", status=CommentStatus.HELD)
    gone.status = CommentStatus.HIDDEN  # hidden after the reply was written
    session.commit()
    result = page(session, site)
    assert shape(result.roots) == [("†", ["calm reply"])]
    assert result.roots[0].tombstone
    assert result.comment_count == 1


def test_tombstones_stand_in_at_any_depth(session: Session, site: Site) -> None:
    top = post(session, site, "top")
    middle = post(session, site, "middle", top)
    post(session, site, "deep", middle)
    middle.status = CommentStatus.HELD
    session.commit()
    assert shape(page(session, site).roots) == [("top", [("†", ["deep"])])]


def test_pages_of_top_level_comments_carry_their_subtrees(session: Session, site: Site) -> None:
    tops = [post(session, site, f"top {i}") for i in range(5)]
    post(session, site, "reply to 3", tops[3])
    tops[1].status = CommentStatus.HIDDEN  # no replies: skipped, not counted in the page
    session.commit()
    first = page(session, site, limit=2)
    assert shape(first.roots) == ["top 0", "top 2"]
    assert first.next_cursor is not None
    second = page(session, site, limit=2, after=first.next_cursor)
    assert shape(second.roots) == [("top 3", ["reply to 3"]), "top 4"]
    assert second.next_cursor is None


def test_counts_count_visible_comments_per_thread(session: Session, site: Site) -> None:
    post(session, site, "a", thread="one")
    post(session, site, "b", thread="one")
    post(session, site, "held", thread="one", status=CommentStatus.HELD)
    post(session, site, "c", thread="two")
    assert threads.counts(session, site, ["one", "two", "none"]) == {"one": 2, "two": 1, "none": 0}


def test_a_reply_must_stay_in_its_parents_thread(session: Session, site: Site) -> None:
    other = post(session, site, "elsewhere", thread="other")
    with pytest.raises(Invalid) as error:
        post(session, site, "cross", other, thread="post-1")
    assert error.value.field == "parent_id"


def test_no_reply_under_a_hidden_ancestor(session: Session, site: Site) -> None:
    top = post(session, site, "top")
    child = post(session, site, "child", top)
    top.status = CommentStatus.HIDDEN
    session.commit()
    with pytest.raises(Conflict, match="ancestor"):
        post(session, site, "grandchild", child)


def test_closed_threads_take_no_new_comments(session: Session, site: Site) -> None:
    first = post(session, site, "first")
    first.thread.closed = True
    session.commit()
    with pytest.raises(Conflict, match="closed"):
        post(session, site, "late")


def test_thread_keeps_the_url_and_title_it_was_created_with(session: Session, site: Site) -> None:
    for title in ("First title", "Changed"):
        comments.submit(
            session,
            site_slug=site.slug,
            thread_key="t",
            author_name="A",
            body="b",
            now=utcnow() + timedelta(seconds=1),
            thread_title=title,
            thread_url="https://blog.example/t",
        )
    session.commit()
    thread = threads.get_thread(session, site, "t")
    assert (thread.title, thread.url) == ("First title", "https://blog.example/t")
