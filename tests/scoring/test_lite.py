"""The embedded scorer, for real: no stand-in model."""

from __future__ import annotations

import pytest

from moderation.scoring import ScorerUnavailable, load_scorer
from tests.conftest import SHARED_DATA


def test_lite_scores_abuse_high_and_friendly_text_low() -> None:
    scorer = load_scorer("lite")
    friendly, abusive = scorer.score(
        [
            "Thanks for the write-up, the second chart cleared it up for me.",
            "shut up you stupid fucking idiot",
        ]
    )
    assert friendly["toxicity"] < 0.2
    assert abusive["toxicity"] > 0.9
    assert scorer.score([]) == []


def test_lite_names_its_label_version_and_calibrated_threshold() -> None:
    scorer = load_scorer("lite")
    assert scorer.labels == ("toxicity",)
    assert scorer.version.startswith("alt-profanity-check==1.")
    assert scorer.default_thresholds["toxicity"].hold is not None


def test_an_unknown_scorer_is_refused_with_the_choices() -> None:
    with pytest.raises(ScorerUnavailable, match="must be one of"):
        load_scorer("perspective")


def test_lite_gives_exactly_the_published_models_probabilities() -> None:
    # The scorer evaluates the model itself (without scikit-learn's per-call checks,
    # ~15x less CPU per post); the scores must be the ones the package computes.
    import csv

    from profanity_check import predict_prob

    texts: list[str] = []
    for path in sorted((SHARED_DATA / "toxicity").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                text = (row.get("comment_text") or row.get("tweet") or "").strip()
                if text:
                    texts.append(text)
    texts = texts[::7][:3000]
    assert len(texts) > 1000
    ours = [s["toxicity"] for s in load_scorer("lite").score(texts)]
    assert ours == [float(p) for p in predict_prob(texts)]
    # One at a time, as a post is scored, gives the same as in a batch.
    assert [load_scorer("lite").score([t])[0]["toxicity"] for t in texts[:50]] == ours[:50]
