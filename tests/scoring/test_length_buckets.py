"""Length buckets keep short comments from being padded to long ones."""

from __future__ import annotations

from moderation.scoring.length_buckets import length_buckets


def test_buckets_group_similar_lengths_and_cover_every_text_once() -> None:
    lengths = [300, 5, 7, 280, 6, 512, 4]
    buckets = length_buckets(lengths, max_batch=3)
    assert buckets == [[6, 1, 4], [2, 3, 0], [5]]
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))


def test_a_bucket_never_pads_past_the_token_budget() -> None:
    lengths = [512] * 40 + [10] * 40
    for bucket in length_buckets(lengths, max_batch=32, max_padded_tokens=4096):
        assert max(lengths[i] for i in bucket) * len(bucket) <= 4096
    assert length_buckets([], max_batch=8) == []
