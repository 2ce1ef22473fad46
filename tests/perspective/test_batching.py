"""Concurrent requests scored together: every caller still gets its own texts' scores, and
a model error reaches every caller of that batch without stopping the next ones."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from moderation.db import db
from moderation.perspective.batching import BatchingScorer
from moderation.scoring import load_scorer
from tests.conftest import app_config, make_site, reset_database
from tests.perspective.conftest import ANALYZE, new_key

TEXTS = [f"comment {i}: " + ("you idiot" if i % 3 == 0 else "thanks, well said") * (i % 4 + 1)
         for i in range(48)]  # fmt: skip


def test_concurrent_callers_each_get_their_own_scores() -> None:
    lite = load_scorer("lite")
    expected = lite.score(TEXTS)
    batcher = BatchingScorer(lite, max_texts=16)
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
    batcher = BatchingScorer(load_scorer("lite"))
    not_a_text: Any = None
    with pytest.raises(AttributeError):
        batcher.score([not_a_text])
    [scores] = batcher.score(["you stupid idiot"])
    assert scores["toxicity"] > 0.5
    assert batcher.score([]) == []


def scores_over_http(database_url: str, backend: str, batching: bool) -> list[float]:
    app: Flask = create_app(app_config(database_url, PERSPECTIVE_BATCHING=batching))
    with app.app_context():
        reset_database(backend)
        make_site(db.session)
        key = new_key(db.session)
        client: FlaskClient = app.test_client()
        values = []
        for text in TEXTS[:6]:
            body = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}}
            response = client.post(ANALYZE, query_string={"key": key}, json=body)
            values.append(response.json["attributeScores"]["TOXICITY"]["summaryScore"]["value"])
        db.session.remove()
        db.engine.dispose()
    return values


def test_batching_on_or_off_the_answers_are_the_same(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    def url(name: str) -> str:
        return f"sqlite:///{tmp_path / name}" if backend == "sqlite" else database_url

    assert scores_over_http(url("on.db"), backend, True) == pytest.approx(
        scores_over_http(url("off.db"), backend, False)
    )
