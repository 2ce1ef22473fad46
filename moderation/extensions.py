"""Flask extensions, created unbound and bound to an application in ``wiring.init_app``."""

from __future__ import annotations

import logging
import math
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
# storage comes from RATELIMIT_STORAGE_URI (memory:// by default; a redis:// address,
# to share the counts between processes, is wrapped in FallbackStorage by wiring).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

log = logging.getLogger(__name__)


class FallbackStorage(Storage):
    """Redis for the rate limits, and this process's memory while Redis is unreachable.

    Flask-Limiter's own fallback replaces every route's limits with one global list while
    its storage is down, and without one (swallowing errors) every limit stops, sign-in
    included. Here each route keeps its own limits: they count in memory, per process,
    until Redis answers again (tried every ``RETRY_SECONDS``); counts made meanwhile stay
    in memory and the shared ones start again from Redis. ``degraded_since`` says when
    the fallback began (None while Redis serves), for /healthz and the moderators' banner."""

    STORAGE_SCHEME = ["fallback+redis", "fallback+rediss"]
    RETRY_SECONDS = 10.0

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        # A Redis that does not answer must not hold every request up for long.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 0.5)
        self.primary = RedisStorage(uri.removeprefix("fallback+"), **options)
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
