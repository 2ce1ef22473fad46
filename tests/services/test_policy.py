"""Each policy rule, with the reason a moderator will read."""

from __future__ import annotations

from typing import Any

from moderation.models import Site
from moderation.scoring import LabelThresholds
from moderation.services.policy import decide, find_words
from moderation.types import CommentStatus, ModerationMode

DEFAULTS = {"toxicity": LabelThresholds(hold=0.8, hide=None)}


def site(**settings: Any) -> Site:
    values: dict[str, Any] = {
        "slug": "s",
        "name": "S",
        "moderation_mode": ModerationMode.POST,
        "thresholds": {},
        "banned_words": [],
        "suspect_words": [],
    }
    values.update(settings)
    return Site(**values)


def test_post_mode_shows_a_comment_below_the_hold_threshold() -> None:
    decision = decide(site(), "nice post", {"toxicity": 0.79}, DEFAULTS)
    assert decision.status == CommentStatus.VISIBLE
    assert "toxicity 0.79" in decision.reason


def test_a_label_at_its_hold_threshold_holds_the_comment() -> None:
    decision = decide(site(), "x", {"toxicity": 0.8}, DEFAULTS)
    assert decision.status == CommentStatus.HELD
    assert decision.reason == "toxicity 0.80 ≥ hold threshold 0.80"


def test_hide_threshold_is_off_by_default_and_hides_when_set() -> None:
    assert decide(site(), "x", {"toxicity": 1.0}, DEFAULTS).status == CommentStatus.HELD
    strict = site(thresholds={"toxicity": {"hide": 0.95}})
    decision = decide(strict, "x", {"toxicity": 0.97}, DEFAULTS)
    assert decision.status == CommentStatus.HIDDEN
    assert decision.reason == "toxicity 0.97 ≥ hide threshold 0.95"


def test_site_overrides_a_labels_hold_threshold_and_can_turn_it_off() -> None:
    lenient = site(thresholds={"toxicity": {"hold": 0.95}})
    assert decide(lenient, "x", {"toxicity": 0.9}, DEFAULTS).status == CommentStatus.VISIBLE
    off = site(thresholds={"toxicity": {"hold": None}})
    assert decide(off, "x", {"toxicity": 0.99}, DEFAULTS).status == CommentStatus.VISIBLE


def test_thresholds_for_labels_of_a_richer_model_apply_too() -> None:
    six = {
        "toxicity": LabelThresholds(hold=0.8),
        "threat": LabelThresholds(hold=0.3),
    }
    decision = decide(site(), "x", {"toxicity": 0.4, "threat": 0.35}, six)
    assert decision.status == CommentStatus.HELD
    assert decision.reason == "threat 0.35 ≥ hold threshold 0.30"


def test_premoderation_holds_everything_and_says_so() -> None:
    decision = decide(
        site(moderation_mode=ModerationMode.PRE), "lovely", {"toxicity": 0.0}, DEFAULTS
    )
    assert decision.status == CommentStatus.HELD
    assert decision.reason.startswith("premoderation")


def test_a_banned_word_hides_the_comment_whatever_the_score() -> None:
    decision = decide(
        site(banned_words=["Spamco"]), "buy at SPAMCO now", {"toxicity": 0.0}, DEFAULTS
    )
    assert decision.status == CommentStatus.HIDDEN
    assert decision.reason == "banned word: 'spamco'"


def test_a_suspect_word_holds_the_comment() -> None:
    decision = decide(
        site(suspect_words=["find you"]), "I will FIND   you", {"toxicity": 0.44}, DEFAULTS
    )
    assert decision.status == CommentStatus.HELD
    assert decision.reason == "suspect word: 'find you'"


def test_words_match_whole_words_only() -> None:
    assert find_words("a classic assessment", ["ass"]) == []
    assert find_words("you ass.", ["ass"]) == ["ass"]
    assert find_words("Kill-switch", ["kill"]) == ["kill"]
    assert find_words("skills", ["kill"]) == []


def test_every_rule_that_fires_is_named() -> None:
    busy = site(moderation_mode=ModerationMode.PRE, banned_words=["scam"], suspect_words=["hurt"])
    decision = decide(busy, "scam, and I'll hurt you", {"toxicity": 0.9}, DEFAULTS)
    assert decision.status == CommentStatus.HIDDEN
    assert decision.reasons == (
        "banned word: 'scam'",
        "premoderation: this site holds every comment for review",
        "toxicity 0.90 ≥ hold threshold 0.80",
        "suspect word: 'hurt'",
    )
