"""Submitting comments and replies, reading single comments, and what an author may do
with their own comment: see it while it waits for moderation, edit it or delete it.

An author is whoever holds the comment's author token: a random secret returned once when
the comment is posted (the widget keeps it in the browser); only its sha256 is stored."""

from __future__ import annotations

import bisect
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from moderation.models import Comment, Site, Thread
from moderation.scoring import Scorer
from moderation.services import authors, lifecycle
from moderation.services.drafts import DraftNotChecked, score_within
from moderation.services.errors import Conflict, DomainError, Invalid, NotFound
from moderation.services.rendering import render_markdown
from moderation.services.sites import cached_site, origin_allowed, url_origin
from moderation.services.threads import Node, ThreadPage, sort_key
from moderation.services.transactions import savepoint
from moderation.types import BanMode, CommentStatus, Rule, StandingKind

log = logging.getLogger(__name__)


class NotAuthor(DomainError):
    """The request lacks the comment's author token, or brings another one (HTTP 403)."""


def new_author_token() -> str:
    """A fresh author token, to be handed to the author once."""
    return secrets.token_urlsafe(32)


def hash_author_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def author_token_hashes(tokens: Iterable[str], limit: int = 200) -> list[str]:
    """The hashes of up to ``limit`` plausible tokens (others are ignored, not errors:
    a browser may keep stale ones)."""
    hashes: list[str] = []
    for token in tokens:
        token = token.strip()
        if 20 <= len(token) <= 100 and token.isascii():
            hashes.append(hash_author_token(token))
        if len(hashes) >= limit:
            break
    return hashes


def hash_ip(ip: str | None, secret: str) -> str | None:
    """A keyed hash of the client IP: lets moderators see that two comments came from
    one address without the service storing the address."""
    if not ip:
        return None
    return hmac.new(secret.encode(), ip.encode(), hashlib.sha256).hexdigest()


# Built once: a post looks its thread up with it (see authors._STANDINGS for why).
_THREAD_BY_KEY = select(Thread).where(
    Thread.site_id == bindparam("site_id"), Thread.key == bindparam("key")
)


def get_or_create_thread(
    session: Session, site: Site, key: str, url: str | None, title: str | None
) -> Thread:
    """The thread ``key`` of ``site``, created on its first comment. A thread that
    exists keeps its url and title unless they were never set."""
    query, params = _THREAD_BY_KEY, {"site_id": site.id, "key": key}
    thread = session.scalar(query, params)
    if thread is None:
        # Several readers may post the first comments of a new page at once: the loser of
        # the race on (site, key) takes the winner's thread instead of failing.
        try:
            with savepoint(session):
                thread = Thread(site=site, key=key, url=url, title=title, closed=False)
                session.add(thread)
        except IntegrityError:
            thread = session.scalars(query.execution_options(populate_existing=True), params).one()
    else:
        # Only when missing: assigning even the same value makes the commit flush the thread.
        if thread.url is None and url is not None:
            thread.url = url
        if thread.title is None and title is not None:
            thread.title = title
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
    author_token: str | None = None,
    acknowledged_warning: bool = False,
    notify_replies: bool = False,
    reader_language: str | None = None,
    scores: dict[str, float] | None = None,
    scorer: Scorer | None = None,
    scoring_ms: float = 0.0,
) -> Comment:
    """Store a new comment as ``pending`` in its thread (created on first use), for the
    scorer; with the ``scores`` ``scorer`` gave its text before (in ``scoring_ms``), it is
    stored with the site policy's decision on them instead, in the same transaction. A
    comment the author posted despite the pre-posting warning (``acknowledged_warning``)
    is held for a moderator at once instead: the author was told it may break a
    guideline, so a person decides, whatever the model says later.

    ``notify_replies``: the author wants a mail at ``author_email`` for each visible
    reply (see reader_mail; the outbox's consumer asks them to confirm first).

    Raises NotFound for an unknown site, Invalid for a parent in another thread, a
    ``thread_url`` outside the site's origins or ``notify_replies`` without an email,
    Conflict for a closed thread or a reply under a hidden comment, AuthorBanned for a
    banned author on a site that refuses their comments (nothing stored)."""
    if notify_replies and not (author_email or "").strip():
        raise Invalid(
            "needs author_email: replies are mailed to that address", field="notify_replies"
        )
    site = cached_site(session, site_slug)
    if thread_url is not None:
        # The queue links moderators to the thread's URL: only the site's own pages.
        origin = url_origin(thread_url)
        if origin is None or not origin_allowed(site.allowed_origins, origin):
            why = (f"its origin {origin!r} is not one of them" if origin is not None
                   else "it is not a plain http(s) address")  # fmt: skip
            raise Invalid(
                f"must be a page of the site's origins "
                f"({', '.join(site.allowed_origins) or 'none set'}): {why}",
                field="thread_url",
            )
    key = authors.author_key(author_email, ip_hash)
    # Looked up once per post: for the refusal here and for the policy below.
    standing: StandingKind | None | Literal["look up"] = "look up"
    if site.ban_mode == BanMode.REFUSE or (scores is not None and not acknowledged_warning):
        standing = authors.standing_kind(session, site.id, key, ip_hash, now)
    if site.ban_mode == BanMode.REFUSE and standing == StandingKind.BAN:
        raise authors.AuthorBanned(
            "a moderator of this site has banned you from commenting here; "
            "your comment was not stored"
        )
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
        author_key=key,
        body=body,
        body_html=render_markdown(body),
        score_attempts=0,
        flag_count=0,
        author_token_hash=hash_author_token(author_token) if author_token else None,
        acknowledged_warning=acknowledged_warning,
        notify_replies=notify_replies,
        reader_language=reader_language,
        created_at=now,
        updated_at=now,
    )
    if acknowledged_warning:
        return lifecycle.create(
            session, comment, now, CommentStatus.HELD, rule=Rule.POSTED_DESPITE_WARNING
        )
    scored = None
    if scores is not None and scorer is not None:
        try:
            decision = lifecycle.decide(session, comment, scores, scorer, now, author=standing)
            scored = lifecycle.Scored(scores, scorer, scoring_ms, decision)
        except (OperationalError, InterfaceError):
            # The database itself went away (the decision reads the site's calibration):
            # the comment cannot be stored either, and the request must fail as a whole
            # (503) for the writer to retry, not go on in a broken transaction (a 500).
            raise
        except Exception:
            # Stored pending instead: the worker scores it and applies the policy again.
            log.exception("applying the policy to the inline scores failed")
    return lifecycle.create(session, comment, now, CommentStatus.PENDING, scored=scored)


