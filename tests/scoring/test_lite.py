"""The embedded scorer, for real: no stand-in model."""

from __future__ import annotations

import pytest

from moderation.scoring import ScorerUnavailable, load_scorer


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
