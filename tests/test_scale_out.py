"""Scale-out as README's Performance section draws it, on one machine: two gunicorn
instances on two ports sharing one PostgreSQL database and one Redis (rate limits and the
thread cache), and a reader alternating between them. What one instance stores, the other
serves at once; a rate limit counts across both; nothing is lost or numbered twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Comment
from tests.conftest import POSTGRES, POSTGRES_PROBLEM, REPO, free_port, make_site
from tests.redis_server import redis_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not POSTGRES,
        reason=f"instances share a database only on PostgreSQL: {POSTGRES_PROBLEM} "
        "(set TEST_DATABASE_URL)",
    ),
    # The conftest's `app` fixture empties this run's PostgreSQL database for this backend.
    pytest.mark.parametrize("backend", ["postgresql"]),
]

STARTUP_SECONDS = 60
POST_LIMIT = 12  # per minute, per client address and site: across all instances
THREAD = "sites/blog/comments?thread=launch"

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any


def call(url: str, payload: dict[str, Any] | None = None, **headers: str) -> Answer:
    assert url.startswith("http://127.0.0.1:"), url
    data = json.dumps(payload).encode() if payload is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with _opener.open(request, timeout=15) as response:
            raw = response.read()
            return Answer(response.status, response.headers, json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
            return Answer(error.code, error.headers, json.loads(raw) if raw else None)


@pytest.fixture
def instances(app: Flask, tmp_path: Path) -> Iterator[list[str]]:
    """Two instances, as two machines would run them: gunicorn with the project's
    config, the one database, the one Redis; each answers on its own port."""
    make_site(app.extensions["sqlalchemy"].session, "blog", allowed_origins=[])
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    processes: list[subprocess.Popen[bytes]] = []
    with redis_server(tmp_path) as redis_url:
        try:
            urls = []
            for name in ("a", "b"):
                port = free_port()
                env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
                env.update(
                    PORT=str(port),
                    MODERATION_DATABASE_URL=database_url,
                    MODERATION_SECRET_KEY="scale-out-secret",
                    MODERATION_SCORER="lite",
                    MODERATION_RATELIMIT_STORAGE=redis_url,
                    MODERATION_RATELIMIT_POST=f"{POST_LIMIT}/minute",
                    MODERATION_CACHE_URL=redis_url,
                    XDG_RUNTIME_DIR=str(tmp_path),
                )
                command = [str(REPO / ".venv/bin/gunicorn"), "-c", "config/gunicorn.conf.py",
                           "app:create_app()"]  # fmt: skip
                with (tmp_path / f"{name}.log").open("wb") as log:
                    process = subprocess.Popen(
                        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )  # fmt: skip
                processes.append(process)
                urls.append(f"http://127.0.0.1:{port}")
            for url, process in zip(urls, processes, strict=True):
                deadline = time.monotonic() + STARTUP_SECONDS
                while True:
                    assert process.poll() is None, (tmp_path / "a.log").read_text()
                    try:
                        if call(f"{url}/healthz").status == 200:
                            break
                    except OSError:
                        pass
                    assert time.monotonic() < deadline, f"{url} did not start"
                    time.sleep(0.2)
            yield [f"{url}/api/v1" for url in urls]
        finally:
            for process in processes:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                process.wait(timeout=30)


def ids(page: Answer) -> list[int]:
    return [comment["id"] for comment in page.body["comments"]]


def test_two_instances_share_the_database_the_cache_and_the_rate_limit(
    instances: list[str], session: Session
) -> None:
    posted: list[int] = []
    etags: dict[str, str] = {}
    for n in range(POST_LIMIT):
        writer, reader = instances[n % 2], instances[(n + 1) % 2]
        answer = call(
            f"{writer}/sites/blog/comments",
            {"thread": "launch", "author_name": "Ada", "body": f"Comment number {n}, thanks."},
        )
        assert answer.status == 201, answer.body
        posted.append(answer.body["id"])
        # Read at once through the other instance, with the page it last served: the
        # cached page in Redis must not be it.
        headers = {"If-None-Match": etags[reader]} if reader in etags else {}
        page = call(f"{reader}/{THREAD}", **headers)
        assert page.status == 200, (n, page.status)
        assert ids(page) == posted
        assert page.body["thread"]["comment_count"] == n + 1
        etags[reader] = page.headers["ETag"]
        # Nothing changed since: both instances answer 304 to the page just read.
        for instance in instances:
            again = call(f"{instance}/{THREAD}", **{"If-None-Match": page.headers["ETag"]})
            assert again.status == 304

    # The limit counted every post, whichever instance took it.
    for instance in instances:
        refused = call(
            f"{instance}/sites/blog/comments",
            {"thread": "launch", "author_name": "Ada", "body": "One too many."},
        )
        assert refused.status == 429, refused.body
        assert int(refused.headers["Retry-After"]) >= 1

    stored = session.execute(
        select(Comment.id, Comment.body)
        .order_by(Comment.id)
        .execution_options(populate_existing=True)
    ).all()
    assert [row.id for row in stored] == posted
    assert [row.body for row in stored] == [
        f"Comment number {n}, thanks." for n in range(POST_LIMIT)
    ]
