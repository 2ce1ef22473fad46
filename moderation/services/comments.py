"""Submitting comments and replies, and reading single comments."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Comment, Site, Thread
from moderation.services.errors import Conflict, Invalid, NotFound
from moderation.services.rendering import render_markdown
from moderation.services.sites import get_site
from moderation.types import CommentStatus


def hash_ip(ip: str | None, secret: str) -> str | None:
    """A keyed hash of the client IP: lets moderators see that two comments came from
    one address without the service storing the address."""
    if not ip:
        return None
    return hmac.new(secret.encode(), ip.encode(), hashlib.sha256).hexdigest()


def get_or_create_thread(
    session: Session, site: Site, key: str, url: str | None, title: str | None
) -> Thread:
    """The thread ``key`` of ``site``, created on its first comment. A thread that
    exists keeps its url and title unless they were never set."""
    thread = session.scalar(select(Thread).where(Thread.site_id == site.id, Thread.key == key))
    if thread is None:
        thread = Thread(site=site, key=key, url=url, title=title, closed=False)
        session.add(thread)
        session.flush()
    else:
        thread.url = thread.url or url
        thread.title = thread.title or title
    return thread


def _check_parent(session: Session, thread: Thread, parent_id: int) -> Comment:
    parent = session.get(Comment, parent_id)
    if parent is None or parent.thread_id != thread.id:
        raise Invalid(f"comment {parent_id} is not in thread {thread.key!r}", field="parent_id")
    ancestor: Comment | None = parent
    while ancestor is not None:
        if ancestor.status == CommentStatus.HIDDEN:
            which = "the comment" if ancestor is parent else f"its ancestor {ancestor.id}"
            raise Conflict(
                f"cannot reply to comment {parent_id}: {which} was hidden by moderation",
                field="parent_id",
            )
        ancestor = ancestor.parent
    return parent


def submit(
    session: Session,
    *,
    site_slug: str,
    thread_key: str,
    author_name: str,
    body: str,
    now: datetime,
    thread_url: str | None = None,
    thread_title: str | None = None,
    parent_id: int | None = None,
    author_email: str | None = None,
    ip_hash: str | None = None,
    max_depth: int = 200,
) -> Comment:
    """Store a new comment as ``pending`` in its thread (created on first use).

    Raises NotFound for an unknown site, Invalid for a parent in another thread,
    Conflict for a closed thread or a reply under a hidden comment."""
    site = get_site(session, site_slug)
    thread = get_or_create_thread(session, site, thread_key, thread_url, thread_title)
    if thread.closed:
        raise Conflict(f"thread {thread_key!r} is closed to new comments", field="thread")
    parent = _check_parent(session, thread, parent_id) if parent_id is not None else None
    if parent is not None and parent.depth + 1 > max_depth:
        raise Invalid(f"replies nest at most {max_depth} levels deep", field="parent_id")
    comment = Comment(
        thread=thread,
        parent=parent,
        root_id=(parent.root_id or parent.id) if parent is not None else None,
        depth=parent.depth + 1 if parent is not None else 0,
        author_name=author_name,
        author_email=author_email,
        ip_hash=ip_hash,
        body=body,
        body_html=render_markdown(body),
        status=CommentStatus.PENDING,
        score_attempts=0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(comment)
    session.flush()
    return comment


def get_visible_comment(session: Session, comment_id: int) -> Comment:
    """The comment if readers may see it; NotFound otherwise (hidden, held and pending
    comments do not exist for readers)."""
    comment = session.get(Comment, comment_id)
    if comment is None or comment.status != CommentStatus.VISIBLE:
        raise NotFound(f"no comment {comment_id}")
    return comment
