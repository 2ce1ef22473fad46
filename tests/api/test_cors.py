"""Only a site's allowed origins may use the API from a browser."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.models import Site
from tests.conftest import database_state, make_site

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


def test_preflight_from_an_allowed_origin_is_answered(client: FlaskClient, site: Site) -> None:
    response = client.options(
        "/api/v1/sites/blog/comments", headers={"Origin": "https://blog.example", **PREFLIGHT}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"Content-Type", "X-Author-Token", "Idempotency-Key"} <= allowed
    assert "Origin" in response.headers["Vary"]


def test_an_allowed_origin_can_post_and_read(client: FlaskClient, site: Site) -> None:
    headers = {"Origin": "https://blog.example"}
    posted = client.post(
        "/api/v1/sites/blog/comments",
        headers=headers,
        json={"thread": "t", "author_name": "A", "body": "hi"},
    )
    assert posted.status_code == 201
    assert posted.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    read = client.get(f"/api/v1/comments/{posted.json['id']}", headers=headers)
    assert read.headers["Access-Control-Allow-Origin"] == "https://blog.example"


def test_another_origin_gets_no_cors_headers_and_cannot_post(
    client: FlaskClient, site: Site, session: Session
) -> None:
    before = database_state(session)
    evil = {"Origin": "https://evil.example"}
    preflight = client.options("/api/v1/sites/blog/comments", headers={**evil, **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    posted = client.post(
        "/api/v1/sites/blog/comments",
        headers=evil,
        json={"thread": "t", "author_name": "A", "body": "hi"},
    )
    assert posted.status_code == 403
    assert posted.mimetype == "application/problem+json"
    assert "Access-Control-Allow-Origin" not in posted.headers
    assert database_state(session) == before


def test_an_origin_allowed_for_one_site_is_not_allowed_for_another(
    client: FlaskClient, site: Site, session: Session
) -> None:
    make_site(session, "news", allowed_origins=["https://news.example"])
    response = client.options(
        "/api/v1/sites/news/comments", headers={"Origin": "https://blog.example", **PREFLIGHT}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_port_wildcard_allows_any_port_of_that_host(
    client: FlaskClient, session: Session
) -> None:
    make_site(session, "demo", allowed_origins=["http://localhost:*"])
    for origin, allowed in (
        ("http://localhost:8123", True),
        ("http://localhost:3000", True),
        ("http://localhost.evil.example", False),
        ("https://localhost:8123", False),
    ):
        response = client.options(
            "/api/v1/sites/demo/comments", headers={"Origin": origin, **PREFLIGHT}
        )
        assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed, origin


def test_the_widget_may_send_author_tokens_and_edit_from_an_allowed_origin(
    client: FlaskClient, site: Site
) -> None:
    origin = {"Origin": "https://blog.example"}
    posted = client.post(
        "/api/v1/sites/blog/comments",
        headers=origin,
        json={"thread": "t", "author_name": "A", "body": "hi"},
    )
    for path, method in (
        ("/api/v1/sites/blog/comments?thread=t", "GET"),
        (f"/api/v1/comments/{posted.json['id']}", "PATCH"),
        (f"/api/v1/comments/{posted.json['id']}", "DELETE"),
    ):
        preflight = client.options(
            path,
            headers={
                **origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "content-type,x-author-token",
            },
        )
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://blog.example"
        assert method in preflight.headers["Access-Control-Allow-Methods"]
        assert "X-Author-Token" in preflight.headers["Access-Control-Allow-Headers"]


def test_another_origin_cannot_edit_or_delete_even_with_the_token(
    client: FlaskClient, site: Site, session: Session
) -> None:
    posted = client.post(
        "/api/v1/sites/blog/comments", json={"thread": "t", "author_name": "A", "body": "hi"}
    ).json
    before = database_state(session)
    headers = {"Origin": "https://evil.example", "X-Author-Token": posted["author_token"]}
    path = f"/api/v1/comments/{posted['id']}"
    edited = client.patch(path, headers=headers, json={"body": "pwned"})
    deleted = client.delete(path, headers=headers)
    assert (edited.status_code, deleted.status_code) == (403, 403)
    assert "Access-Control-Allow-Origin" not in edited.headers
    assert database_state(session) == before
