"""Exporting a site's threads and comments: our own JSON, and WordPress's WXR.

Both formats are written as a stream, one thread at a time, so a site of any size exports
in constant memory. Both carry every comment with its parent, status and dates, and the
authors' names; authors' email addresses only when the caller asks (they were given to us
for notifications, not for publication). A comment its author deleted keeps its place in
the tree (its replies hang from it) but not its text.

WXR follows what WordPress's own exporter writes (version 1.2): one ``item`` per thread,
as a post, holding that thread's ``wp:comment`` elements. Statuses map as WordPress knows
them: visible → ``1``, held or not yet scored → ``0``, hidden → ``trash``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.models import Comment, ModerationAction, Site, Thread
from moderation.types import CommentStatus, Rule, iso_utc

FORMATS = ("json", "wxr")
JSON_FORMAT_NAME = "comment-moderation-export"
JSON_FORMAT_VERSION = 1

_WXR_APPROVED = {
    CommentStatus.VISIBLE: "1",
    CommentStatus.HELD: "0",
    CommentStatus.PENDING: "0",
    CommentStatus.HIDDEN: "trash",
}


@dataclass(frozen=True)
class ExportedComment:
    """A comment as both formats need it (no ORM object outlives its batch)."""

    id: int
    parent_id: int | None
    author_name: str
    author_email: str | None
    body: str
    body_html: str
    status: CommentStatus
    deleted_by_author: bool
    created_at: datetime
    edited_at: datetime | None


@dataclass
class ExportCounts:
    threads: int = 0
    comments: int = 0


def _deleted_by_author(session: Session, thread_id: int) -> set[int]:
    """The hidden comments of the thread whose latest action is their author's deletion
    (one query per thread instead of loading every comment's history)."""
    latest = (
        select(ModerationAction.comment_id, func.max(ModerationAction.id).label("action_id"))
        .join(Comment, Comment.id == ModerationAction.comment_id)
        .where(Comment.thread_id == thread_id, Comment.status == CommentStatus.HIDDEN)
        .group_by(ModerationAction.comment_id)
        .subquery()
    )
    rows = session.execute(
        select(latest.c.comment_id)
        .join(ModerationAction, ModerationAction.id == latest.c.action_id)
        .where(ModerationAction.rule == Rule.AUTHOR_DELETE)
    )
    return {comment_id for (comment_id,) in rows}


def _comments(session: Session, thread: Thread, include_emails: bool) -> Iterator[ExportedComment]:
    """The thread's comments, parents before their replies (ids grow with time, and a
    reply is always younger than its parent)."""
    deleted = _deleted_by_author(session, thread.id)
    query = (
        select(
            Comment.id,
            Comment.parent_id,
            Comment.author_name,
            Comment.author_email,
            Comment.body,
            Comment.body_html,
            Comment.status,
            Comment.created_at,
            Comment.edited_at,
        )
        .where(Comment.thread_id == thread.id)
        .order_by(Comment.id)
        .execution_options(yield_per=1000)
    )
    for row in session.execute(query):
        gone = row.id in deleted
        yield ExportedComment(
            id=row.id,
            parent_id=row.parent_id,
            author_name=row.author_name,
            author_email=row.author_email if include_emails else None,
            body="" if gone else row.body,
            body_html="" if gone else row.body_html,
            status=row.status,
            deleted_by_author=gone,
            created_at=row.created_at,
            edited_at=row.edited_at,
        )


def _threads(session: Session, site: Site) -> Iterator[Thread]:
    query = (
        select(Thread)
        .where(Thread.site_id == site.id)
        .order_by(Thread.id)
        .execution_options(yield_per=200)
    )
    yield from session.scalars(query)


# ------------------------------------------------------------------ JSON


def _json_comment(comment: ExportedComment) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": comment.id,
        "parent_id": comment.parent_id,
        "author_name": comment.author_name,
        "body": comment.body,
        "body_html": comment.body_html,
        "status": comment.status.value,
        "deleted_by_author": comment.deleted_by_author,
        "created_at": iso_utc(comment.created_at),
        "edited_at": iso_utc(comment.edited_at) if comment.edited_at else None,
    }
    if comment.author_email is not None:
        record["author_email"] = comment.author_email
    return record


