"""The README contract `make run`: the database is migrated, the demo site and an admin
exist (the generated password is printed once, on the first start only), gunicorn serves
the API, and the worker thread inside it scores what the submit request left pending."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from werkzeug.security import check_password_hash

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 60
SCORING_SECONDS = 30
EXIT_SECONDS = 30

# Straight to 127.0.0.1, whatever http_proxy the environment sets.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Response:
    status: int
    headers: Any
    body: Any


def call(method: str, url: str, payload: dict[str, Any] | None = None) -> Response:
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    assert url.startswith("http://127.0.0.1:"), url
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with _opener.open(request, timeout=15) as response:
            return Response(response.status, response.headers, json.loads(response.read()))
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
            return Response(error.code, error.headers, json.loads(raw) if raw else None)


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    log_path: Path
    base_url: str

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def describe(self) -> str:
        output = self.output()
        if len(output) > 8000:  # start-up and the latest lines; the access log fills the middle
            output = f"{output[:4000]}\n[...]\n{output[-4000:]}"
        return f"`make run` (returncode {self.proc.poll()}):\n{output}"

    def wait_healthy(self) -> Response:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert self.proc.poll() is None, f"make run exited:\n{self.describe()}"
            try:
                response = call("GET", f"{self.base_url}/healthz")
            except OSError:  # not listening yet
                response = None
            if response is not None and response.status == 200:
                return response
            assert time.monotonic() < deadline, f"no healthy /healthz:\n{self.describe()}"
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to the whole process group (make, gunicorn, its worker), as Ctrl-C in
        a terminal would, then wait until every process of the group is gone."""
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make run ignored SIGTERM for {EXIT_SECONDS} s:\n{self.describe()}")
        deadline = time.monotonic() + EXIT_SECONDS
        while True:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            assert time.monotonic() < deadline, f"processes outlived make:\n{self.describe()}"
            time.sleep(0.1)


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    started: list[Server] = []

    def start(database: Path, name: str, **extra_env: str) -> Server:
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MODERATION_") and k not in ("PORT", "MAKEFLAGS", "MAKELEVEL")
        }
        env.update(
            MODERATION_DATABASE_URL=f"sqlite:///{database}",
            # Answer every submit `pending` at once, so the in-process worker must score.
            MODERATION_SCORE_BUDGET_MS="0",
            MODERATION_SECRET_KEY="serve-test-secret",
            PYTHONUNBUFFERED="1",
            # gunicorn's control socket goes here, not to a path shared with other servers.
            XDG_RUNTIME_DIR=str(tmp_path),
        )
        env.update(extra_env)
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                ["make", "run", f"PORT={port}"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(proc, log_path, f"http://127.0.0.1:{port}")
        started.append(server)
        return server

    yield start

    for server in started:
        if server.proc.poll() is None:
            try:
                os.killpg(server.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.proc.wait(timeout=EXIT_SECONDS)


def comment_status(database: Path, comment_id: int) -> str:
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    text("SELECT status FROM comment WHERE id = :id"), {"id": comment_id}
                ).scalar_one()
            )
    finally:
        engine.dispose()


def poll(check: Callable[[], Any], seconds: float, what: str, server: Server) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} within {seconds} s:\n{server.describe()}"
        time.sleep(0.2)


PASSWORD_LINE = re.compile(r"^password:\s+(\S+)\s*$", re.MULTILINE)


def test_make_run_serves_scores_in_process_and_prints_the_password_once(
    tmp_path: Path, start_server: StartServer
) -> None:
    database = tmp_path / "run.db"
    server = start_server(database, "first")
    health = server.wait_healthy()
    assert health.body == {"status": "ok"}
    assert "gunicorn" in health.headers["Server"], dict(health.headers)
    api = f"{server.base_url}/api/v1"

    clean = call(
        "POST",
        f"{api}/sites/demo/comments",
        {"thread": "hello-world", "author_name": "Ada", "body": "Thanks, a clear write-up."},
    )
    assert clean.status == 202, clean.body
    assert clean.body["status"] == "pending"
    assert clean.headers["Location"] == f"/api/v1/comments/{clean.body['id']}"
    shown = poll(
        lambda: (r := call("GET", f"{api}/comments/{clean.body['id']}")).status == 200 and r,
        SCORING_SECONDS,
        "the in-process worker did not make the clean comment visible",
        server,
    )
    assert shown.body["status"] == "visible"

    rude = call(
        "POST",
        f"{api}/sites/demo/comments",
        {"thread": "hello-world", "author_name": "Troll", "body": "you are a fucking idiot"},
    )
    assert rude.status == 202, rude.body
    assert rude.body["status"] == "pending"
    rude_id = rude.body["id"]
    status = poll(
        lambda: (s := comment_status(database, rude_id)) != "pending" and s,
        SCORING_SECONDS,
        "the in-process worker did not score the rude comment",
        server,
    )
    assert status == "held"
    assert call("GET", f"{api}/comments/{rude_id}").status == 404
    listing = call("GET", f"{api}/sites/demo/comments?thread=hello-world")
    assert listing.status == 200
    assert [c["id"] for c in listing.body["comments"]] == [clean.body["id"]]

    server.stop()
    first_output = server.output()
    assert "Shutting down: Master" in first_output, server.describe()
    passwords = PASSWORD_LINE.findall(first_output)
    assert len(passwords) == 1, server.describe()
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            [(email, password_hash, role)] = conn.execute(
                text("SELECT email, password_hash, role FROM moderator")
            ).all()
    finally:
        engine.dispose()
    assert (email, role) == ("admin@localhost", "admin")
    assert check_password_hash(password_hash, passwords[0]), "the printed password logs in"

    # The same database again: nothing to create, so no password is shown.
    again = start_server(database, "second")
    again.wait_healthy()
    assert call("GET", f"{again.base_url}/api/v1/comments/{clean.body['id']}").status == 200
    again.stop()
    assert "serving on" in again.output(), again.describe()
    assert not PASSWORD_LINE.search(again.output()), again.describe()
    assert "password" not in again.output().lower(), again.describe()


