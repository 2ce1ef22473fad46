"""comments:analyze as Perspective's users call it: scores in Perspective's shape from our
own model, and Google's error shape for every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from moderation.db import db
from moderation.models import AnalyzedText, ScoringKey, Site
from moderation.scoring import load_scorer
from moderation.services import perspective
from moderation.types import utcnow
from tests.conftest import database_state
from tests.perspective.conftest import ANALYZE, SUGGEST, new_key

INSULT = "you are a stupid idiot"
KIND = "thanks for the great post, i agree"


def analyze(client: FlaskClient, key: str | None, body: Any, **query: str) -> TestResponse:
    params = {"key": key} if key is not None else {}
    params.update(query)
    return client.post(ANALYZE, query_string=params, json=body)


def body(text: str = INSULT, attributes: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "comment": {"text": text},
        "requestedAttributes": {"TOXICITY": {}} if attributes is None else attributes,
        **extra,
    }


def google_error(response: TestResponse, code: int, status: str) -> str:
    """The Google error's message, after checking its code and status."""
    assert response.status_code == code, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"code", "message", "status"}
    assert (error["code"], error["status"]) == (code, status)
    return str(error["message"])


# ---------------------------------------------------------------- the lite model


def test_toxicity_comes_back_in_perspectives_shape(client: FlaskClient, key: str) -> None:
    response = analyze(client, key, body(INSULT, clientToken="c-1", languages=["en"]))
    assert response.status_code == 200
    data = response.json
    assert set(data) == {"attributeScores", "languages", "detectedLanguages", "clientToken"}
    assert data["clientToken"] == "c-1"
    assert data["languages"] == ["en"]
    toxicity = data["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"]["type"] == "PROBABILITY"
    assert toxicity["summaryScore"]["value"] > 0.5
    # Like Perspective, one span covers the whole comment unless spans are asked for.
    assert toxicity["spanScores"] == [
        {"begin": 0, "end": len(INSULT), "score": toxicity["summaryScore"]}
    ]
    kind = analyze(client, key, body(KIND)).json
    assert kind["attributeScores"]["TOXICITY"]["summaryScore"]["value"] < 0.35
    assert "clientToken" not in kind


def test_the_scores_are_the_running_models_own(client: FlaskClient, key: str) -> None:
    [expected] = load_scorer("lite").score([INSULT])
    value = analyze(client, key, body(INSULT)).json["attributeScores"]["TOXICITY"]
    assert value["summaryScore"]["value"] == pytest.approx(expected["toxicity"])


def test_a_threshold_leaves_out_attributes_scored_below_it(client: FlaskClient, key: str) -> None:
    above = analyze(client, key, body(INSULT, {"TOXICITY": {"scoreThreshold": 0.5}})).json
    assert "TOXICITY" in above["attributeScores"]
    below = analyze(client, key, body(KIND, {"TOXICITY": {"scoreThreshold": 0.5}})).json
    assert below["attributeScores"] == {}


def test_span_annotations_score_each_sentence(client: FlaskClient, key: str) -> None:
    text = "Thanks for the great post.  You are a stupid idiot!\nWell written."
    response = analyze(client, key, body(text, spanAnnotations=True))
    spans = response.json["attributeScores"]["TOXICITY"]["spanScores"]
    assert [text[s["begin"] : s["end"]] for s in spans] == [
        "Thanks for the great post.",
        "You are a stupid idiot!",
        "Well written.",
    ]
    values = [s["score"]["value"] for s in spans]
    assert values[1] > 0.5 > max(values[0], values[2])
    # With a threshold only the sentences at or above it are returned.
    only_toxic = analyze(
        client, key, body(text, {"TOXICITY": {"scoreThreshold": 0.5}}, spanAnnotations=True)
    ).json["attributeScores"]["TOXICITY"]["spanScores"]
    assert [text[s["begin"] : s["end"]] for s in only_toxic] == ["You are a stupid idiot!"]


