"""Rendered thread pages, kept by the thread's version: in this process, or in Redis
(MODERATION_CACHE_URL) so that every web process and instance shares them.

The key is the page's identity (site, thread, limit, cursor and the reader's ``sort``: each
order is a page of its own) *and* the thread's version (``threads.version``), read from
the database in the request that asks: a post, a score, an edit or a moderator's decision
changes the version in the same commit, so the next read, whichever process serves it,
looks for another key and renders afresh. Nothing is ever invalidated, so nothing can be
invalidated too late; old entries age out (LRU here, a TTL in Redis). The cache only ever
saves work: when Redis is unreachable the page is rendered as if it were empty."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Bump when the JSON of a thread page changes shape: entries of the old shape are then
# never read (instances of two releases may share one Redis during a deploy).
RENDERING = "1"


def page_key(namespace: str, *parts: object) -> str:
    """The ETag-able identity of one rendered page: a digest of everything it depends on."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (RENDERING, namespace, *parts):
        digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class PageCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, body: bytes) -> None: ...


class MemoryCache:
    """The most recently used pages of this process, up to ``max_bytes`` of them."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._pages.get(key)
            if body is not None:
                self._pages.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            previous = self._pages.pop(key, None)
            self._bytes -= len(previous) if previous is not None else 0
            self._pages[key] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, evicted = self._pages.popitem(last=False)
                self._bytes -= len(evicted)


class RedisCache:
    """Pages in Redis for ``seconds``, shared by every process that uses the same server."""

    def __init__(self, url: str, seconds: int) -> None:
        import redis

        self.seconds = seconds
        # Short timeouts: a slow cache must not be slower than rendering.
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def get(self, key: str) -> bytes | None:
        try:
            body: Any = self._redis.get(f"moderation:thread:{key}")
        except Exception as exc:  # unreachable: render instead
            log.warning("thread cache: Redis get failed (%s)", exc)
            return None
        return bytes(body) if body is not None else None

    def put(self, key: str, body: bytes) -> None:
        try:
            self._redis.set(f"moderation:thread:{key}", body, ex=self.seconds)
        except Exception as exc:
            log.warning("thread cache: Redis set failed (%s)", exc)


def cache_from_config(config: Mapping[str, Any]) -> PageCache:
    """Redis when CACHE_URL is set, else this process's memory."""
    url = config.get("CACHE_URL")
    if url:
        return RedisCache(str(url), int(config["THREAD_CACHE_SECONDS"]))
    return MemoryCache(int(config["THREAD_CACHE_BYTES"]))


class RecentAnswers:
    """Answers that a commit writing comments, threads or sites may change (the comment
    counts of a set of pages), kept in this process while no such transaction has committed
    since they were made (``db.content_commits_so_far``) and for at most ``seconds``: exact
    for changes made in this process, at most ``seconds`` late for those of other processes
    (`make run`'s other web process, a worker process, another machine)."""

    def __init__(self, seconds: float, max_entries: int = 4096) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._answers: dict[Any, tuple[int, float, bytes]] = {}

    def get(self, key: Any, commits: int) -> bytes | None:
        entry = self._answers.get(key)
        if entry is None or entry[0] != commits or time.monotonic() - entry[1] >= self.seconds:
            return None
        return entry[2]

    def put(self, key: Any, commits: int, body: bytes) -> None:
        """Keep ``body``, made from what the database held after ``commits`` commits (read
        before it was made: a commit meanwhile only makes the entry look older)."""
        if self.seconds <= 0:
            return
        if len(self._answers) >= self.max_entries:
            self._answers.clear()  # rarely: a new set of pages is one query away
        self._answers[key] = (commits, time.monotonic(), body)
