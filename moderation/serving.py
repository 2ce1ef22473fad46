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
the poller thread, which alone submits requests and finishes them) and listens again as
soon as one is done: connections that arrive meanwhile wait in the kernel's queue for the
first process with a free thread, where they would otherwise have waited in this process's
queue for a thread. Kept-alive connections are not affected: their next request is queued
for a thread as before."""

from __future__ import annotations

from typing import Any

from gunicorn.workers import gthread


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc] # gunicorn has no type hints
    """gunicorn's ``worker_class`` for `make run` (config/gunicorn.conf.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.busy = 0  # requests submitted to the thread pool and not finished

    def enqueue_req(self, conn: Any) -> None:
        self.busy += 1
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.busy -= 1
        super().finish_request(conn, fs)

    def accept(self, listener: Any) -> None:
        super().accept(listener)
        if self.busy >= self.cfg.threads:
            self.set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gunicorn's loop asks for accepting again at its next turn, after a request is
        # done (the poller is woken to finish it); until a thread is free, refuse.
        if enabled and self.busy >= self.cfg.threads:
            return
        super().set_accept_enabled(enabled)
