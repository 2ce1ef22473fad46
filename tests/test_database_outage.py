"""PostgreSQL going away under a write load: the service (gunicorn, as in production)
answers every request it cannot serve with a 503 problem+json and Retry-After, loses no
acknowledged comment, and, with clients retrying under their Idempotency-Key, stores none
twice. The PostgreSQL here is the test's own (its own data directory and port), started
and stopped by the test: never the machine's server."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow

CLIENTS = 8
LOAD_SECONDS = 3.0  # of posting before the outage, and again after it
OUTAGE_SECONDS = 1.5
RETRY_FOR_SECONDS = 60.0
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.fail("PostgreSQL's server programs (pg_ctl, initdb) are not installed")
    return Path(found[-1]).parent


@dataclass
class OwnPostgres:
    """A PostgreSQL server in a directory of its own, run as the postgres user when the
    tests run as root (PostgreSQL refuses to run as root)."""

    directory: Path
    port: int
    bin: Path = field(default_factory=_postgres_bin)

    @property
    def as_postgres(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"),
             "-l", str(self.directory / "server.log"), "-w", *args],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def init(self) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / "initdb"), "-D", str(self.directory / "data"),
             "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=50")  # fmt: skip
        self.pg_ctl("-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    directory = Path(tempfile.mkdtemp(prefix="moderation-outage-"))
    directory.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = OwnPostgres(directory, free_port())
    try:
        server.init()
        server.start()
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE moderation")
        yield server
    finally:
        try:
            server.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Answer:
    status: int
    content_type: str
    retry_after: str | None
    body: Any


def post(base_url: str, key: str, body: str) -> Answer | None:
    """POST one comment; None when no HTTP answer came at all."""
    data = json.dumps({"thread": "outage", "author_name": "Load", "body": body}).encode()
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1
        f"{base_url}/api/v1/sites/demo/comments", data=data, method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )  # fmt: skip
    try:
        with _opener.open(request, timeout=30) as response:
            headers = response.headers
            return Answer(response.status, headers.get("Content-Type", ""),
                          headers.get("Retry-After"), json.loads(response.read()))  # fmt: skip
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            return Answer(error.code, error.headers.get("Content-Type", ""),
                          error.headers.get("Retry-After"), parsed)  # fmt: skip
    except OSError:
        return None


def _first_traceback(log: str) -> str:
    """The server log from Flask's first "Exception on" (what made a 500) on, or from its
    first traceback (a logged one may be harmless), or its tail."""
    for mark in ("Exception on ", "Traceback"):
        start = log.find(mark)
        if start >= 0:
            return log[start : start + 6000]
    return log[-3000:]


def test_a_postgres_restart_under_load_loses_nothing_and_duplicates_nothing(
    own_postgres: OwnPostgres, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    port = free_port()
    env.update(
        MODERATION_DATABASE_URL=own_postgres.url("moderation"),
        MODERATION_SECRET_KEY="outage-test-secret",
        MODERATION_SCORER="lite",
        MODERATION_WORKER_IN_PROCESS="false",
        MODERATION_RATELIMIT_ENABLED="false",  # a load test, as a peer's benchmark would
        PORT=str(port),
        XDG_RUNTIME_DIR=str(tmp_path),
        FLASK_APP="app",
    )
    flask = str(REPO / ".venv" / "bin" / "flask")
    for command in (["db", "upgrade"], ["moderation", "bootstrap"]):
        subprocess.run([flask, *command], cwd=REPO, env=env, check=True, capture_output=True,
                       timeout=120)  # fmt: skip
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "gunicorn"), "-c", "config/gunicorn.conf.py",
             "app:create_app()"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with _opener.open(f"{base_url}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            assert server.poll() is None, log_path.read_text()
            time.sleep(0.2)

        answers: list[Answer] = []
        stored: dict[str, int] = {}  # key -> the id its acknowledgement named
        posted: list[str] = []
        lock = threading.Lock()
        stop_posting = threading.Event()

        def client(number: int) -> None:
            while not stop_posting.is_set():
                key = uuid.uuid4().hex
                body = f"comment {key} from client {number}"
                with lock:
                    posted.append(key)
                give_up = time.monotonic() + RETRY_FOR_SECONDS
                while True:  # the same key until the service acknowledges it
                    answer = post(base_url, key, body)
                    if answer is not None:
                        with lock:
                            answers.append(answer)
                        if answer.status in (201, 202):
                            with lock:
                                stored[key] = answer.body["id"]
                            break
                    if time.monotonic() > give_up:
                        return
                    time.sleep(0.1)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS)
        own_postgres.stop("fast")
        time.sleep(OUTAGE_SECONDS)
        own_postgres.start()
        time.sleep(LOAD_SECONDS)
        stop_posting.set()
        for thread in threads:
            thread.join(timeout=RETRY_FOR_SECONDS + 30)
    finally:
        server.terminate()
        server.wait(timeout=30)

    failures = [a for a in answers if a.status not in (201, 202)]
    assert failures, "the outage was not noticed by any request: the test tested nothing"
    for failure in failures:
        if failure.status != 503:  # pytest.fail: the server's traceback in full
            pytest.fail(f"{failure}\n{_first_traceback(log_path.read_text())}")
        assert failure.content_type == "application/problem+json", failure
        assert failure.retry_after is not None and int(failure.retry_after) > 0, failure
    # Every comment a client posted was acknowledged in the end...
    assert set(stored) == set(posted)
    # ... and is stored exactly once, under the id it was acknowledged with.
    with psycopg.connect(own_postgres.url("moderation")) as conn:
        rows = conn.execute("SELECT id, body FROM comment").fetchall()
    by_key = {}
    for comment_id, body in rows:
        key = body.split()[1]
        assert key not in by_key, f"stored twice: {body}"
        by_key[key] = comment_id
    assert by_key == stored
    print(f"{len(stored)} comments, {len(failures)} answered 503 during the outage")