def _json_chunks(
    session: Session, site: Site, now: datetime, include_emails: bool, counts: ExportCounts
) -> Iterator[str]:
    """The site as one JSON document, a thread at a time: the site, then each thread with
    its comments (flat, oldest first, each naming its parent)."""
    header = {
        "format": JSON_FORMAT_NAME,
        "version": JSON_FORMAT_VERSION,
        "exported_at": iso_utc(now),
        "site": {"slug": site.slug, "name": site.name, "origins": list(site.allowed_origins)},
        "includes_emails": include_emails,
    }
    # The header's closing brace is replaced by the threads array, written as we go.
    yield json.dumps(header, ensure_ascii=False)[:-1] + ', "threads": ['
    for index, thread in enumerate(_threads(session, site)):
        comments = [_json_comment(c) for c in _comments(session, thread, include_emails)]
        record = {
            "key": thread.key,
            "url": thread.url,
            "title": thread.title,
            "closed": thread.closed,
            "created_at": iso_utc(thread.created_at),
            "comments": comments,
        }
        yield ("\n" if index == 0 else ",\n") + json.dumps(record, ensure_ascii=False)
        counts.threads += 1
        counts.comments += len(comments)
    yield "\n]}\n"


# ------------------------------------------------------------------ WXR


# Characters XML 1.0 cannot carry at all, escaped or not (control characters a client
# may have sent in a name or a body): dropped, or the whole file would be unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(text: str) -> str:
    text = _NOT_XML.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cdata(text: str) -> str:
    """Text in CDATA, as WordPress writes it; a ``]]>`` inside is split across two
    sections so that it cannot end the first one early."""
    text = _NOT_XML.sub("", text)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _wp_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


_WXR_HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<!-- A WordPress eXtended RSS (WXR 1.2) export of the comments of one site, written by the
     comment-moderation service. WordPress's importer and ours read it. -->
