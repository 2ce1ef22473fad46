"""Isso's SQLite database (``comments.db``), read in place, read-only.

Isso keeps ``threads`` (id, uri, title) and ``comments`` (id, tid, parent, created as a
Unix time, mode 1 accepted / 2 pending / 4 deleted, remote_addr, text in Markdown,
author, email, website, ...). The thread's ``uri`` is the page path Isso's widget sent,
which is what our widget sends by default: it becomes the thread key. Comments are read
in id order (a reply's id is larger than its parent's), a page of rows at a time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from moderation.services.importers.records import (
    APPROVED,
    DELETED,
    UNAPPROVED,
    CommentRecord,
    ImportFileError,
    Record,
    Skipped,
    ThreadInfo,
    clip,
    fit_email,
)

MODES = {1: APPROVED, 2: UNAPPROVED, 4: DELETED}
PAGE = 1000


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        connection.close()
        raise ImportFileError(f"not an Isso database: {error}") from None
    missing = {"threads", "comments"} - tables
    if missing:
        connection.close()
        raise ImportFileError(
            f"not an Isso database: no table {', '.join(sorted(missing))} "
            "(give the path of Isso's comments.db)"
        )
    return connection


def count(path: Path) -> int:
    """How many comments the database holds (for the progress bar)."""
    with closing(_connect(path)) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM comments").fetchone()[0])


def parse(path: Path) -> Iterator[Record]:
    """The comments of Isso's database at ``path``, oldest id first. Raises
    ImportFileError for a file that is not an Isso database or an unknown mode."""
    with closing(_connect(path)) as connection:
        try:
            threads = {
                thread_id: ThreadInfo(key=(uri or "/")[:255], url=None, title=clip(title, 300))
                for thread_id, uri, title in connection.execute(
                    "SELECT id, uri, title FROM threads"
                )
            }
        except sqlite3.DatabaseError as error:
            raise ImportFileError(
                f"not an Isso database: its threads table cannot be read ({error})"
            ) from None
        last = 0
        while True:
            try:
                rows = connection.execute(
                    "SELECT id, tid, parent, created, mode, remote_addr, text, author, email"
                    " FROM comments WHERE id > ? ORDER BY id LIMIT ?",
                    (last, PAGE),
                ).fetchall()
            except sqlite3.DatabaseError as error:
                raise ImportFileError(f"reading Isso's comments after id {last}: {error}") from None
            if not rows:
                return
            for comment_id, tid, parent, created, mode, ip, text, author, email in rows:
                last = comment_id
                where = f"Isso comment {comment_id}"
                if tid not in threads:
                    yield Skipped("missing_thread")
                    continue
                if mode not in MODES:
                    raise ImportFileError(f"{where}: mode is {mode!r}; expected 1, 2 or 4")
                try:
                    created_at = datetime.fromtimestamp(float(created), UTC)
                except (TypeError, ValueError, OverflowError):
                    raise ImportFileError(
                        f"{where}: created is {created!r}, not a Unix time"
                    ) from None
                yield CommentRecord(
                    source_id=str(comment_id),
                    thread=threads[tid],
                    parent_id=str(parent) if parent else None,
                    author_name=author or "",
                    author_email=fit_email(email),
                    ip=clip(ip, 64),
                    created_at=created_at,
                    body=(text or "").strip(),  # Isso's text is Markdown already
                    source_status=MODES[mode],
                    where=where,
                )
