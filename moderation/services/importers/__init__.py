"""Importing a blog's existing comments: WordPress (WXR), Disqus (XML export), Isso
(its SQLite database).

Each format has a streaming reader (``wxr``, ``disqus``, ``isso``) that yields plain
records (``records.CommentRecord``, or ``records.Skipped`` with its reason) in constant
memory; ``import_records`` writes any of them the same way, all in the caller's
transaction: the CLI commits once at the end, so a bad file (a malformed element, an
invalid flag, a duplicate id, even on its last line) leaves nothing half-imported.

Every imported comment enters through ``lifecycle.import_comment`` with the status
people gave it there (approved → visible, unapproved/pending → held, spam, trash and
deleted → hidden), keeps its date and its place in its thread at any depth, and
remembers its source and source id (``ImportedComment``, unique per site): importing
the same file again adds nothing, a newer export adds only what is new, and a reply
whose parent came with an earlier import attaches to it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from moderation.models import Comment, ImportedComment, Score, Site, Thread
from moderation.scoring import LabelThresholds
from moderation.services import authors, lifecycle, policy
from moderation.services.comments import get_or_create_thread, hash_ip
from moderation.services.importers.records import (
    APPROVED,
    DELETED,
    REASONS,
    SPAM,
    TRASH,
    UNAPPROVED,
    CommentRecord,
    ImportFileError,
    Record,
    Skipped,
)
from moderation.services.rendering import render_markdown
from moderation.types import CommentStatus, ImportScoring, ImportSource

__all__ = [
    "ImportFileError",
    "ImportResult",
    "STATUS_OF",
    "import_records",
    "imported_backlog",
]

STATUS_OF = {
    APPROVED: CommentStatus.VISIBLE,
    UNAPPROVED: CommentStatus.HELD,
    SPAM: CommentStatus.HIDDEN,
    TRASH: CommentStatus.HIDDEN,
    DELETED: CommentStatus.HIDDEN,
}
ANONYMOUS = "Anonymous"


@dataclass
class ImportResult:
    """What an import did, for its closing line."""

    imported: int = 0
    already: int = 0
    undated: int = 0
    orphans: int = 0  # replies whose parent is in neither the file nor an earlier import
    skipped: Counter[str] = field(default_factory=Counter)
    thread_ids: set[int] = field(default_factory=set)
    statuses: Counter[CommentStatus] = field(default_factory=Counter)

    @property
    def threads(self) -> int:
        return len(self.thread_ids)

    def summary(self) -> str:
        """``imported N comments in M threads (K already imported, S skipped: …)``."""
        total = sum(self.skipped.values())
        reasons = ", ".join(
            f"{count} {REASONS[reason][0 if count == 1 else 1]}"
            for reason, count in sorted(self.skipped.items(), key=lambda item: (-item[1], item[0]))
        )
        noun = "comment" if self.imported == 1 else "comments"
        threads = "thread" if self.threads == 1 else "threads"
        line = (
            f"imported {self.imported} {noun} in {self.threads} {threads} "
            f"({self.already} already imported, {total} skipped{': ' + reasons if reasons else ''})"
        )
        if self.orphans:
            replies = "reply" if self.orphans == 1 else "replies"
            line += f"; {self.orphans} {replies} to comments not imported kept at the top"
        if self.undated:
            line += f"; {self.undated} without a date in the source dated at the import"
        return line


# Where an imported comment sits: its id here, its branch's root, its depth, its thread.
Place = tuple[int, int | None, int, int]


class _Importer:
    """Writes records a batch at a time: one query finds which of a batch's comments
    (and parents) earlier imports brought, then the batch goes in by waves (comments
    whose parents are known, then their replies, ...), each wave one flush."""

    def __init__(
        self,
        session: Session,
        site: Site,
        source: ImportSource,
        *,
        scoring: ImportScoring | None,
        ip_secret: str,
        now: datetime,
        batch_size: int,
    ) -> None:
        self.session = session
        self.site = site
        self.source = source
        self.scoring = scoring
        self.ip_secret = ip_secret
        self.now = now
        self.batch_size = batch_size
        self.result = ImportResult()
        self.threads: dict[str, Thread] = {}
        self.batch: list[CommentRecord] = []
        # Comments of this run have ids above this: an id of the file met twice is one
        # of them, not an earlier import's (constant memory: no set of every id seen).
        self.before = session.scalar(select(func.max(Comment.id))) or 0
        # Replies met before their parent, by the parent's source id: few in practice
        # (exports list parents first), and resolved as soon as the parent comes.
        self.waiting: dict[str, list[CommentRecord]] = {}
        self.analyzed_at = 0  # comments imported when statistics were last refreshed

    def thread(self, record: CommentRecord) -> Thread:
        info = record.thread
        thread = self.threads.get(info.key)
        if thread is None:
            thread = get_or_create_thread(self.session, self.site, info.key, info.url, info.title)
            self.session.flush()
            self.threads[info.key] = thread
        return thread

    def places(self, source_ids: set[str]) -> dict[str, Place]:
        """Where the comments of these source ids are, those that earlier imports (or
        earlier batches of this one) brought."""
        found: dict[str, Place] = {}
        ids = sorted(source_ids)
        for start in range(0, len(ids), 500):
            rows = self.session.execute(
                select(
                    ImportedComment.source_id,
                    Comment.id,
                    Comment.root_id,
                    Comment.depth,
                    Comment.thread_id,
                )
                .join(Comment, Comment.id == ImportedComment.comment_id)
                .where(
                    ImportedComment.site_id == self.site.id,
                    ImportedComment.source == self.source,
                    ImportedComment.source_id.in_(ids[start : start + 500]),
                )
            )
            for source_id, comment_id, root_id, depth, thread_id in rows:
                found[source_id] = (comment_id, root_id, depth, thread_id)
        return found

    def take(self, record: Record) -> None:
        if isinstance(record, Skipped):
            self.result.skipped[record.reason] += 1
            return
        self.batch.append(record)
        if len(self.batch) >= self.batch_size:
            self.flush()

    def refresh_statistics(self) -> None:
        """On PostgreSQL, ANALYZE the tables this import grows each time it has doubled
        what it added: the planner otherwise keeps the statistics of before the import
        (autovacuum cannot see rows not yet committed) and, believing the site has a
        handful of imported comments, answers each batch's lookup with a scan of all of
        them, so that a large import slows down as it goes. ANALYZE sees the rows of
        its own transaction."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        if self.result.imported < max(1000, 2 * self.analyzed_at):
            return
        self.analyzed_at = self.result.imported
        self.session.execute(text("ANALYZE imported_comment, comment"))

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        self.refresh_statistics()
        known = self.places(
            {r.source_id for r in batch} | {r.parent_id for r in batch if r.parent_id}
        )
        todo: list[CommentRecord] = []
        in_batch: set[str] = set()
        for record in batch:
            place = known.get(record.source_id)
            if place is not None and place[0] <= self.before:
                self.result.already += 1
                continue
            if place is not None or record.source_id in in_batch:
                raise ImportFileError(
                    f"{record.where}: comment id {record.source_id!r} appears twice in the file"
                )
            in_batch.add(record.source_id)
            todo.append(record)
        # Parents before their replies (in memory), so the batch goes in as one write.
        ordered: list[CommentRecord] = []
        placed: set[str] = set()
        while todo:
            rest: list[CommentRecord] = []
            progressed = False
            for record in todo:
                parent_id = record.parent_id
                if parent_id is None or parent_id in known or parent_id in placed:
                    ordered.append(record)
                    placed.add(record.source_id)
                    progressed = True
                    # Replies that came before it, in earlier batches, follow it now.
                    rest.extend(self.waiting.pop(record.source_id, []))
                else:
                    rest.append(record)
            todo = rest
            if not progressed:
                break
        for record in todo:  # their parents are not here (yet)
            self.waiting.setdefault(record.parent_id or "", []).append(record)
        self.write(ordered, known)

    def write(self, records: list[CommentRecord], known: dict[str, Place]) -> None:
        rows: list[tuple[dict[str, Any], CommentStatus, str]] = []
        kept: list[CommentRecord] = []
        position: dict[str, int] = {}
        for record in records:
            thread = self.thread(record)
            values: dict[str, Any] = {"thread_id": thread.id}
            if record.parent_id is None:
                values.update(parent_id=None, root_id=None, depth=0)
            elif record.parent_id in position:
                parent = rows[position[record.parent_id]][0]
                if parent["thread_id"] != thread.id:
                    self.result.skipped["parent_elsewhere"] += 1
                    continue
                values.update(parent_index=position[record.parent_id], depth=parent["depth"] + 1)
            elif record.parent_id in known:
                comment_id, root_id, depth, thread_id = known[record.parent_id]
                if thread_id != thread.id:
                    self.result.skipped["parent_elsewhere"] += 1
                    continue
                values.update(parent_id=comment_id, root_id=root_id or comment_id, depth=depth + 1)
            else:  # its parent was skipped just now: it waits, and ends up at the top
                self.waiting.setdefault(record.parent_id, []).append(record)
                continue
            created_at = record.created_at
            if created_at is None:
                self.result.undated += 1
                created_at = self.now
            ip_hash = hash_ip(record.ip, self.ip_secret)
            values.update(
                author_name=(record.author_name.strip() or ANONYMOUS)[:100],
                author_email=record.author_email,
                ip_hash=ip_hash,
                # The author panel, bans and trust find imported comments like new ones.
                author_key=authors.author_key(record.author_email, ip_hash),
                body=record.body,
                body_html=render_markdown(record.body),
                score_attempts=0,
                flag_count=0,
                acknowledged_warning=False,
                created_at=created_at,
                updated_at=created_at,
            )
            position[record.source_id] = len(rows)
            rows.append((values, STATUS_OF[record.source_status], record.source_status))
            kept.append(record)
        threads = {thread.id: thread for thread in self.threads.values()}
        stored = lifecycle.import_comments(
            self.session, rows, threads, source=self.source.value, now=self.now
        )
        if not stored:
            return
        self.session.execute(
            insert(ImportedComment),
            [
                {
                    "comment_id": row["id"],
                    "site_id": self.site.id,
                    "source": self.source,
                    "source_id": record.source_id,
                    "source_status": source_status,
                    "scoring": self.scoring,
                    "imported_at": self.now,
                }
                for row, record, (_, _, source_status) in zip(stored, kept, rows, strict=True)
            ],
        )
        for row in stored:
            self.result.imported += 1
            self.result.statuses[row["status"]] += 1
            self.result.thread_ids.add(row["thread_id"])

    def finish(self) -> ImportResult:
        self.flush()
        # Replies whose parent never came (a skipped pingback, a comment the export left
        # out) are kept, at the top of their thread: losing a reader's words is worse
        # than losing their place. Start from those whose parent is not waiting itself,
        # so that a waiting chain keeps its shape below its first comment.
        while self.waiting:
            waiting_ids = {r.source_id for replies in self.waiting.values() for r in replies}
            parent_ids = [p for p in self.waiting if p not in waiting_ids] or list(self.waiting)
            for parent_id in parent_ids:
                for reply in self.waiting.pop(parent_id, []):
                    self.result.orphans += 1
                    self.batch.append(replace(reply, parent_id=None))
            self.flush()
        return self.result


