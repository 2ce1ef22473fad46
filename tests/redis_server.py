"""A real Redis server of a test's own (redis-server from Debian), on a free port."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """redis-server on ``port`` (nothing saved to disk), answering pings; the caller
    stops it (a test may stop and start it again on the same port: Redis going away)."""
    import redis

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """Start redis-server and yield its URL; stop it after."""
    port = free_port()
    process = start_redis(port, folder)
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
