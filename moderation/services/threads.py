"""Reading threads as trees of visible comments, and comment counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from moderation.models import Comment, Site, Thread
from moderation.services.errors import NotFound
from moderation.types import CommentStatus


@dataclass
class Node:
    """A comment in the tree. ``tombstone`` nodes stand for a comment readers may not
    see but whose visible replies need a place to hang."""

    comment: Comment
    tombstone: bool
    replies: list[Node] = field(default_factory=list)


@dataclass
class ThreadPage:
    thread: Thread
    comment_count: int
    roots: list[Node]
    next_cursor: int | None


def get_thread(session: Session, site: Site, key: str) -> Thread:
    """The thread ``key`` of ``site``, or NotFound."""
    thread = session.scalar(select(Thread).where(Thread.site_id == site.id, Thread.key == key))
    if thread is None:
        raise NotFound(f"no thread {key!r} on site {site.slug!r}")
    return thread


def version(session: Session, thread: Thread) -> tuple[int, int, int]:
    """What changes whenever the thread as readers see it may change: its comments'
    number, newest id and summed versions. Every change of what readers see of a comment
    (its status, its text) bumps its ``version`` in the same UPDATE (lifecycle), so this
    grows with each such commit, and it is read by whoever asks from the database itself."""
    row = session.execute(
        select(func.count(Comment.id), func.max(Comment.id), func.sum(Comment.version)).where(
            Comment.thread_id == thread.id
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def visible_count(session: Session, thread_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Comment)
            .where(Comment.thread_id == thread_id, Comment.status == CommentStatus.VISIBLE)
        )
        or 0
    )


def tree(session: Session, thread: Thread, limit: int, after_id: int | None = None) -> ThreadPage:
    """One page of ``thread``: up to ``limit`` top-level comments (oldest first, after
    the top-level comment ``after_id``), each with its whole subtree of visible replies.
    Comments that are not visible appear only as tombstones, and only when a visible
    reply lies below them."""
    visible_reply = aliased(Comment)
    has_visible_descendant = exists().where(
        visible_reply.root_id == Comment.id, visible_reply.status == CommentStatus.VISIBLE
    )
    roots_query = (
        select(Comment)
        .where(
            Comment.thread_id == thread.id,
            Comment.parent_id.is_(None),
            or_(Comment.status == CommentStatus.VISIBLE, has_visible_descendant),
        )
        .order_by(Comment.id)
        .limit(limit + 1)
    )
    if after_id is not None:
        roots_query = roots_query.where(Comment.id > after_id)
    roots = list(session.scalars(roots_query))
    next_cursor = None
    if len(roots) > limit:
        roots = roots[:limit]
        next_cursor = roots[-1].id

    descendants: Sequence[Comment] = []
    if roots:
        descendants = session.scalars(
            select(Comment)
            .where(
                and_(
                    Comment.thread_id == thread.id,
                    Comment.root_id.in_([r.id for r in roots]),
                )
            )
            .order_by(Comment.id)
        ).all()
    return ThreadPage(
        thread=thread,
        comment_count=visible_count(session, thread.id),
        roots=_build(roots, descendants),
        next_cursor=next_cursor,
    )


def _build(roots: Sequence[Comment], descendants: Sequence[Comment]) -> list[Node]:
    # A reply always has a larger id than its parent, so walking newest to oldest builds
    # every subtree before its parent, without recursion (threads may be hundreds deep).
    built: dict[int, Node | None] = {}
    replies_of: dict[int, list[Node]] = {}
    for comment in sorted([*roots, *descendants], key=lambda c: c.id, reverse=True):
        replies = replies_of.pop(comment.id, [])
        replies.reverse()  # collected newest first; readers get them oldest first
        node: Node | None = None
        if comment.status == CommentStatus.VISIBLE:
            node = Node(comment, tombstone=False, replies=replies)
        elif replies:
            node = Node(comment, tombstone=True, replies=replies)
        if node is not None and comment.parent_id is not None:
            replies_of.setdefault(comment.parent_id, []).append(node)
        built[comment.id] = node
    return [node for r in roots if (node := built[r.id]) is not None]


def counts(session: Session, site: Site, keys: Sequence[str]) -> dict[str, int]:
    """Visible comments per thread key; keys without a thread count 0."""
    result = {key: 0 for key in keys}
    rows = session.execute(
        select(Thread.key, func.count(Comment.id))
        .join(
            Comment, and_(Comment.thread_id == Thread.id, Comment.status == CommentStatus.VISIBLE)
        )
        .where(Thread.site_id == site.id, Thread.key.in_(list(keys)))
        .group_by(Thread.key)
    )
    for key, count in rows:
        result[key] = count
    return result
