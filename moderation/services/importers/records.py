"""What the parsers yield: plain records, no database, so each format is one small reader
and the driver (``importers.import_records``) writes them all the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from moderation.services.errors import DomainError

# The status a comment had at its source, as the driver stores it (and as the import's
# action reads: "imported as spam"), and the status it gets here.
APPROVED = "approved"
UNAPPROVED = "unapproved"
SPAM = "spam"
TRASH = "trash"
DELETED = "deleted"
SOURCE_STATUSES = (APPROVED, UNAPPROVED, SPAM, TRASH, DELETED)


class ImportFileError(DomainError):
    """The file cannot be imported as it is: malformed or truncated XML, a file of another
    format, an invalid value, a duplicate id. The message names the line or element."""


@dataclass(frozen=True)
class ThreadInfo:
    """A page of the blog as the source describes it."""

    key: str  # the thread key here: what the widget sends (by default the page's path)
    url: str | None
    title: str | None


@dataclass(frozen=True)
class CommentRecord:
    """One comment as the source has it. ``body`` is Markdown (converted from the
    source's HTML where it had HTML); the driver renders and sanitizes it."""

    source_id: str
    thread: ThreadInfo
    parent_id: str | None  # the parent's id in the same source, or None at the top
    author_name: str
    author_email: str | None
    ip: str | None
    created_at: datetime | None  # None: the source has no date for it
    body: str
    source_status: str  # one of SOURCE_STATUSES
    where: str  # e.g. "line 42" or "comment 7": where to look in the source


@dataclass(frozen=True)
class Skipped:
    """Something in the source that is not imported, and why: a key of ``REASONS``."""

    reason: str


Record = CommentRecord | Skipped

# Each reason for skipping, singular and plural, for the closing summary.
REASONS = {
    "pingback": ("pingback", "pingbacks"),
    "trackback": ("trackback", "trackbacks"),
    "other_type": ("comment of another type", "comments of other types"),
    "no_id": ("post without an id", "posts without an id"),
    "missing_thread": ("post in a missing thread", "posts in a missing thread"),
    "thread_without_link": ("post in a thread without a link", "posts in threads without a link"),
    "parent_elsewhere": (
        "reply in another thread than its parent",
        "replies in other threads than their parents",
    ),  # fmt: skip
}


def thread_key(url: str | None, fallback: str | None = None) -> str | None:
    """The thread key for a page: its path, as the widget sends by default
    (``data-thread`` falls back to ``location.pathname``), else ``fallback``."""
    if url:
        path = urlsplit(url.strip()).path or "/"
        return path[:255]
    if fallback:
        return fallback.strip()[:255] or None
    return None


def clip(text: str | None, length: int) -> str | None:
    """``text`` stripped and cut to fit its column; None when empty."""
    if text is None:
        return None
    text = text.strip()
    return text[:length] if text else None


def fit_url(url: str | None) -> str | None:
    url = (url or "").strip()
    return url if url and len(url) <= 2048 else None


def fit_email(email: str | None) -> str | None:
    email = (email or "").strip()
    return email if email and len(email) <= 254 and "@" in email else None


def parse_time(value: str | None, formats: tuple[str, ...], where: str, name: str) -> datetime:
    """``value`` (UTC) as an aware datetime; ImportFileError naming ``where`` otherwise."""
    text = (value or "").strip()
    for layout in formats:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ImportFileError(f"{where}: {name} is {text!r}, which is not a date")
