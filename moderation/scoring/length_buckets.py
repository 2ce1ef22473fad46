"""Length buckets: score texts of similar token length together, so a batch of short
comments is not padded to the length of one long one."""

from __future__ import annotations

from collections.abc import Sequence

MAX_TOKENS = 512  # BERT-family position embeddings; longer texts are truncated


# Measured with bench/scoring.py on 2 cores: buckets of at most ~2,048 padded tokens ran
# bert-base int8 about twice as fast, at half the peak memory, as 8,192.
MAX_PADDED_TOKENS = 2048


def length_buckets(
    lengths: Sequence[int], max_batch: int = 16, max_padded_tokens: int = MAX_PADDED_TOKENS
) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches, shortest texts first. A batch holds at
    most ``max_batch`` texts and at most ``max_padded_tokens`` once padded to its longest
    text, which bounds memory for long comments."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    buckets: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = max(lengths[index], 1)  # sorted, so this text is the longest so far
        if current and (
            len(current) >= max_batch or longest * (len(current) + 1) > max_padded_tokens
        ):
            buckets.append(current)
            current = []
        current.append(index)
    if current:
        buckets.append(current)
    return buckets
