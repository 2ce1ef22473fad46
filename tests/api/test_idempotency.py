"""A client that never saw the answer to its post retries with the same Idempotency-Key
and gets the same comment back, never a second one; and a database that is away answers
503 with Retry-After, storing nothing, never a bare 500."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db
from moderation.models import Comment, IdempotentRequest, Site
from moderation.types import utcnow
from tests.conftest import app_config, database_state, end_connection, make_site, postgres_only

COMMENTS = "/api/v1/sites/blog/comments"
PAYLOAD = {"thread": "post-42", "author_name": "Ada", "body": "Lovely post."}


def post(client: FlaskClient, key: str | None, payload: dict[str, Any] | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(COMMENTS, json=payload or PAYLOAD, headers=headers)


def comment_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Comment)) or 0


def test_a_retry_with_the_same_key_gets_the_first_comment_back(
    client: FlaskClient, session: Session, site: Site
) -> None:
    first = post(client, "c0ffee-1")
    retry = post(client, "c0ffee-1")

    assert first.status_code == 201
    assert retry.status_code == 201
    assert retry.json == first.json  # same id, same author token, same edit window
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert comment_count(session) == 1
    # The token handed out again is a working one: the author can still edit.
    edited = client.patch(f"/api/v1/comments/{first.json['id']}", json={"body": "Lovely post!"},
                          headers={"X-Author-Token": retry.json["author_token"]})  # fmt: skip
    assert edited.status_code == 200, edited.json


def test_posts_without_a_key_or_with_different_keys_are_separate_comments(
    client: FlaskClient, session: Session, site: Site
) -> None:
    ids = {post(client, key).json["id"] for key in (None, None, "k-1", "k-2")}
    assert len(ids) == 4
    assert comment_count(session) == 4


def test_the_same_key_with_another_body_is_refused_and_stores_nothing(
    client: FlaskClient, session: Session, site: Site
) -> None:
    post(client, "k-1")
    before = database_state(session)
    response = post(client, "k-1", {**PAYLOAD, "body": "Something else entirely."})
    assert response.status_code == 422
    assert response.json["errors"] == [{"field": "Idempotency-Key", "message": (
        "this Idempotency-Key was used for another request in the last 24 hours; use a new key "
        "for a new comment")}]  # fmt: skip
    assert database_state(session) == before


@pytest.mark.parametrize("key", ["", "with space", "é-not-ascii", "x" * 256])
def test_a_malformed_key_is_a_400_and_stores_nothing(
    client: FlaskClient, session: Session, site: Site, key: str
) -> None:
    before = database_state(session)
    response = client.post(COMMENTS, json=PAYLOAD, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"][0]["field"] == "Idempotency-Key"
    assert database_state(session) == before


def test_keys_are_per_site_and_forgotten_after_24_hours(
    client: FlaskClient, session: Session, site: Site
) -> None:
    make_site(session, "news")
    on_blog = post(client, "k-1")
    on_news = client.post("/api/v1/sites/news/comments", json=PAYLOAD,
                          headers={"Idempotency-Key": "k-1"})  # fmt: skip
    assert on_news.json["id"] != on_blog.json["id"]

    session.execute(update(IdempotentRequest).values(
        created_at=utcnow() - timedelta(hours=24, seconds=1)))  # fmt: skip
    session.commit()
    later = post(client, "k-1")
    assert later.json["id"] not in (on_blog.json["id"], on_news.json["id"])
    assert comment_count(session) == 3
    # The expired keys were cleared when the new one was kept.
    assert session.scalar(select(func.count()).select_from(IdempotentRequest)) == 1


def test_simultaneous_retries_with_one_key_store_one_comment(
    app: Flask, session: Session, site: Site
) -> None:
    """Eight copies of one request at the same moment (a client retrying through several
    connections): one comment, and all eight answers name it."""
    start = threading.Barrier(8)
    answers: list[tuple[int, int]] = []

    def send() -> None:
        client = app.test_client()
        start.wait()
        response = post(client, "same-moment")
        answers.append((response.status_code, response.json["id"]))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 8
    assert {status for status, _ in answers} <= {201, 202}
    assert len({comment_id for _, comment_id in answers}) == 1
    assert comment_count(session) == 1


# ------------------------------------------------------------------ the database away


@pytest.fixture
def impatient(tmp_path: Path) -> Any:
    """The app on a SQLite database of its own, with a busy timeout of 0.2 s instead of
    30: a database locked by another process fails fast, as an unreachable one would.
    (PostgreSQL restarting under load is tests/test_database_outage.py.)"""
    url = f"sqlite:///{tmp_path / 'impatient.db'}"
    impatient = create_app(app_config(url, SQLALCHEMY_ENGINE_OPTIONS={
        "connect_args": {"timeout": 0.2}}))  # fmt: skip
    with impatient.app_context():
        db.create_all()
        make_site(db.session, "blog")  # type: ignore[arg-type]
        db.session.remove()
    yield impatient, url
    with impatient.app_context():
        db.engine.dispose()


def test_a_database_that_does_not_answer_is_a_503_with_retry_after(
    impatient: tuple[Flask, str],
) -> None:
    app, database_url = impatient
    client = app.test_client()
    client.get("/healthz")  # connected once, before the lock
    lock = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=5)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        response = post(client, "during-the-lock")
        page = client.get("/moderation/login")
    finally:
        lock.rollback()
        lock.close()
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "2"
    assert "nothing was stored" in response.json["detail"]
    assert page.status_code in (200, 503)  # the sign-in page may not need the database
    # The retry, once the database is back, stores the comment once.
    retried = post(client, "during-the-lock")
    assert retried.status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 1


@postgres_only
@pytest.mark.parametrize("statement", [
    "SELECT author_standing", "INSERT INTO thread", "INSERT INTO comment", "INSERT INTO score",
    "INSERT INTO idempotent_request", "COMMIT",
])  # fmt: skip
def test_a_connection_the_database_drops_mid_post_is_a_503_and_the_next_posts_are_stored(
    app: Flask, client: FlaskClient, session: Session, statement: str
) -> None:
    """PostgreSQL ends the post's connection before one of its statements or its COMMIT (a
    restart, an administrator, a failover): that post answers 503 and stores nothing, and
    the posts after it, in the same process, are stored. The key's row is written by the
    commit's flush, whose rollback on the dropped connection once raised an error of its
    own (a 500 instead of the 503)."""
    make_site(session, "blog")
    session.commit()
    cut: list[int] = []

    def terminate(backend_pid: int) -> None:
        cut.append(backend_pid)
        end_connection(backend_pid)

    posting: list[bool] = []

    def before_statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        posting.append(sql.startswith("INSERT INTO comment"))
        if not cut and sql.startswith(statement):
            terminate(cursor.connection.info.backend_pid)

    def before_commit(conn: Any) -> None:  # the engine's commit event: before COMMIT is sent
        if not cut and statement == "COMMIT" and any(posting):
            terminate(conn.connection.dbapi_connection.info.backend_pid)

    event.listen(db.engine, "before_cursor_execute", before_statement)
    event.listen(db.engine, "commit", before_commit)
    try:
        dropped = post(client, "dropped")
    finally:
        event.remove(db.engine, "before_cursor_execute", before_statement)
        event.remove(db.engine, "commit", before_commit)
    assert cut, "nothing was cut: the test tested nothing"
    assert dropped.status_code == 503, dropped.get_data(as_text=True)
    assert dropped.headers["Retry-After"]
    assert comment_count(session) == 0
    answers = [post(client, "dropped"), *(post(client, f"after-{n}") for n in range(4))]
    assert [a.status_code for a in answers] == [201] * 5
    assert comment_count(session) == 5
