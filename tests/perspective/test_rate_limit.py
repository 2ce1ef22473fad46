"""Each scoring key has its own rate; past it the answer is Google's 429 RESOURCE_EXHAUSTED."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from moderation.db import db
from moderation.perspective.views import rate_limit_string
from tests.conftest import app_config, make_site, reset_database
from tests.perspective.conftest import ANALYZE, SUGGEST, new_key

BODY = {"comment": {"text": "hello there"}, "requestedAttributes": {"TOXICITY": {}}}
SUGGESTION = {
    "comment": {"text": "hello there"},
    "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}},
}
# One request a minute: the second one is over the limit however slow the machine is.
ONE_A_MINUTE = 1 / 60


@pytest.fixture
def limited_app(database_url: str, backend: str) -> Iterator[Flask]:
    app = create_app(app_config(database_url, RATELIMIT_ENABLED=True))
    with app.app_context():
        reset_database(backend)
        make_site(db.session)
        yield app
        db.session.remove()
        db.engine.dispose()


def analyze(client: FlaskClient, key: str) -> tuple[int, dict[str, str]]:
    response = client.post(ANALYZE, query_string={"key": key}, json=BODY)
    return response.status_code, response.json.get("error", {})


def test_a_key_over_its_rate_gets_resource_exhausted(limited_app: Flask) -> None:
    key = new_key(db.session, rate=ONE_A_MINUTE)
    client = limited_app.test_client()
    assert analyze(client, key)[0] == 200
    status, error = analyze(client, key)
    assert status == 429
    assert error["status"] == "RESOURCE_EXHAUSTED" and error["code"] == 429
    assert "1 per 60 second" in error["message"]


def test_each_key_has_its_own_budget(limited_app: Flask) -> None:
    slow = new_key(db.session, rate=ONE_A_MINUTE, name="slow")
    other = new_key(db.session, rate=ONE_A_MINUTE, name="other")
    client = limited_app.test_client()
    assert analyze(client, slow)[0] == 200
    assert analyze(client, slow)[0] == 429
    assert analyze(client, other)[0] == 200


def test_analyze_and_suggestscore_share_the_keys_budget(limited_app: Flask) -> None:
    key = new_key(db.session, rate=ONE_A_MINUTE)
    client = limited_app.test_client()
    assert client.post(SUGGEST, query_string={"key": key}, json=SUGGESTION).status_code == 200
    assert analyze(client, key)[0] == 429


def test_the_rate_becomes_a_count_per_window(limited_app: Flask) -> None:
    assert rate_limit_string(10) == "10 per 1 second"
    assert rate_limit_string(0.5) == "1 per 2 second"
    assert rate_limit_string(2.5) == "5 per 2 second"
    # 3 per 100 seconds: three requests pass, the fourth does not, however slow the machine.
    assert rate_limit_string(0.03) == "3 per 100 second"
    key = new_key(db.session, rate=0.03)
    client = limited_app.test_client()
    assert [analyze(client, key)[0] for _ in range(4)] == [200, 200, 200, 429]


def test_retry_after_is_the_wait_rounded_up_and_never_zero(
    limited_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    clock = [1_800_000_000.3]
    monkeypatch.setattr(time, "time", lambda: clock[0])  # the limiter's clock too
    key = new_key(db.session, rate=1, name="fast")  # one request a second
    slow = new_key(db.session, rate=ONE_A_MINUTE, name="slow")
    client = limited_app.test_client()
    assert analyze(client, key)[0] == 200  # its window ends at .3 of the next second
    assert analyze(client, slow)[0] == 200
    clock[0] += 0.8  # 0.2 s left of the window: the client waits 1 second, not 0
    refused = client.post(ANALYZE, query_string={"key": key}, json=BODY)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    refused = client.post(ANALYZE, query_string={"key": slow}, json=BODY)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"  # 59.2 s, rounded up
