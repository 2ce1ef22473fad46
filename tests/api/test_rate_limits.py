"""Posting, checking and flagging are rate-limited per client address and site; a client
over the limit gets 429 with Retry-After and a problem+json body, and nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db
from moderation.extensions import FallbackStorage, SQLiteStorage
from tests import factories
from tests.conftest import app_config, database_state, free_port, make_site, reset_database
from tests.redis_server import redis_server, start_redis

LIMITS = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_POST": "2/minute",
    "RATELIMIT_CHECK": "3/minute",
    "RATELIMIT_FLAG": "1/minute",
}


def limited_app(
    database_url: str, backend: str, fresh: bool = True, **settings: object
) -> Iterator[Flask]:
    app = create_app(app_config(database_url, **{**LIMITS, **settings}))
    with app.app_context():
        if fresh:
            reset_database(backend)
            make_site(db.session, "blog")  # type: ignore[arg-type]
            make_site(db.session, "news")  # type: ignore[arg-type]
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def limited(database_url: str, backend: str) -> Iterator[Flask]:
    yield from limited_app(database_url, backend)


def post(client: FlaskClient, site: str = "blog", ip: str = "198.51.100.7", **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/sites/{site}/comments",
        json={"thread": "t", "author_name": "Ada", "body": "Nice post"},
        environ_base={"REMOTE_ADDR": ip},
        headers=headers,
    )


def assert_limited(response, session: Session, before: object) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 429 and response.json["title"] == "Too many requests"
    assert "try again in" in response.json["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60
    assert database_state(session) == before


def test_posting_past_the_limit_is_refused_with_retry_after(limited: Flask) -> None:
    client = limited.test_client()
    session = db.session
    assert [post(client).status_code for _ in range(2)] == [201, 201]
    before = database_state(session)  # type: ignore[arg-type]
    assert_limited(post(client), session, before)  # type: ignore[arg-type]
    # Per address and per site: another reader, or the same reader on another blog, may post.
    assert post(client, ip="198.51.100.8").status_code == 201
    assert post(client, site="news").status_code == 201


def test_preflights_do_not_count_and_a_refusal_is_readable_cross_origin(limited: Flask) -> None:
    make_site(db.session, "cors", allowed_origins=["https://blog.example"])  # type: ignore[arg-type]
    client = limited.test_client()
    origin = {"Origin": "https://blog.example"}
    for _ in range(5):
        preflight = client.options(
            "/api/v1/sites/cors/comments",
            headers={**origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
    assert [post(client, site="cors", **origin).status_code for _ in range(3)] == [201, 201, 429]
    refused = post(client, site="cors", **origin)
    assert refused.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]


def test_checking_and_flagging_have_their_own_limits(limited: Flask) -> None:
    client = limited.test_client()
    session = db.session
    check = "/api/v1/sites/blog/comments/check"
    assert [client.post(check, json={"body": "hi"}).status_code for _ in range(3)] == [200] * 3
    before = database_state(session)  # type: ignore[arg-type]
    assert_limited(client.post(check, json={"body": "hi"}), session, before)  # type: ignore[arg-type]

    comment_id = post(client).json["id"]
    flag = f"/api/v1/comments/{comment_id}/flags"
    assert client.post(flag, json={"reason": "spam"}).status_code == 201
    before = database_state(session)  # type: ignore[arg-type]
    assert_limited(client.post(flag, json={"reason": "spam"}), session, before)  # type: ignore[arg-type]


def test_the_processes_of_one_machine_share_limits_through_an_sqlite_file(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    # `make run`'s web processes each build the app and point it at one file of the server's.
    storage = f"sqlite:///{tmp_path / 'limits.sqlite'}"
    for app in limited_app(database_url, backend, RATELIMIT_STORAGE=storage):
        client = app.test_client()
        assert [post(client).status_code for _ in range(2)] == [201, 201]
    for app in limited_app(database_url, backend, fresh=False, RATELIMIT_STORAGE=storage):
        session = db.session
        before = database_state(session)  # type: ignore[arg-type]
        assert_limited(post(app.test_client()), session, before)  # type: ignore[arg-type]
        assert post(app.test_client(), ip="198.51.100.8").status_code == 201


def test_limits_keep_counting_in_memory_while_their_file_fails(
    database_url: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that cannot be opened (its folder is gone) does not switch the limits off:
    they count in this process, /healthz says so, and the file serves again once it can."""
    monkeypatch.setattr(FallbackStorage, "RETRY_SECONDS", 0.0)  # try the file on every request
    folder = tmp_path / "run"
    settings = {"RATELIMIT_STORAGE": f"sqlite:///{folder / 'limits.sqlite'}",
                "RATELIMIT_POST": "3/minute"}  # fmt: skip
    for app in limited_app(database_url, backend, **settings):
        client = app.test_client()
        statuses = [post(client).status_code for _ in range(4)]
        assert statuses == [201, 201, 201, 429]  # counted in memory, and limited
        health = client.get("/healthz").get_json()
        assert health["status"] == "degraded"
        assert "rate-limit storage unreachable" in health["rate_limits"]

        folder.mkdir()
        assert post(client, ip="198.51.100.8").status_code == 201
        assert client.get("/healthz").get_json() == {"status": "ok"}
        assert (folder / "limits.sqlite").is_file()


