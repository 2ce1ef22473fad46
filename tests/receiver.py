"""A real HTTP server on 127.0.0.1 that records what webhooks POST to it and answers with
the status codes a test scripts (then 200)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # consumed first; then 200
    received: list[Received] = field(default_factory=list)  # once answered
    arrivals: int = 0  # requests seen, answered or still waiting for their delay
    delay_seconds: float = 0.0
    first_delay_seconds: float | None = None  # the first request waits this long instead
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def http_receiver(
    answers: list[int] | None = None,
    delay_seconds: float = 0.0,
    first_delay_seconds: float | None = None,
) -> Iterator[Receiver]:
    state = Receiver(
        url="",
        answers=list(answers or []),
        delay_seconds=delay_seconds,
        first_delay_seconds=first_delay_seconds,
    )

    class Handler(BaseHTTPRequestHandler):
        # The status line and the body go out as separate writes: without TCP_NODELAY the
        # second waits for the client's delayed ACK, ~40 ms a request.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.arrivals += 1
                first = state.arrivals == 1
            delay = state.delay_seconds
            if first and state.first_delay_seconds is not None:
                delay = state.first_delay_seconds
            if delay:
                threading.Event().wait(delay)
            with state.lock:
                state.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retry)

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/moderation"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
