"""WordPress export files (WXR: RSS with ``wp:`` elements), read as a stream.

Each ``item`` (post or page) is a thread: its link gives the key (the link's path, what
the widget sends by default; a ``guid`` that is not a URL is the key itself, as our own
export writes it), the URL and the title; its ``wp:comment`` elements are the
comments. A comment's id is its post id and comment id (``18/11``): WordPress ids are
unique in a blog, but exports that merged blogs (and test files) reuse them across posts,
and a parent is always in its own post. Pingbacks and trackbacks are skipped, counted.

lxml's ``iterparse`` reads element by element; each comment is cleared once read and
each post once done, so memory stays flat however large the file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

from moderation.services.importers.markup import wordpress_to_markdown
from moderation.services.importers.records import (
    APPROVED,
    SPAM,
    TRASH,
    UNAPPROVED,
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

# http:// in older exports, https:// since WordPress 5.x; the version (1.0-1.2) varies.
WP_NAMESPACE_PREFIXES = ("http://wordpress.org/export/", "https://wordpress.org/export/")
# wp:comment_approved → the status it had. WordPress writes 1, 0, spam, trash (and
# post-trashed for the comments of a trashed post).
APPROVED_VALUES = {
    "1": APPROVED,
    "approve": APPROVED,
    "0": UNAPPROVED,
    "hold": UNAPPROVED,
    "spam": SPAM,
    "trash": TRASH,
    "post-trashed": TRASH,
}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S",)


def _split(tag: Any) -> tuple[str, str]:
    """(namespace, local name) of an lxml tag."""
    if not isinstance(tag, str):  # comments, processing instructions
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _is_wp(namespace: str) -> bool:
    return namespace.startswith(WP_NAMESPACE_PREFIXES)


def xml_events(stream: IO[bytes], what: str) -> Iterator[tuple[str, Any]]:
    """lxml's iterparse over ``stream``, safely (no DTD, no entities, no network), with
    its syntax errors (malformed, truncated) as ImportFileError naming the line."""
    events = etree.iterparse(
        stream,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        yield from events
    except etree.XMLSyntaxError as error:
        line, column = error.position
        message = re.sub(r", line \d+, column \d+$", "", str(error.msg))
        raise ImportFileError(
            f"not well-formed XML at line {line}, column {column}: {message} "
            f"(is this a complete {what}?)"
        ) from None


def free(element: Any) -> None:
    """Drop an element read to the end, and the siblings before it, from the tree."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def parse(stream: IO[bytes]) -> Iterator[Record]:
    """The comments of a WXR file, in file order. Raises ImportFileError for a file
    that is not WXR, malformed or truncated XML, or an invalid value (naming its line)."""
    item: dict[str, str] = {}
    in_item = 0
    seen_wordpress = False
    root_checked = False
    for event, element in xml_events(stream, "WordPress export (WXR)"):
        namespace, local = _split(element.tag)
        if not root_checked:
            if local != "rss" or namespace:
                raise ImportFileError(
                    f"not a WordPress export (WXR): the file starts with <{local}>, not <rss>"
                )
            root_checked = True
        if event == "start":
            if local == "item" and not namespace:
                item = {}
                in_item += 1
            continue
        if _is_wp(namespace):
            seen_wordpress = True
        if in_item and local == "comment" and _is_wp(namespace):
            yield _comment(element, item)
            free(element)
        elif local == "item" and not namespace:
            in_item -= 1
            free(element)
        elif in_item and element.getparent() is not None:
            parent_namespace, parent_local = _split(element.getparent().tag)
            if parent_local == "item" and not parent_namespace:
                if not namespace and local in ("title", "link", "guid"):
                    item[local] = element.text or ""
                elif _is_wp(namespace) and local == "post_id":
                    item["post_id"] = (element.text or "").strip()
    if not seen_wordpress:
        raise ImportFileError(
            "not a WordPress export (WXR): an RSS feed without wp: elements "
            "(export it from WordPress: Tools → Export)"
        )


def _fields(comment: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    for child in comment:
        namespace, local = _split(child.tag)
        if _is_wp(namespace):
            fields[local] = child.text or ""
    return fields


def _comment(element: Any, item: dict[str, str]) -> Record:
    fields = _fields(element)
    line = element.sourceline
    comment_id = fields.get("comment_id", "").strip()
    where = f"line {line}: <wp:comment> {comment_id or '(no id)'}"
    kind = fields.get("comment_type", "").strip() or "comment"
    if kind in ("pingback", "trackback"):
        return Skipped(kind)
    if kind != "comment":
        return Skipped("other_type")
    if not comment_id:
        raise ImportFileError(f"{where}: <wp:comment_id> is missing")
    approved = fields.get("comment_approved", "").strip()
    if approved not in APPROVED_VALUES:
        raise ImportFileError(
            f"{where}: <wp:comment_approved> is {approved!r}; expected 1, 0, spam or trash"
        )
    post_id = item.get("post_id", "")
    guid = (item.get("guid") or "").strip()
    link = (item.get("link") or "").strip() or (guid if "://" in guid else "")
    if guid and "://" not in guid:
        # WordPress's guids are URLs; a bare one is a thread key as our own export writes
        # it (the page's key may differ from its URL's path: data-thread names it).
        key: str | None = guid[:255]
    else:
        key = thread_key(link, f"?p={post_id}" if post_id else None)
    if key is None:
        raise ImportFileError(f"{where}: its post has neither a <link> nor a <wp:post_id>")
    parent = fields.get("comment_parent", "").strip()
    created = fields.get("comment_date_gmt", "").strip()
    if not created or created.startswith("0000"):
        created = fields.get("comment_date", "").strip()  # drafts' GMT date is all zeros
    # Without a post id (hand-made files), the page stands for the post.
    post = post_id or key
    return CommentRecord(
        source_id=f"{post}/{comment_id}",
        thread=ThreadInfo(key=key, url=fit_url(link), title=clip(item.get("title"), 300)),
        parent_id=f"{post}/{parent}" if parent not in ("", "0") else None,
        author_name=fields.get("comment_author", ""),
        author_email=fit_email(fields.get("comment_author_email")),
        ip=clip(fields.get("comment_author_IP"), 64),
        created_at=(
            parse_time(created, DATE_FORMATS, where, "<wp:comment_date_gmt>") if created else None
        ),
        body=wordpress_to_markdown(fields.get("comment_content", "").strip()),
        source_status=APPROVED_VALUES[approved],
        where=where,
    )
