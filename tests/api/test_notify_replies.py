"""The API field ``notify_replies``: strict, only with an email, and the API never tells
anyone whether an address is subscribed or what it is."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import Comment, ReplySubscription, Site
from moderation.services import outbox
from moderation.types import utcnow
from tests.conftest import database_state

COMMENTS = "/api/v1/sites/blog/comments"
GOOD = {"thread": "post-1", "author_name": "Ann", "body": "hello"}


def test_notify_replies_is_kept_on_the_comment(
    client: FlaskClient, session: Session, site: Site
) -> None:
    response = client.post(
        COMMENTS, json={**GOOD, "author_email": "ann@example.org", "notify_replies": True}
    )
    assert response.status_code == 201
    assert session.get(Comment, response.json["id"]).notify_replies is True  # type: ignore[union-attr]
    plain = client.post(COMMENTS, json=GOOD)
    assert session.get(Comment, plain.json["id"]).notify_replies is False  # type: ignore[union-attr]


@pytest.mark.parametrize("email", [None, "", "   "])
def test_notify_replies_without_an_email_is_refused(
    client: FlaskClient, session: Session, site: Site, email: str | None
) -> None:
    before = database_state(session)
    payload: dict[str, Any] = {**GOOD, "notify_replies": True}
    if email is not None:
        payload["author_email"] = email
    response = client.post(COMMENTS, json=payload)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    fields = [e["field"] for e in response.json["errors"]]
    assert "notify_replies" in fields or "author_email" in fields
    if email is None:
        assert fields == ["notify_replies"]
        assert "author_email" in response.json["errors"][0]["message"]
    assert database_state(session) == before


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [], {}])
def test_notify_replies_must_be_a_boolean(
    client: FlaskClient, session: Session, site: Site, value: Any
) -> None:
    before = database_state(session)
    response = client.post(
        COMMENTS, json={**GOOD, "author_email": "ann@example.org", "notify_replies": value}
    )
    assert response.status_code == 422
    assert response.json["errors"] == [
        {"field": "notify_replies", "message": "must be true or false"}
    ]
    assert database_state(session) == before


def _public(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without what differs between any two posts (ids, times, the token)."""
    drop = {"id", "author_token", "created_at", "editable_until", "thread"}
    return {k: v for k, v in answer.items() if k not in drop}


def test_the_api_never_shows_an_address_or_whether_it_is_subscribed(
    client: FlaskClient, session: Session, site: Site
) -> None:
    ann = {**GOOD, "author_email": "Ann@Example.org", "notify_replies": True}
    first = client.post(COMMENTS, json=ann)
    outbox.dispatch(session, utcnow())
    session.commit()
    subscription = session.scalars(select(ReplySubscription)).one()
    subscription.confirmed_at = utcnow()
    session.commit()
    # Someone else posting with Ann's address learns nothing: the same answer as for
    # an address never seen, and for none at all.
    known = client.post(COMMENTS, json={**ann, "thread": "post-2"})
    unknown = client.post(
        COMMENTS, json={**ann, "thread": "post-3", "author_email": "new@example.org"}
    )
    without = client.post(COMMENTS, json={**GOOD, "thread": "post-4"})
    assert known.status_code == unknown.status_code == without.status_code == first.status_code
    assert _public(known.json) == _public(unknown.json) == _public(without.json)
    assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())
    pages = [
        client.get(f"{COMMENTS}?thread=post-1"),
        client.get(f"/api/v1/comments/{first.json['id']}"),
        client.get(
            f"/api/v1/comments/{first.json['id']}",
            headers={"X-Author-Token": first.json["author_token"]},
        ),
        first,
        known,
    ]
    for response in pages:
        raw = response.get_data(as_text=True).lower()
        assert "ann@example.org" not in raw and "notify" not in raw and "subscri" not in raw


def test_the_openapi_document_describes_notify_replies(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    field = document["components"]["schemas"]["CommentIn"]["properties"]["notify_replies"]
    assert field["type"] == "boolean" and field["default"] is False
    assert "author_email" in field["description"] and "confirm" in field["description"]
