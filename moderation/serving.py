"""gunicorn's threaded worker, taking new connections only while it has a thread free.

`make run` forks two web processes that wait on one listening socket, and the kernel
hands a new connection to whichever of them calls accept first. gunicorn's gthread worker
accepts whenever the socket is readable, however busy its threads are, so the process
that woke first could take every connection of a burst: 8 keep-alive clients connecting
at once were all served by one process half the time, with the other idle and the server
held to one core (half the requests per second of a run where they split; README,
Performance). A connection stays with the process that accepted it, so nothing evened
this out later.

This worker stops listening while each of its threads has a request (``busy``, counted by
the poller thread, which alone submits requests and finishes them) or a connection
accepted in the last few milliseconds that is about to bring one (``full``), and listens
again as soon as one is done: connections that arrive meanwhile wait in the kernel's
queue for the first process with a free thread, where they would otherwise have waited in
this process's queue for a thread. Kept-alive connections are not affected: their next
request is queued for a thread as before.

A new connection waits for its first bytes in the poller, not in a thread. gunicorn's
worker gives it a thread at once, which waits up to 5 s for the request to start: a few
connections that send nothing yet (a browser's preconnect, a slow or hostile client) held
every thread of a process while requests on its other connections queued behind them. Such
a connection is closed when it has sent nothing for as long as gunicorn would have kept it
(5 s, then the keep-alive timeout)."""

from __future__ import annotations

import errno
import selectors
import time
from functools import partial
from typing import Any

from gunicorn.workers import gthread

# How long a new connection may wait for its first bytes: gunicorn's patience (a thread's
# wait; the keep-alive timeout of a deferred connection is added, _pending_seconds).
PENDING_SECONDS: float = gthread.DEFAULT_WORKER_DATA_TIMEOUT
# A connection accepted this recently counts as a request on its way (a burst's clients
# send theirs within milliseconds of connecting); one that has sent nothing for longer is
# idle, and no longer keeps this process from taking the next connection.
FRESH_SECONDS = 0.05


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc] # gunicorn has no type hints
    """gunicorn's ``worker_class`` for `make run` (config/gunicorn.conf.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.busy = 0  # requests submitted to the thread pool and not finished

    def full(self) -> bool:
        """Whether each thread has a request, or a connection just accepted that will
        bring one."""
        threads: int = self.cfg.threads
        taken = self.busy
        fresh_after = time.monotonic() + self._pending_seconds() - FRESH_SECONDS
        for conn in reversed(self.pending_conns):  # the newest last
            if taken >= threads or conn.timeout < fresh_after:
                break
            taken += 1
        return taken >= threads

    def _pending_seconds(self) -> float:
        keepalive: float = self.cfg.keepalive
        return PENDING_SECONDS + keepalive

    def enqueue_req(self, conn: Any) -> None:
        super().enqueue_req(conn)  # finished by the poller thread, later than this
        self.busy += 1
        if self.full():
            self.set_accept_enabled(False)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.busy -= 1
        super().finish_request(conn, fs)

    def accept(self, listener: Any) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = gthread.TConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        # gunicorn's pending connections: a thread takes it once it is readable
        # (on_pending_socket_readable); murder_pending closes it after the timeout. Only new
        # connections are pending here (they reach a thread with data, so none is deferred
        # back), which keeps the queue in the order of their timeouts.
        conn.timeout = time.monotonic() + self._pending_seconds()
        self.pending_conns.append(conn)
        self.poller.register(
            client, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )
        if self.full():
            self.set_accept_enabled(False)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # Refused only because of fresh connections: look again once they are no longer
        # fresh (one that stays silent would otherwise keep the process deaf until the
        # next event or gunicorn's one-second turn).
        if not self._accepting and self.busy < self.cfg.threads and self.pending_conns:
            timeout = min(timeout, FRESH_SECONDS)
        super().wait_for_and_dispatch_events(timeout)

    def _cap_keepalive(self, deadline: float) -> None:
        # gunicorn caps its kept-alive connections when it stops (so that it exits within
        # its linger, not their keep-alive timeout); the pending ones too. The same cap on
        # each keeps them in the order of their timeouts.
        super()._cap_keepalive(deadline)
        for conn in self.pending_conns:
            conn.timeout = min(conn.timeout, deadline)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gunicorn's loop asks for accepting again at each turn (woken when a request is
        # done, at least once a second); until a thread is free, refuse.
        if enabled and self.full():
            return
        super().set_accept_enabled(enabled)
