"""Concurrent requests to the Perspective-compatible endpoint: each gets its own text's
scores and each is counted, with or without PERSPECTIVE_BATCHING (the CoalescingScorer)."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from app import create_app
from moderation.db import db
from moderation.models import ScoringKey
from moderation.scoring import load_scorer
from tests.conftest import app_config, make_site, reset_database
from tests.perspective.conftest import ANALYZE, new_key, serve

TEXTS = [f"comment {i}: " + ("you idiot" if i % 3 == 0 else "thanks, well said") * (i % 4 + 1)
         for i in range(24)]  # fmt: skip


def analyze_over_http(port: int, key: str, text: str) -> tuple[int, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}}
    connection.request("POST", f"{ANALYZE}?key={key}", body=json.dumps(body),
                       headers={"Content-Type": "application/json"})  # fmt: skip
    response = connection.getresponse()
    data = json.loads(response.read())
    connection.close()
    return response.status, data["attributeScores"]["TOXICITY"]["summaryScore"]["value"]


@pytest.mark.parametrize("batching", [True, False], ids=["batching", "no-batching"])
def test_concurrent_http_requests_are_all_answered_and_all_counted(
    database_url: str, backend: str, batching: bool
) -> None:
    app = create_app(app_config(database_url, PERSPECTIVE_BATCHING=batching))
    with app.app_context():
        reset_database(backend)
        make_site(db.session)
        key = new_key(db.session)
        server = serve(app)
        port = server.server.server_port
        try:
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda t: analyze_over_http(port, key, t), TEXTS))
        finally:
            server.server.shutdown()
        expected = [s["toxicity"] for s in load_scorer("lite").score(TEXTS)]
        assert [status for status, _ in answers] == [200] * 24
        assert [value for _, value in answers] == pytest.approx(expected)
        db.session.expire_all()
        assert db.session.scalars(select(ScoringKey)).one().request_count == 24
        db.session.remove()
        db.engine.dispose()
