"""Declarative base with a naming convention (stable constraint names for Alembic) and
the Flask-SQLAlchemy extension, created unbound and bound in ``init_app``."""

from __future__ import annotations

import fcntl
import itertools
import mmap
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Integer, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Ids, and the foreign keys holding them, are 64-bit: PostgreSQL's `integer` ends at
# 2,147,483,647, which a busy site's comments, outbox events and deliveries can reach.
# SQLite keeps INTEGER, its only type for a rowid primary key, and already 64-bit.
ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    # ID is the type of every `Mapped[int]` column without a type of its own: the ids
    # and foreign keys (counts and other small numbers name Integer explicitly).
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION), type_annotation_map={int: ID}
    )


db = SQLAlchemy(model_class=Base)


def current_session() -> Session:
    """The session of the current app context (one per request), typed for services."""
    return db.session()


# How many transactions this process has committed that wrote to the tables a reader's
# page is made of (CONTENT_TABLES): what a per-process cache of answers made from them
# (the comment counts) is checked against. Bumped after the commit, so it can only be too
# eager, never too late. Commits that wrote elsewhere only (the worker delivering events
# and mails, sessions, rate limits) or nothing (the worker's idle rounds) leave it: under
# a stream of posts those were most commits, and each one emptied the counts cache.
_commits = itertools.count()
_last_commit = next(_commits)

# The tables whose rows the counts cache is made of. A statement that SQLAlchemy did not
# compile (text, driver SQL) and that is not a plain read counts as writing to them.
CONTENT_TABLES = frozenset({"comment", "thread", "site"})
_READS = ("SELECT", "PRAGMA", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "SHOW", "SET ")
_WROTE_CONTENT = "moderation.wrote_content"
# Set between a connection's commit (SQLAlchemy's event, before the database commits)
# and the session's after_commit hook, which runs in the same thread right after it.
_committing = threading.local()


@event.listens_for(Engine, "before_cursor_execute")
def _note_content_write(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        table = getattr(context.compiled.statement, "table", None)
        if getattr(table, "name", None) not in CONTENT_TABLES:
            return
    elif statement.lstrip()[:8].upper().startswith(_READS):
        return
    conn.info[_WROTE_CONTENT] = True


@event.listens_for(Engine, "commit")
def _content_write_committing(conn: Any) -> None:
    # Or'ed: a session bound to two connections commits them one after the other.
    wrote = not conn.invalidated and conn.info.pop(_WROTE_CONTENT, False)
    _committing.content = getattr(_committing, "content", False) or wrote


@event.listens_for(Engine, "rollback")
def _content_write_undone(conn: Any) -> None:
    # A connection the database dropped is invalidated before this rollback, and reading
    # its info would try to reconnect inside it (PendingRollbackError: a 500 where a lost
    # database answers 503). Its pool record empties its info when it reconnects.
    if not conn.invalidated:
        conn.info.pop(_WROTE_CONTENT, None)


class SharedCount:
    """A number in a file that the processes of one server (`make run`'s web processes)
    add their content commits to (see ``_commits``), so that each one's counts cache sees
    the others' changes at once. Mapped into memory: reading it is no system call; adding to
    it takes the file's lock. Each process opens the file itself after the fork (a lock
    belongs to an open file, and one opened before would be the same in every process)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._pid: int | None = None
        self._descriptor = -1
        self._map: mmap.mmap | None = None
        # Around opening the file and around each addition: the file's lock does not
        # exclude this process's own threads, which share its open file.
        self._lock = threading.Lock()

    def _mapped(self) -> mmap.mmap:
        if self._map is None or self._pid != os.getpid():
            with self._lock:
                if self._map is None or self._pid != os.getpid():
                    descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                    if os.fstat(descriptor).st_size < 8:
                        os.ftruncate(descriptor, 8)  # zeros; never shortens another's count
                    self._descriptor, self._map = descriptor, mmap.mmap(descriptor, 8)
                    self._pid = os.getpid()
        return self._map

    def add_one(self) -> None:
        mapped = self._mapped()
        with self._lock:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)
            try:
                mapped[:8] = (int.from_bytes(mapped[:8], "little") + 1).to_bytes(8, "little")
            finally:
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)

    def read(self) -> int:
        return int.from_bytes(self._mapped()[:8], "little")


_shared_commits: SharedCount | None = None


def share_commit_count(path: str | None) -> None:
    """Count commits in the file at ``path`` with the server's other processes (None:
    this process alone). wiring.init_app calls this with COMMIT_COUNT_FILE."""
    global _shared_commits
    _shared_commits = SharedCount(path) if path else None


@event.listens_for(Session, "after_commit")
def _count_commit(session: Session) -> None:
    global _last_commit
    if not getattr(_committing, "content", False):
        return
    _committing.content = False
    _last_commit = next(_commits)
    if _shared_commits is not None:
        _shared_commits.add_one()


def content_commits_so_far() -> int:
    """The number of commits so far that wrote comments, threads or sites: in this process
    (see ``_commits``), or in all the processes sharing COMMIT_COUNT_FILE."""
    if _shared_commits is not None:
        return _shared_commits.read()
    return _last_commit


_sqlite_writers = threading.Lock()


@contextmanager
def one_writer_at_a_time(session: Session) -> Iterator[None]:
    """On SQLite, the request threads of this process write one at a time: a thread that
    waits here is woken the moment the writer before it is done, where one waiting in
    SQLite's busy handler sleeps up to 100 ms between tries (the seconds-long p99 of
    concurrent posts). The block commits or rolls back before the next writer starts.
    PostgreSQL locks rows, not the database: there this does nothing."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _sqlite_writers:
        try:
            yield
        except BaseException:
            session.rollback()
            raise


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict[str, Any]:
    """SQLite waits for a busy lock instead of failing at once; PostgreSQL checks
    connections before use so a restarted server does not fail the next request."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets readers work while the worker writes; foreign keys are off by default.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # The busy timeout is the driver's `timeout` (engine_options: 30 s), not set here,
        # so that a configuration can shorten it.
        # In WAL mode, NORMAL syncs the log at checkpoints instead of at every commit:
        # the database stays consistent after a crash of the process or the machine, and
        # a power cut may lose the last commits before the latest checkpoint. It is what
        # lets one SQLite file take hundreds of posts a second (README, Performance).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