<rss version="2.0"
\txmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
\txmlns:content="http://purl.org/rss/1.0/modules/content/"
\txmlns:wfw="http://wellformedweb.org/CommentAPI/"
\txmlns:dc="http://purl.org/dc/elements/1.1/"
\txmlns:wp="http://wordpress.org/export/1.2/"
>
<channel>
"""


def _wxr_comment(comment: ExportedComment) -> str:
    fields = [
        f"<wp:comment_id>{comment.id}</wp:comment_id>",
        f"<wp:comment_author>{_cdata(comment.author_name)}</wp:comment_author>",
        f"<wp:comment_author_email>{_escape(comment.author_email or '')}</wp:comment_author_email>",
        "<wp:comment_author_url></wp:comment_author_url>",
        "<wp:comment_author_IP></wp:comment_author_IP>",
        # Our times are UTC; WordPress's local date is then the same as its GMT one.
        f"<wp:comment_date>{_wp_date(comment.created_at)}</wp:comment_date>",
        f"<wp:comment_date_gmt>{_wp_date(comment.created_at)}</wp:comment_date_gmt>",
        f"<wp:comment_content>{_cdata(comment.body_html)}</wp:comment_content>",
        f"<wp:comment_approved>{_WXR_APPROVED[comment.status]}</wp:comment_approved>",
        "<wp:comment_type>comment</wp:comment_type>",
        f"<wp:comment_parent>{comment.parent_id or 0}</wp:comment_parent>",
        "<wp:comment_user_id>0</wp:comment_user_id>",
    ]
    return "\t\t<wp:comment>\n" + "".join(f"\t\t\t{f}\n" for f in fields) + "\t\t</wp:comment>\n"


def _wxr_chunks(
    session: Session,
    site: Site,
    now: datetime,
    base_url: str,
    include_emails: bool,
    counts: ExportCounts,
) -> Iterator[str]:
    """The site as a WXR file, a thread at a time: each thread a post (its title, URL,
    and its key as the post's guid and slug), with its comments. ``base_url`` is the
    blog's address (WordPress's importer wants one)."""
    yield _WXR_HEAD
    yield f"\t<title>{_escape(site.name)}</title>\n"
    yield f"\t<link>{_escape(base_url)}</link>\n"
    yield f"\t<description>comments of {_escape(site.slug)}</description>\n"
    yield f"\t<pubDate>{now.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>\n"
    yield "\t<wp:wxr_version>1.2</wp:wxr_version>\n"
    yield f"\t<wp:base_site_url>{_escape(base_url)}</wp:base_site_url>\n"
    yield f"\t<wp:base_blog_url>{_escape(base_url)}</wp:base_blog_url>\n"
    yield "\t<generator>comment-moderation</generator>\n"
    for thread in _threads(session, site):
        yield "\t<item>\n"
        yield f"\t\t<title>{_cdata(thread.title or thread.key)}</title>\n"
        yield f"\t\t<link>{_escape(thread.url or '')}</link>\n"
        yield f'\t\t<guid isPermaLink="false">{_escape(thread.key)}</guid>\n'
        yield "\t\t<content:encoded><![CDATA[]]></content:encoded>\n"
        yield f"\t\t<wp:post_id>{thread.id}</wp:post_id>\n"
        yield f"\t\t<wp:post_date>{_wp_date(thread.created_at)}</wp:post_date>\n"
        yield f"\t\t<wp:post_date_gmt>{_wp_date(thread.created_at)}</wp:post_date_gmt>\n"
        status = "closed" if thread.closed else "open"
        yield f"\t\t<wp:comment_status>{status}</wp:comment_status>\n"
        yield f"\t\t<wp:post_name>{_cdata(thread.key)}</wp:post_name>\n"
        yield "\t\t<wp:ping_status>closed</wp:ping_status>\n"
        yield "\t\t<wp:status>publish</wp:status>\n"
        yield "\t\t<wp:post_parent>0</wp:post_parent>\n"
        yield "\t\t<wp:menu_order>0</wp:menu_order>\n"
        yield "\t\t<wp:post_type>post</wp:post_type>\n"
        yield "\t\t<wp:post_password></wp:post_password>\n"
        yield "\t\t<wp:is_sticky>0</wp:is_sticky>\n"
        for comment in _comments(session, thread, include_emails):
            yield _wxr_comment(comment)
            counts.comments += 1
        yield "\t</item>\n"
        counts.threads += 1
    yield "</channel>\n</rss>\n"


def blog_address(site: Site, fallback: str) -> str:
    """The blog's address for a WXR header: the site's first origin that names one
    host and port, else ``fallback`` (the service's own address)."""
    return next((o for o in site.allowed_origins if not o.endswith(":*")), fallback)


def chunks(
    session: Session,
    site: Site,
    now: datetime,
    *,
    format: str,
    base_url: str,
    include_emails: bool = False,
    counts: ExportCounts | None = None,
) -> Iterator[str]:
    """The site in ``format`` (one of FORMATS), as pieces of text to write or stream in
    order; ``counts``, when given, counts what went out."""
    counts = counts if counts is not None else ExportCounts()
    if format == "json":
        return _json_chunks(session, site, now, include_emails, counts)
    if format == "wxr":
        return _wxr_chunks(session, site, now, base_url, include_emails, counts)
    raise ValueError(f"unknown export format {format!r}")


def write(
    session: Session,
    site: Site,
    out: IO[str],
    now: datetime,
    *,
    format: str,
    base_url: str,
    include_emails: bool = False,
) -> ExportCounts:
    """Write the site in ``format`` (one of FORMATS) to ``out``; returns what it wrote."""
    counts = ExportCounts()
    for chunk in chunks(session, site, now, format=format, base_url=base_url,
                        include_emails=include_emails, counts=counts):  # fmt: skip
        out.write(chunk)
    return counts
