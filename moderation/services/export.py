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


def write_json(
    session: Session, site: Site, out: IO[str], now: datetime, *, include_emails: bool = False
) -> ExportCounts:
    """Write the site as one JSON document: the site, then each thread with its comments
    (flat, oldest first, each naming its parent)."""
    counts = ExportCounts()
    header = {
        "format": JSON_FORMAT_NAME,
        "version": JSON_FORMAT_VERSION,
        "exported_at": iso_utc(now),
        "site": {"slug": site.slug, "name": site.name, "origins": list(site.allowed_origins)},
        "includes_emails": include_emails,
    }
    # The header's closing brace is replaced by the threads array, written as we go.
    out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "threads": [')
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
        out.write(("\n" if index == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        counts.threads += 1
        counts.comments += len(comments)
    out.write("\n]}\n")
    return counts


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


def write_wxr(
    session: Session,
    site: Site,
    out: IO[str],
    now: datetime,
    *,
    base_url: str,
    include_emails: bool = False,
) -> ExportCounts:
    """Write the site as a WXR file: each thread a post (its title, URL, and its key as
    the post's guid and slug), with its comments. ``base_url`` is the blog's address
    (WordPress's importer wants one)."""
    counts = ExportCounts()
    out.write(_WXR_HEAD)
    out.write(f"\t<title>{_escape(site.name)}</title>\n")
    out.write(f"\t<link>{_escape(base_url)}</link>\n")
    out.write(f"\t<description>comments of {_escape(site.slug)}</description>\n")
    out.write(f"\t<pubDate>{now.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>\n")
    out.write("\t<wp:wxr_version>1.2</wp:wxr_version>\n")
    out.write(f"\t<wp:base_site_url>{_escape(base_url)}</wp:base_site_url>\n")
    out.write(f"\t<wp:base_blog_url>{_escape(base_url)}</wp:base_blog_url>\n")
    out.write("\t<generator>comment-moderation</generator>\n")
    for thread in _threads(session, site):
        out.write("\t<item>\n")
        out.write(f"\t\t<title>{_cdata(thread.title or thread.key)}</title>\n")
        out.write(f"\t\t<link>{_escape(thread.url or '')}</link>\n")
        out.write(f'\t\t<guid isPermaLink="false">{_escape(thread.key)}</guid>\n')
        out.write("\t\t<content:encoded><![CDATA[]]></content:encoded>\n")
        out.write(f"\t\t<wp:post_id>{thread.id}</wp:post_id>\n")
        out.write(f"\t\t<wp:post_date>{_wp_date(thread.created_at)}</wp:post_date>\n")
        out.write(f"\t\t<wp:post_date_gmt>{_wp_date(thread.created_at)}</wp:post_date_gmt>\n")
        status = "closed" if thread.closed else "open"
        out.write(f"\t\t<wp:comment_status>{status}</wp:comment_status>\n")
        out.write(f"\t\t<wp:post_name>{_cdata(thread.key)}</wp:post_name>\n")
        out.write("\t\t<wp:ping_status>closed</wp:ping_status>\n")
        out.write("\t\t<wp:status>publish</wp:status>\n")
        out.write("\t\t<wp:post_parent>0</wp:post_parent>\n")
        out.write("\t\t<wp:menu_order>0</wp:menu_order>\n")
        out.write("\t\t<wp:post_type>post</wp:post_type>\n")
        out.write("\t\t<wp:post_password></wp:post_password>\n")
        out.write("\t\t<wp:is_sticky>0</wp:is_sticky>\n")
        for comment in _comments(session, thread, include_emails):
            out.write(_wxr_comment(comment))
            counts.comments += 1
        out.write("\t</item>\n")
        counts.threads += 1
    out.write("</channel>\n</rss>\n")
    return counts


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
    """Write the site in ``format`` (one of FORMATS)."""
    if format == "json":
        return write_json(session, site, out, now, include_emails=include_emails)
    if format == "wxr":
        return write_wxr(session, site, out, now, base_url=base_url, include_emails=include_emails)
    raise ValueError(f"unknown export format {format!r}")