def test_a_body_over_the_limit_gets_413_and_an_honest_connection_close(
    tmp_path: Path, start_server: StartServer
) -> None:
    """gunicorn drains at most 64 KiB of a body the app did not read; past that it
    closes the connection. It must say so (Connection: close) rather than promise
    keep-alive and leave the client's next request on that connection to fail."""
    import http.client

    server = start_server(tmp_path / "limits.db", "limits")
    server.wait_healthy()
    port = int(server.base_url.rsplit(":", 1)[1])
    body = json.dumps({"thread": "t", "author_name": "A", "body": "x" * 300_000}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("POST", "/api/v1/sites/demo/comments", body=body,
                           headers={"Content-Type": "application/json"})  # fmt: skip
        response = connection.getresponse()
        problem = json.loads(response.read())
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/problem+json"
        assert problem["status"] == 413
        assert response.getheader("Connection") == "close"
    finally:
        connection.close()
    # A body under the limit on a kept-alive connection is still served twice in a row.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        for _ in range(2):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection") != "close"
    finally:
        connection.close()


def descendants(root: int) -> list[tuple[int, str]]:
    """The pids and command lines of ``root``'s descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], list(children.get(root, []))
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append((pid, command))
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def command_lines(root: int) -> list[str]:
    """The command lines of ``root``'s descendants."""
    return [command for _, command in descendants(root)]


RUN_FILES = REPO / "instance" / "run"
WORKER_STARTED = re.compile(r"in-process scoring worker [^:\s]+:(\d+):\w+ started")


def test_make_run_with_two_web_processes_scores_in_one_of_them_and_the_other_takes_over(
    tmp_path: Path, start_server: StartServer
) -> None:
    database = tmp_path / "two.db"
    # A limit of an hour's window, which no slow machine sees reset during the test.
    server = start_server(
        database, "two", MODERATION_WEB_PROCESSES="2", MODERATION_RATELIMIT_POST="12/hour"
    )
    server.wait_healthy()

    def gunicorns() -> list[str]:
        found = command_lines(server.proc.pid)
        return found if sum("gunicorn" in line for line in found) == 3 else []

    # The master and its two web processes, which start one after the other.
    commands = poll(gunicorns, STARTUP_SECONDS, "two web processes", server)
    assert not any("moderation worker" in line for line in commands), commands
    api = f"{server.base_url}/api/v1"

    def post_and_wait_until_scored(body: str, thread: str = "hello-world") -> None:
        posted = call(
            "POST",
            f"{api}/sites/demo/comments",
            {"thread": thread, "author_name": "Ada", "body": body},
        )
        assert posted.status == 202 and posted.body["status"] == "pending", posted.body
        poll(
            lambda: comment_status(database, posted.body["id"]) == "visible",
            SCORING_SECONDS,
            "no web process's worker scored the comment",
            server,
        )
        # Read through both web processes (new connections land on either): the same.
        for _ in range(6):
            assert call("GET", f"{api}/comments/{posted.body['id']}").status == 200

    post_and_wait_until_scored("Thanks, a clear write-up.")
    [first] = WORKER_STARTED.findall(server.output())  # one worker, not one per process

    # The process running the worker dies: the other one's thread takes the worker over.
    os.kill(int(first), signal.SIGKILL)
    poll(
        lambda: len(WORKER_STARTED.findall(server.output())) == 2,
        SCORING_SECONDS,
        "no other web process took the worker over",
        server,
    )
    second = WORKER_STARTED.findall(server.output())[1]
    assert second != first
    server.wait_healthy()
    post_and_wait_until_scored("And a second, after the restart.")

    # The counts each process keeps see the other's commits at once (they count their
    # commits in one file): both have the page's count, the worker in one of them makes a
    # new comment visible, and every read through either says so.
    counts = f"{api}/sites/demo/counts?thread=counted"
    assert {call("GET", counts).body["counts"]["counted"] for _ in range(6)} == {0}
    post_and_wait_until_scored("Counted at once.", thread="counted")
    assert {call("GET", counts).body["counts"]["counted"] for _ in range(6)} == {1}

    # One posting limit for both processes (12 an hour; each request a new connection,
    # which either process may take): 3 posts so far, 9 more, then 429.
    answers = [
        call(
            "POST",
            f"{api}/sites/demo/comments",
            {"thread": "limits", "author_name": "Ada", "body": f"Post number {n}."},
        ).status
        for n in range(12)
    ]
    assert answers == [202] * 9 + [429] * 3, answers

    # The worker's lock and the limits' counts are files of this server's, named by its
    # master; they go when it stops.
    gunicorns = {pid for pid, command in descendants(server.proc.pid) if "gunicorn" in command}
    [master] = [pid for pid in gunicorns if parent_of(pid) not in gunicorns]
    own = sorted(path.name for path in RUN_FILES.glob(f"*-{master}.*"))
    assert f"worker-{master}.lock" in own and f"limits-{master}.sqlite" in own, own
    server.stop()  # checks that no process outlives make
    assert len(WORKER_STARTED.findall(server.output())) == 2, server.describe()
    assert not list(RUN_FILES.glob(f"*-{master}.*"))
