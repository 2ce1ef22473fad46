"""Reading threads as trees of visible comments, and comment counts; what moderators do
to a thread: close it to new comments (and reopen it), pin one comment on top."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from moderation.models import Comment, Moderator, Site, Thread, ThreadAction
from moderation.services.errors import Conflict, Invalid, NotFound
from moderation.services.transactions import savepoint
from moderation.types import CommentStatus, ThreadChange


class Order(enum.StrEnum):
    """How readers sort a thread's top-level comments (replies are always oldest first,
    under their parent; the pinned comment stays first)."""

    OLDEST = "oldest"
    NEWEST = "newest"
    REPLIES = "replies"  # most visible replies in the branch first; ties oldest first


def sort_key(order: Order, comment_id: int, reply_count: int) -> tuple[int, int]:
    """Where a top-level comment stands in ``order``: ascending keys, first shown first.
    A page's cursor is the key of its last comment (keyset paging, in every order)."""
    if order == Order.NEWEST:
        return (0, -comment_id)
    if order == Order.REPLIES:
        return (-reply_count, comment_id)
    return (0, comment_id)


@dataclass
class Node:
    """A comment in the tree. ``tombstone`` nodes stand for a comment readers may not
    see but whose visible replies need a place to hang. ``reply_count``: the visible
    replies in a top-level comment's branch (what Order.REPLIES sorts by)."""

    comment: Comment
    tombstone: bool
    replies: list[Node] = field(default_factory=list)
    pinned: bool = False
    reply_count: int = 0


@dataclass
class ThreadPage:
    thread: Thread
    comment_count: int
    roots: list[Node]
    next_cursor: int | None  # the last top-level comment's id, when a next page exists
    pinned_id: int | None = None  # the pinned comment: first on the first page only
    order: Order = Order.OLDEST
    after: tuple[int, int] | None = None  # the sort key this page starts after
    next_after: tuple[int, int] | None = None  # the sort key of its last top-level comment
    next_reply_count: int = 0  # the visible replies of that comment (for the cursor)


def get_thread(session: Session, site: Site, key: str) -> Thread:
    """The thread ``key`` of ``site``, or NotFound."""
    thread = session.scalar(select(Thread).where(Thread.site_id == site.id, Thread.key == key))
    if thread is None:
        raise NotFound(f"no thread {key!r} on site {site.slug!r}")
    return thread


def version(session: Session, thread: Thread) -> tuple[int, int, int, int, bool]:
    """What changes whenever the thread as readers see it may change: its comments'
    number, newest id and summed versions, which comment is pinned, and whether the
    thread is closed. Every change of what readers see of a comment (its status, its
    text) bumps its ``version`` in the same UPDATE (lifecycle), so this grows with each
    such commit, and it is read by whoever asks from the database itself."""
    pinned = case((Comment.pinned_at.is_not(None), Comment.id), else_=0)
    row = session.execute(
        select(
            func.count(Comment.id),
            func.max(Comment.id),
            func.sum(Comment.version),
            func.max(pinned),
            select(Thread.closed).where(Thread.id == thread.id).scalar_subquery(),
        ).where(Comment.thread_id == thread.id)
    ).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0), bool(row[4])


def visible_count(session: Session, thread_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Comment)
            .where(Comment.thread_id == thread_id, Comment.status == CommentStatus.VISIBLE)
        )
        or 0
    )


