"""Flask extensions, created unbound and bound to an application in ``wiring.init_app``."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from typing import Any, cast

from flask import Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from limits.storage import MemoryStorage, RedisStorage, Storage

login_manager = LoginManager()
csrf = CSRFProtect()
# Limits are declared on the views that need them (posting, flagging, signing in...);
# storage comes from RATELIMIT_STORAGE_URI (memory:// by default; sqlite:///<file> for the
# processes of one machine, SQLiteStorage below; a redis:// address, to share the counts
# between machines, is wrapped in FallbackStorage by wiring).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

log = logging.getLogger(__name__)


class FallbackStorage(Storage):
    """Redis (or SQLiteStorage's file) for the rate limits, and this process's memory
    while that storage is unreachable.

    Flask-Limiter's own fallback replaces every route's limits with one global list while
    its storage is down, and without one (swallowing errors) every limit stops, sign-in
    included. Here each route keeps its own limits: they count in memory, per process,
    until Redis answers again (tried every ``RETRY_SECONDS``); counts made meanwhile stay
    in memory and the shared ones start again from Redis. ``degraded_since`` says when
    the fallback began (None while Redis serves), for /healthz and the moderators' banner."""

    STORAGE_SCHEME = ["fallback+redis", "fallback+rediss", "fallback+sqlite"]
    RETRY_SECONDS = 10.0

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        shared = uri.removeprefix("fallback+")
        self.primary: Storage
        if shared.startswith("sqlite:"):
            self.primary = SQLiteStorage(shared)
        else:
            # A Redis that does not answer must not hold every request up for long.
            options.setdefault("socket_connect_timeout", 0.5)
            options.setdefault("socket_timeout", 0.5)
            self.primary = RedisStorage(shared, **options)
        self.memory = MemoryStorage()
        self.degraded_since: float | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # nothing escapes: failures move the counting to memory

    def _call(self, operation: str, *args: Any) -> Any:
        now = time.monotonic()
        if self.degraded_since is None or now >= self._next_try:
            try:
                result = getattr(self.primary, operation)(*args)
            except self.primary.base_exceptions as error:
                with self._lock:
                    if self.degraded_since is None:
                        self.degraded_since = time.time()
                        log.error("rate-limit storage unreachable (%s): limits count in this "
                                  "process's memory until it answers", error)  # fmt: skip
                    self._next_try = now + self.RETRY_SECONDS
            else:
                if self.degraded_since is not None:
                    with self._lock:
                        self.degraded_since = None
                    log.warning("rate-limit storage answers again: limits are shared again")
                return result
        return getattr(self.memory, operation)(*args)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return int(self._call("incr", key, expiry, amount))

    def get(self, key: str) -> int:
        return int(self._call("get", key))

    def get_expiry(self, key: str) -> float:
        return float(self._call("get_expiry", key))

    def check(self) -> bool:
        return bool(self.primary.check())

    def reset(self) -> int | None:
        self.memory.reset()
        return cast(int | None, self._call("reset"))

    def clear(self, key: str) -> None:
        self.memory.clear(key)
        self._call("clear", key)


class SQLiteStorage(Storage):
    """Fixed-window counts in an SQLite file: the rate limits of several processes on one
    machine (`make run`'s web processes, which config/gunicorn.conf.py points at a file of
    the server's own) without Redis. A file of its own, not the service's database: a
    count is one short write that never waits behind a post's transaction.

    ``sqlite:///<path>`` (an absolute path has a fourth slash). Each thread of each
    process opens its own connection; a window is a row (key, count, expiry) that one
    upsert starts or counts on; expired rows are deleted now and then."""

    STORAGE_SCHEME = ["sqlite"]
    PRUNE_EVERY = 1000  # counts between deletions of expired windows, per process

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        # The upsert's RETURNING needs SQLite 3.35: refuse to start rather than let every
        # count fail (RATELIMIT_SWALLOW_ERRORS would let each request through).
        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError(
                f"rate limits in {uri} need SQLite 3.35 or newer; this Python has "
                f"{sqlite3.sqlite_version}: set MODERATION_RATELIMIT_STORAGE to redis://..."
            )
        self.path = uri.removeprefix("sqlite:///")
        self._local = threading.local()
        self._inherited: list[sqlite3.Connection] = []
        self._counted = 0

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (never before gunicorn forks,
        as nothing counts in its master)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            return connection
        if connection is not None:
            # Made before a fork: never used here, and never closed either (closing it
            # would drop this process's locks on the file, SQLite's own connections' too).
            self._inherited.append(connection)
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        # Counts of a server that lost power restart from zero, as they do in memory.
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS rate_window "
            "(key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)"
        )
        self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        connection = self._connection()
        (count,) = connection.execute(
            "INSERT INTO rate_window (key, count, expires_at) VALUES (:key, :amount, :expires) "
            "ON CONFLICT (key) DO UPDATE SET "
            "count = CASE WHEN expires_at <= :now THEN :amount ELSE count + :amount END, "
            "expires_at = CASE WHEN expires_at <= :now THEN :expires ELSE expires_at END "
            "RETURNING count",
            {"key": key, "amount": amount, "expires": now + expiry, "now": now},
        ).fetchone()
        self._counted += 1
        if self._counted % self.PRUNE_EVERY == 0:
            connection.execute("DELETE FROM rate_window WHERE expires_at <= ?", (now,))
        return int(count)

    def _window(self, key: str) -> tuple[int, float] | None:
        row = (
            self._connection()
            .execute(
                "SELECT count, expires_at FROM rate_window WHERE key = ? AND expires_at > ?",
                (key, time.time()),
            )
            .fetchone()
        )
        return (int(row[0]), float(row[1])) if row else None

    def get(self, key: str) -> int:
        window = self._window(key)
        return window[0] if window else 0

    def get_expiry(self, key: str) -> float:
        window = self._window(key)
        return window[1] if window else time.time()

    def check(self) -> bool:
        self._connection().execute("SELECT 1").fetchone()
        return True

    def reset(self) -> int | None:
        return int(self._connection().execute("DELETE FROM rate_window").rowcount)

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM rate_window WHERE key = ?", (key,))


def limits_warning() -> str | None:
    """A sentence for /healthz and the moderators' banner while the rate limits count in
    this process's memory because their shared storage is unreachable."""
    try:
        storage = limiter.storage
    except Exception:  # the limiter is not initialised (limits off)
        return None
    if isinstance(storage, FallbackStorage) and storage.degraded_since is not None:
        since = datetime.fromtimestamp(storage.degraded_since, UTC).strftime("%H:%M:%S UTC")
        return (f"rate-limit storage unreachable since {since}: limits count per process "
                "until it answers")  # fmt: skip
    return None


def retry_after_seconds() -> int | None:
    """How long the request's breached rate limit still refuses: the real wait rounded
    up, at least 1 second. None when no limit applied to the request."""
    current = limiter.current_limit
    if current is None:
        return None
    return max(1, math.ceil(current.window.reset_time - time.time()))


def retry_after_header(response: Response) -> Response:
    """A 429's ``Retry-After``: the wait, rounded up. Flask-Limiter writes ``int(reset -
    now)``, which a wait under a second (a limit per second, the end of any window) makes
    ``Retry-After: 0``, and clients retry at once. Registered before the limiter, so that
    it runs after the limiter's own after-request hook (Flask runs them in reverse)."""
    if response.status_code == 429:
        try:
            seconds = retry_after_seconds()
        except Exception:  # storage unreachable: the limiter's own value stands
            return response
        if seconds is not None:
            response.headers["Retry-After"] = str(seconds)
    return response
