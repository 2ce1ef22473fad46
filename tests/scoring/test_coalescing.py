"""Concurrent requests: each gets its own text's scores and each is counted, with or without
batching; in a batch, a model error reaches every caller without stopping the next ones."""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from app import create_app
from moderation.db import db
from moderation.models import ScoringKey
from moderation.scoring import load_scorer
from moderation.scoring.coalescing import CoalescingScorer
from tests.conftest import app_config, make_site, reset_database
from tests.perspective.conftest import ANALYZE, new_key, serve

TEXTS = [f"comment {i}: " + ("you idiot" if i % 3 == 0 else "thanks, well said") * (i % 4 + 1)
         for i in range(48)]  # fmt: skip


def test_concurrent_callers_each_get_their_own_scores() -> None:
    lite = load_scorer("lite")
    expected = lite.score(TEXTS)
    batcher = CoalescingScorer(lite, max_texts=16)
    start = threading.Barrier(12)

    def call(i: int) -> list[dict[str, float]]:
        start.wait()
        return batcher.score(TEXTS[i * 4 : i * 4 + 4])

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(call, range(12)))
    got = [scores["toxicity"] for chunk in results for scores in chunk]
    assert got == pytest.approx([scores["toxicity"] for scores in expected])
    assert 1 <= batcher.batches <= 12
    assert (batcher.name, batcher.labels, batcher.version) == (lite.name, lite.labels,
                                                              lite.version)  # fmt: skip


def test_a_model_error_reaches_its_callers_and_the_next_batch_still_runs() -> None:
    batcher = CoalescingScorer(load_scorer("lite"))
    not_a_text: Any = None
    with pytest.raises(AttributeError):
        batcher.score([not_a_text])
    [scores] = batcher.score(["you stupid idiot"])
    assert scores["toxicity"] > 0.5
    assert batcher.score([]) == []


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
                answers = list(pool.map(lambda t: analyze_over_http(port, key, t), TEXTS[:24]))
        finally:
            server.server.shutdown()
        expected = [s["toxicity"] for s in load_scorer("lite").score(TEXTS[:24])]
        assert [status for status, _ in answers] == [200] * 24
        assert [value for _, value in answers] == pytest.approx(expected)
        db.session.expire_all()
        assert db.session.scalars(select(ScoringKey)).one().request_count == 24
        db.session.remove()
        db.engine.dispose()