def import_records(
    session: Session,
    site: Site,
    source: ImportSource,
    records: Iterable[Record],
    *,
    scoring: ImportScoring | None,
    ip_secret: str,
    now: datetime,
    progress: Callable[[ImportResult], None] | None = None,
    batch_size: int = 500,
) -> ImportResult:
    """Write ``records`` into ``site`` in the caller's transaction (the caller commits
    once, or rolls back: a dry run), and return the counts. ``scoring`` is what the
    workers owe each new comment (None: nothing). ``progress`` is called every
    ``batch_size`` records. Raises ImportFileError (from the reader, or for an id met
    twice) with nothing to keep: the caller rolls back."""
    importer = _Importer(
        session, site, source, scoring=scoring, ip_secret=ip_secret, now=now, batch_size=batch_size
    )
    for count, record in enumerate(records, start=1):
        importer.take(record)
        if progress is not None and count % batch_size == 0:
            progress(importer.result)
    result = importer.finish()
    if progress is not None:
        progress(result)
    return result


@dataclass(frozen=True)
class Backlog:
    """A site's imported history as the model sees it today."""

    visible: int  # visible imported comments
    scored: int  # of those, scored by the workers
    waiting: int  # of those, still to score
    would_hold: int  # of the scored ones, how many the policy would hold or hide today


def imported_backlog(
    session: Session, site: Site, default_thresholds: Mapping[str, LabelThresholds]
) -> Backlog:
    """How many visible imported comments of ``site`` the site's policy would hold (or
    hide) today, from their current scores: a first look at its moderation backlog."""
    base = (
        select(Comment.body, Score.labels, ImportedComment.scoring)
        .join(ImportedComment, ImportedComment.comment_id == Comment.id)
        .join(Thread, Thread.id == Comment.thread_id)
        .outerjoin(Score, (Score.comment_id == Comment.id) & Score.superseded_at.is_(None))
        .where(Thread.site_id == site.id, Comment.status == CommentStatus.VISIBLE)
        .execution_options(yield_per=1000)
    )
    visible = scored = waiting = would_hold = 0
    for body, labels, scoring in session.execute(base):
        visible += 1
        if labels is None:
            waiting += scoring is not None
            continue
        scored += 1
        decision = policy.decide(site, body, labels, default_thresholds)
        would_hold += decision.status != CommentStatus.VISIBLE
    return Backlog(visible=visible, scored=scored, waiting=waiting, would_hold=would_hold)
