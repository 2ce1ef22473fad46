"""Checking a draft before posting: the writer learns which guideline it may break, and
nothing is stored."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.models import Site
from tests.conftest import database_state, make_site

CHECK = "/api/v1/sites/blog/comments/check"
TOXIC = "you are a fucking idiot"
FRIENDLY = "What a lovely, thoughtful post. Thank you!"


def test_a_toxic_draft_gets_a_warning_naming_the_guideline_and_is_not_stored(
    client: FlaskClient, site: Site, session: Session
) -> None:
    before = database_state(session)
    response = client.post(CHECK, json={"body": TOXIC})
    assert response.status_code == 200
    assert response.json["warning"] is True
    [concern] = response.json["concerns"]
    assert concern["label"] == "toxicity"
    assert "respectful" in concern["guideline"]
    assert "score" not in repr(response.json)  # no numbers to tune a text against
    assert database_state(session) == before


def test_a_friendly_draft_passes(client: FlaskClient, site: Site) -> None:
    response = client.post(CHECK, json={"body": FRIENDLY})
    assert response.json == {"warning": False, "concerns": []}


def test_the_warn_threshold_defaults_to_the_hold_threshold_and_a_site_may_set_its_own(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    # By default the writer is warned exactly when the comment would be held. "ugh,
    # boring" scores about 0.28: under the lite model's hold threshold (0.35), over 0.05.
    make_site(session, "blog")
    make_site(session, "strict", thresholds={"toxicity": {"warn": 0.05}})
    make_site(session, "quiet", thresholds={"toxicity": {"warn": None}})
    text = "ugh, boring"
    assert client.post(CHECK, json={"body": text}).json["warning"] is False
    strict = client.post("/api/v1/sites/strict/comments/check", json={"body": text})
    assert strict.json["warning"] is True
    quiet = client.post("/api/v1/sites/quiet/comments/check", json={"body": TOXIC})
    assert quiet.json["warning"] is False
    # The service-wide default sits between the scorer's hold threshold and a site's own.
    app.config["DRAFT_WARN_THRESHOLDS"] = {"toxicity": 0.05}
    assert client.post(CHECK, json={"body": text}).json["warning"] is True
    assert quiet.json["warning"] is False


def test_a_warn_threshold_does_not_change_what_is_held(
    client: FlaskClient, session: Session
) -> None:
    make_site(session, "strict", thresholds={"toxicity": {"warn": 0.0}})
    posted = client.post(
        "/api/v1/sites/strict/comments",
        json={"thread": "t", "author_name": "Ada", "body": FRIENDLY},
    )
    assert posted.status_code == 201 and posted.json["status"] == "visible"


def test_a_bad_draft_request_is_refused_field_by_field(
    client: FlaskClient, site: Site, session: Session
) -> None:
    before = database_state(session)
    empty = client.post(CHECK, json={"body": "  "})
    assert empty.status_code == 422
    assert [e["field"] for e in empty.json["errors"]] == ["body"]
    extra = client.post(CHECK, json={"body": "hi", "author_name": "x"})
    assert [e["field"] for e in extra.json["errors"]] == ["author_name"]
    assert client.post(CHECK, json={"body": "x" * 10_001}).status_code == 422
    assert client.post("/api/v1/sites/nope/comments/check", json={"body": "hi"}).status_code == 404
    assert client.post(CHECK, data="body=hi").status_code == 415
    assert database_state(session) == before
