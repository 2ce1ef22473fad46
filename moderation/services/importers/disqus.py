"""Disqus XML exports (Admin → Community → Export), read as a stream.

A Disqus export lists its ``thread`` elements (``dsq:id``, ``link``, ``title``, the
site's ``id`` for the page), then its ``post`` elements (``dsq:id``, a ``thread``
reference, an optional ``parent`` reference, ``isDeleted``, ``isSpam``, ``author``,
``message`` in HTML, ``createdAt``). Threads are kept (id → key, URL, title: small)
until the posts come; each post is cleared once read.

What real exports hold, and what happens to it:
- a thread with an empty ``<id/>`` (or title): its key comes from its link's path;
- a post whose thread is not in the file: skipped, counted ("post in a missing thread");
- a post without a ``dsq:id``: skipped, counted (it could never be matched again);
- ``isSpam``/``isDeleted`` other than true or false, an unreadable ``createdAt``, a
  ``dsq:id`` met twice: an error naming the line, and nothing imported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from moderation.services.importers.markup import html_to_markdown
from moderation.services.importers.records import (
    APPROVED,
    DELETED,
    SPAM,
    CommentRecord,
    ImportFileError,
    Record,
    Skipped,
    ThreadInfo,
    clip,
    fit_email,
    fit_url,
    parse_time,
    thread_key,
)
from moderation.services.importers.wxr import free, xml_events

DISQUS = "http://disqus.com"
INTERNALS = "http://disqus.com/disqus-internals"
DSQ_ID = f"{{{INTERNALS}}}id"
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S")


def _tag(local: str) -> str:
    return f"{{{DISQUS}}}{local}"


def _text(element: Any, local: str) -> str:
    child = element.find(_tag(local))
    return (child.text or "").strip() if child is not None else ""


def _flag(element: Any, local: str, where: str) -> bool:
    value = _text(element, local).lower()
    if value in ("true", "false"):
        return value == "true"
    if value == "":
        return False
    raise ImportFileError(f"{where}: <{local}> is {value!r}; expected true or false")


def parse(stream: IO[bytes]) -> Iterator[Record]:
    """The posts of a Disqus export, in file order. Raises ImportFileError for a file
    that is not a Disqus export, malformed or truncated XML, or an invalid value."""
    threads: dict[str, ThreadInfo | None] = {}
    root: Any = None
    for event, element in xml_events(stream, "Disqus export"):
        if root is None:
            root = element
            if element.tag != _tag("disqus"):
                raise ImportFileError(
                    f"not a Disqus export: the file starts with <{element.tag}>, not <disqus> "
                    f"in the namespace {DISQUS}"
                )
        if event != "end" or element.getparent() is not root:
            continue
        if element.tag == _tag("thread"):
            _thread(element, threads)
        elif element.tag == _tag("post"):
            yield _post(element, threads)
        free(element)


def _thread(element: Any, threads: dict[str, ThreadInfo | None]) -> None:
    thread_id = element.get(DSQ_ID, "").strip()
    where = f"line {element.sourceline}: <thread dsq:id={thread_id!r}>"
    if not thread_id:
        raise ImportFileError(f"line {element.sourceline}: a <thread> without a dsq:id")
    if thread_id in threads:
        raise ImportFileError(f"{where}: thread dsq:id {thread_id!r} appears twice in the file")
    link = _text(element, "link")
    key = thread_key(link, _text(element, "id"))
    threads[thread_id] = (
        ThreadInfo(key=key, url=fit_url(link), title=clip(_text(element, "title"), 300))
        if key is not None
        else None
    )


def _post(element: Any, threads: dict[str, ThreadInfo | None]) -> Record:
    post_id = element.get(DSQ_ID, "").strip()
    if not post_id:
        return Skipped("no_id")
    where = f"line {element.sourceline}: <post dsq:id={post_id!r}>"
    reference = element.find(_tag("thread"))
    thread_id = reference.get(DSQ_ID, "").strip() if reference is not None else ""
    if thread_id not in threads:
        return Skipped("missing_thread")
    thread = threads[thread_id]
    if thread is None:
        return Skipped("thread_without_link")
    deleted = _flag(element, "isDeleted", where)
    spam = _flag(element, "isSpam", where)
    parent = element.find(_tag("parent"))
    parent_id = parent.get(DSQ_ID, "").strip() if parent is not None else ""
    author = element.find(_tag("author"))
    name = email = ""
    if author is not None:
        name = _text(author, "name") or _text(author, "username")
        email = _text(author, "email")
    created = _text(element, "createdAt")
    return CommentRecord(
        source_id=post_id,
        thread=thread,
        parent_id=parent_id or None,
        author_name=name,
        author_email=fit_email(email),
        ip=clip(_text(element, "ipAddress"), 64),
        created_at=parse_time(created, DATE_FORMATS, where, "<createdAt>") if created else None,
        body=html_to_markdown(_text(element, "message")),
        source_status=DELETED if deleted else SPAM if spam else APPROVED,
        where=where,
    )