def tree(
    session: Session,
    thread: Thread,
    limit: int,
    after_id: int | None = None,
    order: Order = Order.OLDEST,
    after_replies: int = 0,
) -> ThreadPage:
    """One page of ``thread``: up to ``limit`` top-level comments in ``order`` (oldest
    first by default), after the top-level comment ``after_id`` (which had
    ``after_replies`` visible replies when its page was read: Order.REPLIES pages by both,
    so that a branch gaining replies meanwhile does not shift the pages), each with its
    whole subtree of visible replies. Comments that are not visible appear only as
    tombstones, and only when a visible reply lies below them.

    The pinned comment, if any, comes first on the first page (beyond ``limit``) and
    is left out of the order on every page: the cursor pages through the others, so
    it appears exactly once."""
    visible_reply = aliased(Comment)
    has_visible_descendant = exists().where(
        visible_reply.root_id == Comment.id, visible_reply.status == CommentStatus.VISIBLE
    )
    shown = (
        Comment.thread_id == thread.id,
        Comment.parent_id.is_(None),
        or_(Comment.status == CommentStatus.VISIBLE, has_visible_descendant),
    )
    pinned_id = session.scalar(
        select(Comment.id).where(Comment.thread_id == thread.id, Comment.pinned_at.is_not(None))
    )
    counted = aliased(Comment)
    reply_count = (
        select(func.count(counted.id))
        .where(counted.root_id == Comment.id, counted.status == CommentStatus.VISIBLE)
        .correlate(Comment)
        .scalar_subquery()
    )
    roots_query = select(Comment).where(*shown).limit(limit + 1)
    if order == Order.NEWEST:
        roots_query = roots_query.order_by(Comment.id.desc())
    elif order == Order.REPLIES:
        roots_query = roots_query.order_by(reply_count.desc(), Comment.id)
    else:
        roots_query = roots_query.order_by(Comment.id)
    if pinned_id is not None:
        roots_query = roots_query.where(Comment.id != pinned_id)
    after = None if after_id is None else sort_key(order, after_id, after_replies)
    if after_id is not None:
        if order == Order.NEWEST:
            roots_query = roots_query.where(Comment.id < after_id)
        elif order == Order.REPLIES:
            roots_query = roots_query.where(
                or_(
                    reply_count < after_replies,
                    and_(reply_count == after_replies, Comment.id > after_id),
                )
            )
        else:
            roots_query = roots_query.where(Comment.id > after_id)
    roots = list(session.scalars(roots_query))
    has_more = len(roots) > limit
    roots = roots[:limit]
    if pinned_id is not None and after_id is None:
        pinned = session.scalar(select(Comment).where(*shown, Comment.id == pinned_id))
        if pinned is not None:
            roots.insert(0, pinned)

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
    nodes = _build(roots, descendants)
    visible_replies: dict[int, int] = {}
    for reply in descendants:
        if reply.status == CommentStatus.VISIBLE and reply.root_id is not None:
            visible_replies[reply.root_id] = visible_replies.get(reply.root_id, 0) + 1
    for node in nodes:
        node.pinned = node.comment.id == pinned_id and not node.tombstone
        node.reply_count = visible_replies.get(node.comment.id, 0)
    next_after = None
    next_reply_count = visible_replies.get(roots[-1].id, 0) if roots else 0
    if has_more:
        next_after = sort_key(order, roots[-1].id, next_reply_count)
    return ThreadPage(
        thread=thread,
        comment_count=visible_count(session, thread.id),
        roots=nodes,
        next_cursor=roots[-1].id if has_more else None,
        pinned_id=pinned_id,
        order=order,
        after=after,
        next_after=next_after,
        next_reply_count=next_reply_count,
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


def pinned_comment(session: Session, thread: Thread) -> Comment | None:
    """The thread's pinned comment, if one is."""
    return session.scalar(
        select(Comment).where(Comment.thread_id == thread.id, Comment.pinned_at.is_not(None))
    )


def _audit(
    session: Session,
    thread: Thread,
    change: ThreadChange,
    moderator: Moderator,
    now: datetime,
    comment: Comment | None = None,
) -> None:
    session.add(
        ThreadAction(
            thread_id=thread.id,
            change=change,
            comment_id=comment.id if comment is not None else None,
            moderator_id=moderator.id,
            created_at=now,
        )
    )
    session.flush()


def set_closed(
    session: Session, thread: Thread, closed: bool, moderator: Moderator, now: datetime
) -> bool:
    """Close ``thread`` to new comments and replies (submit answers 409), or reopen it;
    recorded in thread_action. Returns whether it changed (closing a closed thread
    changes nothing and records nothing)."""
    if thread.closed == closed:
        return False
    thread.closed = closed
    _audit(session, thread, ThreadChange.CLOSE if closed else ThreadChange.REOPEN, moderator, now)
    return True


def pin(session: Session, comment: Comment, moderator: Moderator, now: datetime) -> Comment | None:
    """Pin ``comment`` on top of its thread, unpinning the one pinned before (returned).
    Only a visible top-level comment can be pinned (Invalid otherwise); two moderators
    pinning at once: one wins, the other gets Conflict."""
    if comment.parent_id is not None:
        raise Invalid("only a top-level comment can be pinned, not a reply")
    if comment.status != CommentStatus.VISIBLE:
        raise Invalid(f"only a visible comment can be pinned; this one is {comment.status}")
    if comment.pinned_at is not None:
        return None
    previous = pinned_comment(session, comment.thread)
    if previous is not None:
        unpin(session, previous, moderator, now)
    try:
        with savepoint(session):
            comment.pinned_at = now
            session.flush()
    except IntegrityError:
        raise Conflict("another moderator pinned a comment here meanwhile; reload") from None
    _audit(session, comment.thread, ThreadChange.PIN, moderator, now, comment)
    return previous


def unpin(session: Session, comment: Comment, moderator: Moderator, now: datetime) -> bool:
    """Unpin ``comment``: it goes back to its place by date. Returns whether it was pinned."""
    if comment.pinned_at is None:
        return False
    comment.pinned_at = None
    session.flush()
    _audit(session, comment.thread, ThreadChange.UNPIN, moderator, now, comment)
    return True


def change(
    session: Session, comment: Comment, what: ThreadChange, moderator: Moderator, now: datetime
) -> None:
    """What a moderator does to a thread from one of its comments: close or reopen the
    thread, pin or unpin the comment (the review page and the admin API both ask here)."""
    if what in (ThreadChange.CLOSE, ThreadChange.REOPEN):
        set_closed(session, comment.thread, what == ThreadChange.CLOSE, moderator, now)
    elif what == ThreadChange.PIN:
        pin(session, comment, moderator, now)
    else:
        unpin(session, comment, moderator, now)


def thread_history(session: Session, thread: Thread, limit: int = 20) -> list[ThreadAction]:
    """The thread's closes, reopens, pins and unpins, newest first."""
    return list(
        session.scalars(
            select(ThreadAction)
            .where(ThreadAction.thread_id == thread.id)
            .order_by(ThreadAction.id.desc())
            .limit(limit)
        )
    )
