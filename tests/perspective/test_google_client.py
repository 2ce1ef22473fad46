"""Google's own Python client (google-api-python-client), built from our discovery document
over real HTTP, exactly as Perspective's documentation has users build it, with only
``discoveryServiceUrl`` pointing here."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from googleapiclient import discovery
from googleapiclient.errors import HttpError, UnknownApiNameOrVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.db import db
from moderation.models import ScoreFeedback
from tests.browser.conftest import LiveServer
from tests.perspective.conftest import new_key, serve


def discovery_url(server: LiveServer) -> str:
    return f"{server.url}/perspective/$discovery/rest?version={{apiVersion}}"


def build(server: LiveServer, key: str | None) -> Any:
    return discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey=key,
        discoveryServiceUrl=discovery_url(server),
        static_discovery=False,
    )


def request(text: str, *attributes: str) -> dict[str, Any]:
    return {
        "comment": {"text": text},
        "requestedAttributes": {attr: {} for attr in attributes or ("TOXICITY",)},
    }


def status_of(error: HttpError) -> tuple[int, str]:
    return error.resp.status, str(error.reason)


def test_the_google_client_analyzes_with_our_scores(live_server: LiveServer, key: str) -> None:
    client = build(live_server, key)
    insult = client.comments().analyze(body=request("you are a stupid idiot")).execute()
    kind = client.comments().analyze(body=request("thanks, a lovely post")).execute()
    toxicity = insult["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"]["type"] == "PROBABILITY"
    assert toxicity["summaryScore"]["value"] > 0.5
    assert kind["attributeScores"]["TOXICITY"]["summaryScore"]["value"] < 0.35
    assert insult["languages"] == ["en"]


def test_suggestscore_through_the_google_client_is_stored(
    live_server: LiveServer, key: str, session: Session
) -> None:
    client = build(live_server, key)
    answer = (
        client.comments()
        .suggestscore(
            body={
                "comment": {"text": "you are a stupid idiot"},
                "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
                "clientToken": "token-7",
                "communityId": "my-forum",
            }
        )
        .execute()
    )
    assert answer == {"clientToken": "token-7"}
    session.expire_all()
    [row] = session.scalars(select(ScoreFeedback)).all()
    assert (row.attribute, row.value, row.client_token, row.community_id) == (
        "TOXICITY", 1.0, "token-7", "my-forum",
    )  # fmt: skip
    assert row.model_value is not None and row.model_value > 0.5


def test_a_bad_key_raises_http_error_400(live_server: LiveServer, key: str) -> None:
    client = build(live_server, "msk_not-a-key")
    with pytest.raises(HttpError) as caught:
        client.comments().analyze(body=request("hello")).execute()
    assert status_of(caught.value) == (400, "API key not valid. Please pass a valid API key.")


def test_no_key_raises_http_error_403(live_server: LiveServer, key: str) -> None:
    with pytest.raises(HttpError) as caught:
        build(live_server, None).comments().analyze(body=request("hello")).execute()
    assert status_of(caught.value) == (403, "The request is missing a valid API key.")


def test_an_attribute_the_model_lacks_raises_http_error_400(
    live_server: LiveServer, key: str
) -> None:
    client = build(live_server, key)
    with pytest.raises(HttpError) as caught:
        client.comments().analyze(body=request("hello", "TOXICITY", "THREAT")).execute()
    code, reason = status_of(caught.value)
    assert code == 400 and "unknown attribute: THREAT" in reason


def test_the_discovery_document_points_the_client_at_the_server_it_came_from(
    live_server: LiveServer,
) -> None:
    client = build(live_server, "k")
    http_request = client.comments().analyze(body=request("hello"))
    assert http_request.uri.startswith(f"{live_server.url}/perspective/v1alpha1/comments:analyze?")
    assert "key=k" in http_request.uri


def test_an_unknown_api_version_is_reported_by_the_client(live_server: LiveServer) -> None:
    with pytest.raises(UnknownApiNameOrVersion):
        discovery.build("commentanalyzer", "v1", discoveryServiceUrl=discovery_url(live_server),
                        static_discovery=False)  # fmt: skip


def test_the_detoxify_model_through_the_google_client(detoxify_app: Flask) -> None:
    key = new_key(db.session)
    server = serve(detoxify_app)
    try:
        response = (
            build(server, key)
            .comments()
            .analyze(body=request("you are a stupid idiot", "INSULT", "PROFANITY", "THREAT"))
            .execute()
        )
    finally:
        server.server.shutdown()
    assert set(response["attributeScores"]) == {"INSULT", "PROFANITY", "THREAT"}
    assert response["attributeScores"]["INSULT"]["summaryScore"]["value"] > 0.8