def test_an_sqlite_window_counts_until_it_expires_then_starts_again(tmp_path: Path) -> None:
    import time

    from limits.storage import storage_from_string

    storage = storage_from_string(f"sqlite:///{tmp_path / 'limits.sqlite'}")
    assert isinstance(storage, SQLiteStorage)
    assert [storage.incr("k", 1) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get("other") == 0
    assert 0 < storage.get_expiry("k") - time.time() <= 1
    time.sleep(1.1)
    assert storage.get("k") == 0
    assert storage.incr("k", 1) == 1
    storage.clear("k")
    assert storage.get("k") == 0
    storage.incr("a", 60)
    storage.incr("b", 60)
    assert storage.reset() == 2
    assert storage.get("a") == storage.get("b") == 0


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path) as url:
        yield url


def test_limits_are_kept_in_redis_when_configured(
    database_url: str, backend: str, redis_url: str
) -> None:
    import redis

    for app in limited_app(database_url, backend, RATELIMIT_STORAGE=redis_url):
        client = app.test_client()
        assert [post(client).status_code for _ in range(3)] == [201, 201, 429]
    # Another process (here: a fresh application) sharing the Redis sees the same count.
    for app in limited_app(database_url, backend, fresh=False, RATELIMIT_STORAGE=redis_url):
        assert post(app.test_client()).status_code == 429
    assert redis.Redis.from_url(redis_url).keys("LIMITS:*")


def test_limits_keep_counting_in_memory_while_redis_is_down(
    database_url: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Redis gone the limits do not switch off: they count in this process until
    Redis answers again, /healthz says so meanwhile, and then they are shared again."""
    monkeypatch.setattr(FallbackStorage, "RETRY_SECONDS", 0.0)  # try Redis on every request
    port = free_port()
    redis_server = start_redis(port, tmp_path)
    try:
        settings = {"RATELIMIT_STORAGE": f"redis://127.0.0.1:{port}", "RATELIMIT_POST": "3/minute"}
        for app in limited_app(database_url, backend, **settings):
            client = app.test_client()
            assert [post(client).status_code for _ in range(2)] == [201, 201]
            assert client.get("/healthz").get_json() == {"status": "ok"}

            redis_server.terminate()
            redis_server.wait(timeout=10)
            statuses = [post(client).status_code for _ in range(4)]
            assert statuses == [201, 201, 201, 429]  # counted afresh, in memory, and limited
            health = client.get("/healthz")
            assert health.status_code == 200
            assert health.get_json()["status"] == "degraded"
            assert "rate-limit storage unreachable" in health.get_json()["rate_limits"]

            redis_server = start_redis(port, tmp_path)  # empty: it kept nothing
            assert post(client).status_code == 201
            assert client.get("/healthz").get_json() == {"status": "ok"}
    finally:
        redis_server.terminate()
        redis_server.wait(timeout=10)


def test_sign_in_stays_limited_when_redis_was_never_there(database_url: str, backend: str) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}"
    for app in limited_app(database_url, backend, RATELIMIT_STORAGE=nowhere,
                           WTF_CSRF_ENABLED=False):  # fmt: skip
        factories.moderator(db.session, "admin@example.org")  # type: ignore[arg-type]
        client = app.test_client()
        statuses = [
            client.post("/moderation/login",
                        data={"email": "admin@example.org", "password": "guess"}).status_code
            for _ in range(11)
        ]  # fmt: skip
        assert statuses == [200] * 10 + [429]
        signed_in = app.test_client()
        signed_in.environ_base["REMOTE_ADDR"] = "203.0.113.9"
        owner = {"email": "admin@example.org", "password": factories.PASSWORD}
        response = signed_in.post("/moderation/login", data=owner)
        assert response.status_code == 302
        page = signed_in.get("/moderation/").get_data(as_text=True)
        assert "rate-limit storage unreachable since" in page
