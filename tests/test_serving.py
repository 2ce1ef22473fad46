"""`make run`'s gunicorn worker (moderation.serving.ThreadWorker): the web processes
share the connections of a burst, whichever of them wakes first."""

from __future__ import annotations

import collections
import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    (tmp_path / "slow_app.py").write_text(APP)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - this interpreter, gunicorn, our worker
        [sys.executable, "-m", "gunicorn", "--worker-class", "moderation.serving.ThreadWorker",
         "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(tmp_path), "slow_app:app"],
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
        time.sleep(1)  # both web processes listening, not only the first one up
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_burst_of_eight_connections_is_served_four_by_each_of_two_processes(
    server: int,
) -> None:
    # With gunicorn's own gthread worker, the process that woke first often accepted all
    # eight and answered them four at a time while the other idled.
    connections = [http.client.HTTPConnection("127.0.0.1", server, timeout=30) for _ in range(8)]

    def ask(connection: http.client.HTTPConnection) -> str:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200
        return response.read().decode()

    try:
        with ThreadPoolExecutor(8) as pool:
            started = time.monotonic()
            first = list(pool.map(ask, connections))
            took = time.monotonic() - started
            # The same connections, kept alive, stay with the process that took them.
            second = list(pool.map(ask, connections))
    finally:
        for connection in connections:
            connection.close()
    assert sorted(collections.Counter(first).values()) == [4, 4], first
    assert second == first
    assert took < 0.8 * 2, f"eight requests of 0.4 s on eight threads took {took:.2f} s"