def get_visible_comment(session: Session, comment_id: int) -> Comment:
    """The comment if readers may see it; NotFound otherwise (hidden, held and pending
    comments do not exist for readers)."""
    comment = session.get(Comment, comment_id)
    if comment is None or comment.status != CommentStatus.VISIBLE:
        raise NotFound(f"no comment {comment_id}")
    return comment


def get_comment_for_reader(
    session: Session, comment_id: int, token_hashes: Collection[str] = ()
) -> Comment:
    """The comment if readers may see it, or if one of ``token_hashes`` is its author's
    (authors see their own comment while it waits for moderation); NotFound otherwise."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(f"no comment {comment_id}")
    if comment.status != CommentStatus.VISIBLE and comment.author_token_hash not in token_hashes:
        raise NotFound(f"no comment {comment_id}")
    return comment


def include_own_comments(
    session: Session, page: ThreadPage, after_id: int | None, token_hashes: Collection[str]
) -> ThreadPage:
    """Add to ``page`` the comments of these authors that readers do not see (pending,
    held, hidden by moderation), each in its place in the tree, with tombstones for any
    missing ancestors. Only comments whose top-level comment falls in this page's range
    are added, so every comment appears on exactly one page, in any order. (``after_id``
    is the page's own: ``page.after`` says the same, in the page's order.)"""
    if not token_hashes:
        return page
    own = session.scalars(
        select(Comment)
        .where(
            Comment.thread_id == page.thread.id,
            Comment.author_token_hash.in_(list(token_hashes)),
            Comment.status != CommentStatus.VISIBLE,
        )
        .order_by(Comment.id)
    ).all()
    if not own:
        return page
    nodes: dict[int, Node] = {}
    stack = list(page.roots)
    while stack:
        node = stack.pop()
        nodes[node.comment.id] = node
        stack.extend(node.replies)
    # Top-level comments that readers see are on exactly one page (in the tree already
    # if on this one); the others (own, or with own replies only) sort as having no
    # visible replies, and belong to the page whose range holds that place.
    branch = func.coalesce(Comment.root_id, Comment.id)
    shown_roots = set(
        session.scalars(
            select(branch).where(
                Comment.thread_id == page.thread.id,
                Comment.status == CommentStatus.VISIBLE,
                branch.in_({c.root_id or c.id for c in own}),
            )
        )
    )

    def key(node: Node) -> tuple[int, int]:
        return sort_key(page.order, node.comment.id, node.reply_count)

    def place(node: Node, siblings: list[Node]) -> None:
        if siblings is not page.roots:  # replies: oldest first
            ids = [sibling.comment.id for sibling in siblings]
            siblings.insert(bisect.bisect(ids, node.comment.id), node)
            return
        # The pinned comment stays first; the others are in the page's order.
        start = 1 if siblings and siblings[0].pinned else 0
        keys = [key(sibling) for sibling in siblings[start:]]
        siblings.insert(start + bisect.bisect(keys, key(node)), node)

    for comment in own:  # oldest first: an own parent is placed before its own replies
        root_id = comment.root_id or comment.id
        if root_id not in nodes:
            if root_id == page.pinned_id or root_id in shown_roots:
                continue  # its branch is on another page
            place_at = sort_key(page.order, root_id, 0)
            if page.after is not None and place_at <= page.after:
                continue
            if page.next_after is not None and place_at > page.next_after:
                continue
        if comment.id in nodes:  # a tombstone now, since it has visible replies
            nodes[comment.id].tombstone = False
            continue
        child = nodes[comment.id] = Node(comment, tombstone=False)
        parent = comment.parent
        while parent is not None and parent.id not in nodes:
            # An ancestor no reader sees and that has no visible reply: a tombstone here.
            child = nodes[parent.id] = Node(parent, tombstone=True, replies=[child])
            parent = parent.parent
        place(child, nodes[parent.id].replies if parent is not None else page.roots)
    return page


def _own_comment(
    session: Session,
    comment_id: int,
    author_token: str | None,
    now: datetime,
    window: timedelta,
    verb: str,
) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(f"no comment {comment_id}")
    if (
        not author_token
        or comment.author_token_hash is None
        or not hmac.compare_digest(comment.author_token_hash, hash_author_token(author_token))
    ):
        raise NotAuthor(
            f"only the author of comment {comment_id} may {verb} it: send its author token "
            "in X-Author-Token",
            field="X-Author-Token",
        )
    if now - comment.created_at > window:
        minutes = int(window.total_seconds() // 60)
        done = {"edit": "edited", "delete": "deleted"}[verb]
        raise Conflict(f"a comment can be {done} only within {minutes} minutes of posting")
    return comment


def _decided_by_people(session: Session, comment: Comment) -> str | None:
    """Why the author may no longer change the comment's text: a moderator's decision, or
    readers' reports that put it on hold, apply to the text they saw."""
    decider = lifecycle.decided_by_people(session, comment)
    if decider == Rule.MODERATOR:
        return "a moderator has reviewed this comment; it can no longer be edited"
    if decider == Rule.READER_REPORTS:
        return "readers reported this comment; it waits for a moderator and can no longer be edited"
    return None


