"""Concurrent callers of a CoalescingScorer each get their own texts' scores; in a batch, a
model error reaches every caller without stopping the next ones."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from moderation.scoring import load_scorer
from moderation.scoring.coalescing import CoalescingScorer

TEXTS = [f"comment {i}: " + ("you idiot" if i % 3 == 0 else "thanks, well said") * (i % 4 + 1)
         for i in range(48)]  # fmt: skip


def test_concurrent_callers_each_get_their_own_scores() -> None:
    lite = load_scorer("lite")
    expected = lite.score(TEXTS)
    coalescing = CoalescingScorer(lite, max_texts=16)
    start = threading.Barrier(12)

    def call(i: int) -> list[dict[str, float]]:
        start.wait()
        return coalescing.score(TEXTS[i * 4 : i * 4 + 4])

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(call, range(12)))
    got = [scores["toxicity"] for chunk in results for scores in chunk]
    assert got == pytest.approx([scores["toxicity"] for scores in expected])
    assert 1 <= coalescing.batches <= 12
    same = (coalescing.name, coalescing.labels, coalescing.version)
    assert same == (lite.name, lite.labels, lite.version)


def test_a_model_error_reaches_its_callers_and_the_next_batch_still_runs() -> None:
    coalescing = CoalescingScorer(load_scorer("lite"))
    not_a_text: Any = None
    with pytest.raises(AttributeError):
        coalescing.score([not_a_text])
    [scores] = coalescing.score(["you stupid idiot"])
    assert scores["toxicity"] > 0.5
    assert coalescing.score([]) == []
