"""`make run`'s gunicorn worker (moderation.serving.ThreadWorker): the web processes
share the connections of a burst, whichever of them wakes first, and connections that
send nothing yet hold no thread."""

from __future__ import annotations

import collections
import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow

# A page that keeps its thread for a moment and says which process answered.
APP = """
import os, time

def app(environ, start_response):
    time.sleep(0.4)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


@contextmanager
def gunicorn(folder: Path, workers: int, threads: int) -> Iterator[tuple[int, subprocess.Popen]]:
    """The slow page under gunicorn with our worker: its port and process, once every web
    process listens; stopped (SIGTERM) at the end unless the test did."""
    (folder / "slow_app.py").write_text(APP)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - this interpreter, gunicorn, our worker
        [sys.executable, "-m", "gunicorn", "--worker-class", "moderation.serving.ThreadWorker",
         "--workers", str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
         "--chdir", str(folder), "slow_app:app"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("gunicorn did not start") from None
                time.sleep(0.1)
        time.sleep(1)  # every web process listening, not only the first one up
        yield port, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    with gunicorn(tmp_path, workers=2, threads=4) as (port, _):
        yield port


REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def answer(sock: socket.socket) -> str:
    """The body of the next answer on ``sock`` (the answering process's pid), the
    connection kept alive."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    assert response.status == 200 and not response.will_close
    return response.read().decode()


def burst(port: int, connections: int) -> tuple[list[str], list[str], float]:
    """Open ``connections`` at once, each sending its request as soon as it is open (like
    the bench's clients), then a second request on each: the pids that answered the
    first round and the second, and how long the first took."""
    socks: list[socket.socket] = []
    try:
        started = time.monotonic()
        for _ in range(connections):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=30))
            socks[-1].sendall(REQUEST)
        first = [answer(sock) for sock in socks]
        took = time.monotonic() - started
        for sock in socks:
            sock.sendall(REQUEST)
        second = [answer(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    return first, second, took


def test_a_burst_of_eight_connections_is_served_four_by_each_of_two_processes(
    server: int,
) -> None:
    # With gunicorn's own gthread worker, the process that woke first often accepted all
    # eight and answered them four at a time while the other idled.
    first, second, took = burst(server, 8)
    assert sorted(collections.Counter(first).values()) == [4, 4], first
    assert second == first  # kept alive, a connection stays with the process that took it
    assert took < 0.8 * 2, f"eight requests of 0.4 s on eight threads took {took:.2f} s"


def test_processes_of_one_thread_share_a_burst_too(tmp_path: Path) -> None:
    # `make run` on SQLite: two processes of one request thread. The one that takes a
    # connection stops listening until its request is done, so the other takes the next.
    with gunicorn(tmp_path, workers=2, threads=1) as (port, _):
        first, second, took = burst(port, 4)
    assert sorted(collections.Counter(first).values()) == [2, 2], first
    assert second == first
    assert took < 0.4 * 2 + 0.4, f"four requests of 0.4 s on two threads took {took:.2f} s"


def test_connections_that_send_nothing_hold_no_thread_and_are_closed_in_the_end(
    server: int,
) -> None:
    # Eight connections that say nothing (a browser's preconnects, a slow client): with
    # gunicorn's own worker each took a thread of its process for 5 s, and a request on
    # a ninth connection waited behind them.
    idle = [socket.create_connection(("127.0.0.1", server), timeout=30) for _ in range(8)]
    try:
        time.sleep(0.1)  # accepted, and older than a burst's connection
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and response.read().isdigit()
        took = time.monotonic() - started
        connection.close()
        assert took < 0.4 + 0.3, f"a 0.4 s page took {took:.2f} s behind idle connections"
        # They are still open, and a request sent on one of them now is answered.
        idle[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert idle[0].recv(64).startswith(b"HTTP/1.1 200")
        # The others are closed once they have said nothing for gunicorn's patience
        # (5 s and the 2 s keep-alive timeout).
        idle[1].settimeout(15)
        assert idle[1].recv(64) == b""
    finally:
        for sock in idle:
            sock.close()


def test_a_stopping_server_closes_connections_that_sent_nothing_within_its_linger(
    tmp_path: Path,
) -> None:
    # Like a kept-alive connection, one that never sent anything is given gunicorn's 2 s
    # linger when the server stops, not its whole wait of 7 s (graceful_timeout is 10 s
    # in `make run`, and the scoring worker needs some of it to finish its batch).
    with gunicorn(tmp_path, workers=1, threads=2) as (port, process):
        silent = socket.create_connection(("127.0.0.1", port), timeout=30)
        time.sleep(0.3)
        stopping = time.monotonic()
        process.terminate()
        process.wait(timeout=30)
        took = time.monotonic() - stopping
        silent.close()
        assert took < 4, f"stopping took {took:.1f} s with one silent connection open"