def _changed_meanwhile() -> Conflict:
    return Conflict("the comment changed meanwhile; reload it and try again")


def edit_by_author(
    session: Session,
    comment_id: int,
    *,
    author_token: str | None,
    body: str,
    now: datetime,
    window: timedelta,
    acknowledged_warning: bool = False,
) -> Comment:
    """Replace the text of the author's own comment within ``window`` of posting. The
    edited comment goes back to ``pending`` to be scored again (its current score is
    superseded), or, posted despite a warning, is held for a moderator.

    Raises NotAuthor without the right token; Conflict after the window, while the
    previous text is still being scored (its result would otherwise land on the new
    text), for a comment hidden by moderation, reviewed by a moderator or held by
    readers' reports, and when the comment changed since it was read."""
    comment = _own_comment(session, comment_id, author_token, now, window, "edit")
    if comment.status == CommentStatus.PENDING:
        raise Conflict("this comment is still being checked; try again in a moment")
    if comment.status == CommentStatus.HIDDEN:
        raise Conflict("this comment was removed and can no longer be edited")
    if reason := _decided_by_people(session, comment):
        raise Conflict(reason)
    if body == comment.body and acknowledged_warning == comment.acknowledged_warning:
        return comment
    edited = lifecycle.edit(
        session,
        comment,
        body=body,
        body_html=render_markdown(body),
        posted_despite_warning=acknowledged_warning,
        now=now,
    )
    if not edited:
        raise _changed_meanwhile()
    return comment


def delete_by_author(
    session: Session,
    comment_id: int,
    *,
    author_token: str | None,
    now: datetime,
    window: timedelta,
) -> Comment:
    """Hide the author's own comment within ``window`` of posting. A deleted comment that
    has visible replies stays in its thread as a tombstone. The author token stops
    working for it: the comment no longer belongs to anyone's view.

    Raises NotAuthor without the right token, Conflict after the window or when the
    comment was already removed."""
    comment = _own_comment(session, comment_id, author_token, now, window, "delete")
    if comment.status == CommentStatus.HIDDEN:
        raise Conflict("this comment was already removed")
    if not lifecycle.delete(session, comment, now):
        raise _changed_meanwhile()
    return comment


def score_held_comment(
    session: Session, comment: Comment, scorer: Scorer, budget_ms: float, now: datetime
) -> bool:
    """Score a comment that was held without scoring (posted despite the warning) so
    the moderator sees the model's opinion; its status stays ``held``. Best effort
    within ``budget_ms``: returns whether a score was recorded."""
    if comment.status != CommentStatus.HELD:
        return False
    started = time.perf_counter()
    try:
        [scores] = score_within(scorer, [comment.body], budget_ms)
    except DraftNotChecked:
        return False
    duration_ms = (time.perf_counter() - started) * 1000
    return lifecycle.record_held_score(session, comment, scores, scorer, duration_ms, now)
