"""Inputs that used to be 500s (an integer past the database's, a NUL in a query, JSON
nested thousands deep, a boolean for a number) are clear 4xx answers that change nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.models import Site
from tests import factories
from tests.conftest import database_state, postgres_only

HUGE = "99999999999999999999"


def cursor(value: str) -> str:
    return base64.urlsafe_b64encode(f"after:{value}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/comments/9223372036854775808", 404),
        ("GET", "/api/v1/comments/2147483648", 404),
        ("PATCH", f"/api/v1/comments/{HUGE}", 404),
        ("DELETE", "/api/v1/comments/2147483648", 404),
        ("POST", "/api/v1/comments/2147483648/flags", 404),
        ("GET", f"/api/v1/sites/blog/comments?thread=t&cursor={cursor(HUGE)}", 422),
        ("GET", "/api/v1/sites/blog/comments?thread=%00", 422),
        ("GET", "/api/v1/sites/blog/counts?thread=%00", 422),
        ("GET", "/api/v1/sites/blog%00/comments?thread=t", 404),
    ],
)
def test_out_of_range_ids_and_nul_in_queries_are_4xx(
    client: FlaskClient, session: Session, site: Site, method: str, path: str, status: int
) -> None:
    factories.submit(session, site, "a comment", thread="t")
    before = database_state(session)
    response = client.open(path, method=method, json={"body": "x", "reason": "spam"})
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert database_state(session) == before


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"parent_id": int(HUGE)}, "parent_id", "must be at most 9223372036854775807"),
        ({"parent_id": True}, "parent_id", "must be an integer"),
        ({"parent_id": "1"}, "parent_id", "must be an integer"),
        ({"acknowledged_warning": 0}, "acknowledged_warning", "must be true or false"),
    ],
)
def test_numbers_and_booleans_must_be_what_they_say(
    client: FlaskClient, session: Session, site: Site, fields: dict[str, Any], field: str,
    message: str,
) -> None:  # fmt: skip
    factories.submit(session, site, "a comment", thread="t")
    before = database_state(session)
    body = {"thread": "t", "author_name": "Ada", "body": "Hello", **fields}
    response = client.post(f"/api/v1/sites/{site.slug}/comments", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert {"field": field, "message": message} in response.json["errors"]
    assert database_state(session) == before


def test_json_nested_thousands_deep_is_a_400(client: FlaskClient, site: Site) -> None:
    body = '{"thread": "t", "author_name": "A", "body": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.post(
        f"/api/v1/sites/{site.slug}/comments", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["detail"] == "the body's JSON is nested too deeply"


@postgres_only  # SQLite ids were 64-bit
def test_ids_past_32_bits_work(client: FlaskClient, session: Session, site: Site) -> None:
    """A busy site's ids pass 2,147,483,647 (PostgreSQL's `integer`): comments, replies,
    reports and their outbox events go on working (ids are BIGINT since migration 0015)."""
    from sqlalchemy import text

    for table in ("comment", "moderation_action", "outbox_event", "flag", "thread"):
        session.execute(text(f"ALTER SEQUENCE {table}_id_seq RESTART WITH 3000000000"))
    session.commit()
    posted = client.post(f"/api/v1/sites/{site.slug}/comments",
                         json={"thread": "big", "author_name": "Ada", "body": "Hello"})  # fmt: skip
    assert posted.status_code == 201, posted.json
    comment_id = posted.json["id"]
    assert comment_id > 2**31
    reply = client.post(f"/api/v1/sites/{site.slug}/comments",
                        json={"thread": "big", "author_name": "Bob", "body": "Hi",
                              "parent_id": comment_id})  # fmt: skip
    assert reply.status_code == 201, reply.json
    assert client.get(f"/api/v1/comments/{reply.json['id']}").json["parent_id"] == comment_id
    flagged = client.post(f"/api/v1/comments/{comment_id}/flags", json={"reason": "spam"})
    assert flagged.status_code in (201, 202), flagged.json
    tree = client.get(f"/api/v1/sites/{site.slug}/comments?thread=big").json
    assert [c["id"] for c in tree["comments"]] == [comment_id]
    assert [r["id"] for r in tree["comments"][0]["replies"]] == [reply.json["id"]]
