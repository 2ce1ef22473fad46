"""Every rejected request says what was wrong, as problem+json, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from moderation.models import Comment, Site
from moderation.types import CommentStatus
from tests.conftest import database_state

GOOD = {"thread": "post-1", "author_name": "Ada", "body": "hello"}


@pytest.fixture
def existing(client: FlaskClient, site: Site, session: Session) -> dict[str, int]:
    """A thread with a visible comment, a hidden one and one in another thread."""
    ids = {}
    for name, thread in (("visible", "post-1"), ("hidden", "post-1"), ("other", "post-2")):
        response = client.post("/api/v1/sites/blog/comments", json={**GOOD, "thread": thread})
        assert response.status_code == 201
        ids[name] = response.json["id"]
    hidden = session.get(Comment, ids["hidden"])
    assert hidden is not None
    hidden.status = CommentStatus.HIDDEN
    session.commit()
    return ids


def post_json(client: FlaskClient, path: str, payload: Any) -> TestResponse:
    return client.post(path, json=payload)


def post_raw(client: FlaskClient, path: str, data: str | bytes, content_type: str) -> TestResponse:
    return client.post(path, data=data, content_type=content_type)


COMMENTS = "/api/v1/sites/blog/comments"

Case = Callable[[FlaskClient, dict[str, int]], TestResponse]
CASES: list[tuple[str, Case, int, str | None]] = [
    ("unknown site", lambda c, i: post_json(c, "/api/v1/sites/nope/comments", GOOD), 404, None),
    ("unknown comment", lambda c, i: c.get("/api/v1/comments/999999"), 404, None),
    ("hidden comment", lambda c, i: c.get(f"/api/v1/comments/{i['hidden']}"), 404, None),
    (
        "flag unknown comment",
        lambda c, i: post_json(c, "/api/v1/comments/999999/flags", {"reason": "spam"}),
        404,
        None,
    ),
    (
        "not JSON",
        lambda c, i: post_raw(
            c, COMMENTS, "author_name=a&body=b", "application/x-www-form-urlencoded"
        ),
        415,
        None,
    ),
    (
        "malformed JSON",
        lambda c, i: post_raw(c, COMMENTS, '{"thread": "post-1",', "application/json"),
        400,
        None,
    ),
    ("JSON that is not an object", lambda c, i: post_json(c, COMMENTS, [GOOD]), 400, None),
    (
        "missing author",
        lambda c, i: post_json(c, COMMENTS, {"thread": "t", "body": "b"}),
        422,
        "author_name",
    ),
    (
        "empty author",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "author_name": "   "}),
        422,
        "author_name",
    ),
    (
        "missing body",
        lambda c, i: post_json(c, COMMENTS, {"thread": "t", "author_name": "a"}),
        422,
        "body",
    ),
    ("empty body", lambda c, i: post_json(c, COMMENTS, {**GOOD, "body": "\n \t"}), 422, "body"),
    (
        "body over 10,000 characters",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "body": "x" * 10_001}),
        422,
        "body",
    ),
    (
        "author name over 100 characters",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "author_name": "n" * 101}),
        422,
        "author_name",
    ),
    (
        "bad email",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "author_email": "not-an-email"}),
        422,
        "author_email",
    ),
    (
        "unknown field",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "is_admin": True}),
        422,
        "is_admin",
    ),
    (
        "request over 64 KiB",
        lambda c, i: post_raw(
            c, COMMENTS, json.dumps({**GOOD, "body": "x" * 70_000}), "application/json"
        ),
        413,
        None,
    ),
    (
        "parent in another thread",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "parent_id": i["other"]}),
        422,
        "parent_id",
    ),
    (
        "parent does not exist",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "parent_id": 999999}),
        422,
        "parent_id",
    ),
    (
        "parent hidden",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "parent_id": i["hidden"]}),
        409,
        "parent_id",
    ),
    (
        "unknown flag reason",
        lambda c, i: post_json(c, f"/api/v1/comments/{i['visible']}/flags", {"reason": "ugly"}),
        422,
        "reason",
    ),
    (
        "flag note too long",
        lambda c, i: post_json(
            c, f"/api/v1/comments/{i['visible']}/flags", {"reason": "spam", "note": "n" * 1001}
        ),
        422,
        "note",
    ),
    ("limit out of range", lambda c, i: c.get(COMMENTS + "?thread=post-1&limit=501"), 422, "limit"),
    (
        "cursor we never gave",
        lambda c, i: c.get(COMMENTS + "?thread=post-1&cursor=%%%"),
        422,
        "cursor",
    ),
    ("thread missing from listing", lambda c, i: c.get(COMMENTS), 422, "thread"),
    ("counts without threads", lambda c, i: c.get("/api/v1/sites/blog/counts"), 422, "thread"),
    (
        "NUL character in the body",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "body": "a\x00b"}),
        422,
        "body",
    ),
    (
        "NUL character in the thread key",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "thread": "t\x00"}),
        422,
        "thread",
    ),
    (
        "thread url that is not http(s)",
        lambda c, i: post_json(c, COMMENTS, {**GOOD, "thread_url": "javascript:alert(1)"}),
        422,
        "thread_url",
    ),
]


@pytest.mark.parametrize(
    ("case", "status", "field"), [(c[1], c[2], c[3]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_rejected_request_explains_itself_and_changes_nothing(
    client: FlaskClient,
    session: Session,
    existing: dict[str, int],
    case: Case,
    status: int,
    field: str | None,
) -> None:
    before = database_state(session)
    response = case(client, existing)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["status"] == status
    assert problem["title"] and problem["detail"] and problem["type"].startswith("https://")
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]]
        assert all(e["message"] for e in problem["errors"])
    assert database_state(session) == before


def test_errors_name_every_bad_field_at_once(client: FlaskClient, site: Site) -> None:
    response = client.post(COMMENTS, json={"thread": "t", "author_name": "", "body": ""})
    assert response.status_code == 422
    assert {e["field"]: e["message"] for e in response.json["errors"]} == {
        "author_name": "must not be empty",
        "body": "must not be empty",
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/sites/blog/comments", {"GET", "POST"}),
        ("PUT", "/api/v1/sites/blog/counts", {"GET"}),
        ("POST", "/healthz", {"GET"}),
    ],
)
def test_a_wrong_method_says_which_methods_are_allowed(
    client: FlaskClient, site: Site, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}
