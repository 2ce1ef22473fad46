"""Thread pages are served from a cache keyed by the thread's version, with an ETag:
a reader never gets a stale page after a post, an edit or a moderator's decision, and a
reader who has the current page gets 304 without a body. In each process's memory, or in
Redis (MODERATION_CACHE_URL), shared between processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import create_app
from moderation.api.thread_cache import MemoryCache
from moderation.db import db
from moderation.models import Comment
from moderation.services import review
from moderation.services.moderators import create_moderator
from moderation.types import Role, utcnow
from tests.conftest import IsolatedClient, app_config, make_site, reset_database
from tests.redis_server import redis_server

THREAD = "/api/v1/sites/blog/comments?thread=post-42"


def cached_app(database_url: str, **settings: Any) -> Flask:
    app = create_app(app_config(database_url, **settings))
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture(params=["memory", "redis"])
def app(
    request: pytest.FixtureRequest, database_url: str, backend: str, tmp_path: Path
) -> Iterator[Flask]:
    with redis_server(tmp_path) if request.param == "redis" else _no_redis() as url:
        app = cached_app(database_url, CACHE_URL=url)
        with app.app_context():
            reset_database(backend)
            make_site(db.session, "blog")  # type: ignore[arg-type]
            yield app
            db.session.remove()
            db.engine.dispose()


class _no_redis:  # noqa: N801 - reads as the context manager it stands in for
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def post(client: FlaskClient, body: str, **fields: Any) -> Any:
    response = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": "post-42", "author_name": "Ada", "body": body, **fields},
    )
    assert response.status_code in (201, 202), response.json
    return response.json


def bodies(response: Any) -> list[str]:
    found, stack = [], list(response.json["comments"])
    while stack:
        node = stack.pop(0)
        found.append(node["body_html"])
        stack[:0] = node["replies"]
    return found


def decide(session: Session, comment_id: int, action: review.Action) -> None:
    moderator, _ = create_moderator(
        session, f"{action}@example.org", Role.ADMIN, [], "a long password"
    )
    comment = session.get(Comment, comment_id)
    assert comment is not None
    session.refresh(comment)
    review.decide(
        session, moderator, review.Scope(None), [(comment.id, comment.version)], action, utcnow()
    )
    session.commit()


def test_every_change_is_seen_by_the_next_read(app: Flask, session: Session) -> None:
    client = app.test_client()
    first = post(client, "First!")
    page = client.get(THREAD)
    assert page.status_code == 200 and bodies(page) == ["<p>First!</p>"]
    assert page.headers["Cache-Control"] == "no-cache"
    etag = page.headers["ETag"]
    assert client.get(THREAD).get_data() == page.get_data()  # from the cache, the same

    reply = post(client, "A reply.", parent_id=first["id"])
    after_post = client.get(THREAD, headers={"If-None-Match": etag})
    assert after_post.status_code == 200
    assert bodies(after_post) == ["<p>First!</p>", "<p>A reply.</p>"]
    assert after_post.json["thread"]["comment_count"] == 2
    assert after_post.headers["ETag"] != etag

    edited = client.patch(
        f"/api/v1/comments/{reply['id']}",
        json={"body": "A better reply."},
        headers={"X-Author-Token": reply["author_token"]},
    )
    assert edited.status_code == 200, edited.json
    assert bodies(client.get(THREAD)) == ["<p>First!</p>", "<p>A better reply.</p>"]

    decide(session, first["id"], review.Action.HIDE)
    after_hide = client.get(THREAD).json
    assert after_hide["comments"][0]["status"] is None  # a tombstone above the reply
    assert after_hide["comments"][0]["body_html"] is None
    assert after_hide["thread"]["comment_count"] == 1

    decide(session, first["id"], review.Action.RESTORE)
    assert bodies(client.get(THREAD)) == ["<p>First!</p>", "<p>A better reply.</p>"]


def test_the_current_etag_gets_304_without_a_body(app: Flask) -> None:
    client = app.test_client()
    post(client, "Hello.")
    page = client.get(THREAD)
    etag = page.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}'):
        again = client.get(THREAD, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.get_data() == b""
        assert again.headers["ETag"] == etag
    # Another page of the same thread is another resource.
    other = client.get(f"{THREAD}&limit=1", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_authors_see_their_waiting_comment_whatever_is_cached(app: Flask) -> None:
    client = app.test_client()
    post(client, "A clean one.")
    assert bodies(client.get(THREAD)) == ["<p>A clean one.</p>"]  # now cached
    held = post(client, "you are a fucking idiot")
    assert held["status"] == "held"
    own = client.get(THREAD, headers={"X-Author-Token": held["author_token"]})
    assert bodies(own) == ["<p>A clean one.</p>", "<p>you are a fucking idiot</p>"]
    assert "ETag" not in own.headers
    assert bodies(client.get(THREAD)) == ["<p>A clean one.</p>"]


def test_a_second_process_sharing_redis_and_the_database_reads_the_change(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    with redis_server(tmp_path) as url:
        first, second = (
            cached_app(database_url, CACHE_URL=url),
            cached_app(database_url, CACHE_URL=url),
        )
        with first.app_context():
            reset_database(backend)
            make_site(db.session, "blog")  # type: ignore[arg-type]
            post(first.test_client(), "Through the first.")
            db.session.remove()
        page = second.test_client().get(THREAD)
        assert bodies(page) == ["<p>Through the first.</p>"]
        with first.app_context():
            post(first.test_client(), "Again through the first.")
            db.session.remove()
        again = second.test_client().get(THREAD, headers={"If-None-Match": page.headers["ETag"]})
        assert bodies(again) == ["<p>Through the first.</p>", "<p>Again through the first.</p>"]
        import redis

        assert redis.Redis.from_url(url).keys("moderation:thread:*")
        for app in (first, second):
            with app.app_context():
                db.engine.dispose()


def test_the_memory_cache_keeps_the_latest_pages_within_its_size() -> None:
    cache = MemoryCache(max_bytes=100)
    cache.put("a", b"x" * 40)
    cache.put("b", b"y" * 40)
    assert cache.get("a") == b"x" * 40  # now the most recently used
    cache.put("c", b"z" * 40)
    assert cache.get("b") is None
    assert cache.get("a") == b"x" * 40 and cache.get("c") == b"z" * 40
    cache.put("huge", b"!" * 101)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and cache.get("a") is not None