def test_snake_case_fields_and_curls_default_content_type_are_accepted(
    client: FlaskClient, key: str
) -> None:
    # Google's JSON mapping takes the proto's own names; curl -d sends a form content type.
    payload = '{"comment": {"text": "you idiot"}, "requested_attributes": {"TOXICITY": {}}}'
    response = client.post(
        ANALYZE,
        query_string={"key": key},
        data=payload,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.json
    assert "TOXICITY" in response.json["attributeScores"]


def test_the_key_may_come_in_googles_header(client: FlaskClient, key: str) -> None:
    response = client.post(ANALYZE, json=body(), headers={"X-Goog-Api-Key": key})
    assert response.status_code == 200


def test_languages_are_normalized_and_checked(client: FlaskClient, key: str) -> None:
    ok = analyze(client, key, body(languages=["EN", "en-US"]))
    assert ok.status_code == 200 and ok.json["languages"] == ["en"]
    message = google_error(analyze(client, key, body(languages=["de"])), 400, "INVALID_ARGUMENT")
    assert "language not supported: de" in message and "supports en" in message


def test_every_request_is_counted_and_no_text_is_kept(
    client: FlaskClient, key: str, session: Session
) -> None:
    before = database_state(session)
    for _ in range(3):
        assert analyze(client, key, body(doNotStore=False)).status_code == 200
    after = database_state(session)
    # Only the key's counters moved: the texts are nowhere in the database.
    assert {t for t in before if before[t] != after[t]} == {"scoring_key"}
    stored = session.scalars(select(ScoringKey)).one()
    assert stored.request_count == 3 and stored.last_used_at is not None
    assert INSULT not in repr(after)


def test_a_site_that_opts_in_keeps_texts_unless_the_request_says_do_not_store(
    client: FlaskClient, site: Site, key: str, session: Session
) -> None:
    site.store_analyzed_text = True
    session.commit()
    assert analyze(client, key, body(doNotStore=True)).status_code == 200
    assert session.scalars(select(AnalyzedText)).all() == []
    response = analyze(client, key, body(doNotStore=False, communityId="news-desk"))
    assert response.status_code == 200
    [kept] = session.scalars(select(AnalyzedText)).all()
    assert (kept.text, kept.community_id, kept.site_id) == (INSULT, "news-desk", site.id)
    value = response.json["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
    assert kept.scores == {"TOXICITY": value}


# ---------------------------------------------------------------- refusals


def test_a_missing_key_is_permission_denied(client: FlaskClient, site: Site) -> None:
    message = google_error(analyze(client, None, body()), 403, "PERMISSION_DENIED")
    assert message == "The request is missing a valid API key."
    google_error(analyze(client, "  ", body()), 403, "PERMISSION_DENIED")


def test_an_unknown_or_revoked_key_is_not_valid(
    client: FlaskClient, key: str, session: Session
) -> None:
    message = google_error(analyze(client, "msk_nope", body()), 400, "INVALID_ARGUMENT")
    assert message == "API key not valid. Please pass a valid API key."
    stored = session.scalars(select(ScoringKey)).one()
    perspective.revoke_key(session, stored.id, now=utcnow())
    session.commit()
    google_error(analyze(client, key, body()), 400, "INVALID_ARGUMENT")


REFUSALS: list[tuple[str, Any, str]] = [
    ("unknown attribute", body(attributes={"FLIRTATION": {}}), "unknown attribute: FLIRTATION"),
    # The lite model has no insult label; the message says what it does offer.
    ("attribute the model lacks", body(attributes={"INSULT": {}}), "offers TOXICITY"),
    ("no attributes", body(attributes={}), "requestedAttributes"),
    ("missing text", {"requestedAttributes": {"TOXICITY": {}}}, "comment.text is required"),
    ("empty text", body(""), "comment.text is required"),
    ("text over 20 KB", body("é" * 10_241), "20480"),
    ("unsupported language", body(languages=["ja"]), "language not supported: ja"),
    ("HTML text", {**body(), "comment": {"text": "<b>x</b>", "type": "HTML"}}, "PLAIN_TEXT"),
    ("score type", body(attributes={"TOXICITY": {"scoreType": "STD_DEV_SCORE"}}), "PROBABILITY"),
    ("threshold > 1", body(attributes={"TOXICITY": {"scoreThreshold": 2}}), "from 0 to 1"),
    ("text not a string", body(attributes={"TOXICITY": {}}, comment={"text": 5}), "comment.text"),
    ("body not JSON", "{nope", "Invalid JSON payload"),
    ("body not an object", [1, 2], "must be an object"),
]


@pytest.mark.parametrize(("case", "payload", "says"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_bad_requests_are_invalid_argument_naming_the_problem_and_change_nothing(
    client: FlaskClient, key: str, session: Session, case: str, payload: Any, says: str
) -> None:
    before = database_state(session)
    if isinstance(payload, str):
        response = client.post(ANALYZE, query_string={"key": key}, data=payload,
                               content_type="application/json")  # fmt: skip
    else:
        response = analyze(client, key, payload)
    assert says in google_error(response, 400, "INVALID_ARGUMENT")
    assert database_state(session) == before


def test_a_text_of_exactly_20_kb_is_scored(client: FlaskClient, key: str) -> None:
    assert analyze(client, key, body("a" * 20_480)).status_code == 200


def test_a_body_over_the_request_limit_is_refused_in_googles_shape(
    client: FlaskClient, key: str
) -> None:
    huge = body(context={"entries": [{"text": "x" * 70_000}]})
    message = google_error(analyze(client, key, huge), 400, "INVALID_ARGUMENT")
    assert "payload size exceeds the limit" in message


def test_drop_unsupported_attributes_answers_what_it_can(client: FlaskClient, key: str) -> None:
    response = analyze(
        client,
        key,
        body(attributes={"TOXICITY": {}, "INSULT": {}}, dropUnsupportedAttributes=True),
    )
    assert response.status_code == 200
    assert set(response.json["attributeScores"]) == {"TOXICITY"}


def test_a_wrong_url_or_method_is_answered_in_googles_shape(client: FlaskClient, key: str) -> None:
    for response in (
        client.get(ANALYZE, query_string={"key": key}),
        client.post("/perspective/comments:analyze", query_string={"key": key}, json=body()),
        client.post("/perspective/v1/comments:analyze", query_string={"key": key}, json=body()),
    ):
        message = google_error(response, 404, "NOT_FOUND")
        assert "/perspective/v1alpha1/comments:analyze" in message


# ---------------------------------------------------------------- a Detoxify model

DETOXIFY_ATTRIBUTES = {
    "TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT",
}  # fmt: skip


def test_detoxify_offers_its_labels_under_perspectives_names(detoxify_app: Flask) -> None:
    session = db.session
    key = new_key(session)
    client = detoxify_app.test_client()
    requested = {attr: {} for attr in DETOXIFY_ATTRIBUTES}
    response = analyze(client, key, body(INSULT, requested))
    assert response.status_code == 200, response.json
    scores = response.json["attributeScores"]
    assert set(scores) == DETOXIFY_ATTRIBUTES
    [direct] = load_scorer("detoxify", detoxify_app.config).score([INSULT])
    # PROFANITY is Detoxify's obscene, IDENTITY_ATTACK its identity_attack, and so on.
    for attr, label in perspective.ATTRIBUTE_LABELS.items():
        if attr in scores:
            assert scores[attr]["summaryScore"]["value"] == pytest.approx(direct[label], abs=1e-5)
    assert scores["INSULT"]["summaryScore"]["value"] > 0.8
    # The original model has no sexual_explicit label (unbiased and multilingual do).
    message = google_error(
        analyze(client, key, body(INSULT, {"SEXUALLY_EXPLICIT": {}})), 400, "INVALID_ARGUMENT"
    )
    assert "SEXUALLY_EXPLICIT" in message and "PROFANITY" in message


def test_spans_and_thresholds_apply_per_attribute(detoxify_app: Flask) -> None:
    key = new_key(db.session)
    client = detoxify_app.test_client()
    text = "you stupid idiot. nice post."
    requested = {"INSULT": {"scoreThreshold": 0.5}, "TOXICITY": {}}
    scores = analyze(client, key, body(text, requested, spanAnnotations=True)).json[
        "attributeScores"
    ]
    # The comment as a whole is an insult; of its sentences only the first one is.
    assert scores["INSULT"]["summaryScore"]["value"] > 0.5
    assert [text[s["begin"] : s["end"]] for s in scores["INSULT"]["spanScores"]] == [
        "you stupid idiot."
    ]
    assert len(scores["TOXICITY"]["spanScores"]) == 2
    kind = analyze(client, key, body("nice post. thanks for the great post.", requested)).json
    assert set(kind["attributeScores"]) == {"TOXICITY"}


def test_languages_follow_the_model(tiny_detoxify: Any) -> None:
    # The same tiny weights loaded as each Detoxify model type: the type decides.
    from tests.perspective.conftest import detoxify_settings

    settings = detoxify_settings(tiny_detoxify)
    original = load_scorer("detoxify", settings)
    multilingual = load_scorer("detoxify", {**settings, "DETOXIFY_MODEL": "multilingual"})
    assert perspective.supported_languages(original) == ("en",)
    assert perspective.supported_languages(multilingual) == (
        "en", "fr", "es", "it", "pt", "tr", "ru",
    )  # fmt: skip
    assert perspective.check_languages(multilingual, ["fr-FR", "PT"]) == ["fr", "pt"]
    assert perspective.supported_languages(load_scorer("lite")) == ("en",)


def test_suggestscore_shares_the_error_shape(client: FlaskClient, key: str) -> None:
    response = client.post(SUGGEST, query_string={"key": key}, json={"comment": {"text": "x"}})
    assert "attributeScores" in google_error(response, 400, "INVALID_ARGUMENT")
