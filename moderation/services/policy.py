"""A site's policy: from a comment's scores and text to a status and the reasons for it.

Rules, strongest first:
1. a banned word → hidden;
2. a label at or above its hide threshold → hidden;
3. premoderation (``pre`` mode) → held;
4. a label at or above its hold threshold → held;
5. a suspect word → held;
6. otherwise visible.
Every rule that fires is named in the reasons, so a moderator sees all of them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from moderation.models import Site
from moderation.scoring import LabelThresholds
from moderation.types import CommentStatus, ModerationMode


@dataclass(frozen=True)
class Decision:
    status: CommentStatus
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@lru_cache(maxsize=256)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    cleaned = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    # \b on both sides: "ass" does not match "classic"; phrases match across runs of spaces.
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in cleaned)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def find_words(text: str, words: Iterable[str]) -> list[str]:
    """The listed words or phrases that occur in ``text`` as whole words, ignoring case,
    in order of first appearance, each once."""
    pattern = _word_pattern(tuple(words))
    if pattern is None:
        return []
    found: list[str] = []
    for match in pattern.finditer(text):
        word = " ".join(match.group(0).lower().split())
        if word not in found:
            found.append(word)
    return found


def effective_thresholds(
    site: Site, scorer_defaults: Mapping[str, LabelThresholds]
) -> dict[str, LabelThresholds]:
    """The scorer's calibrated defaults with the site's per-label overrides applied."""
    merged = dict(scorer_defaults)
    for label, override in (site.thresholds or {}).items():
        base = merged.get(label, LabelThresholds(hold=None))
        merged[label] = LabelThresholds(
            hold=override.get("hold", base.hold), hide=override.get("hide", base.hide)
        )
    return merged


def decide(
    site: Site,
    text: str,
    scores: Mapping[str, float],
    scorer_defaults: Mapping[str, LabelThresholds],
) -> Decision:
    """Apply ``site``'s policy to a comment with these label ``scores``."""
    hide: list[str] = []
    hold: list[str] = []

    banned = find_words(text, site.banned_words or [])
    if banned:
        hide.append("banned word: " + ", ".join(f"'{w}'" for w in banned))

    for label, limits in effective_thresholds(site, scorer_defaults).items():
        value = scores.get(label)
        if value is None:
            continue
        if limits.hide is not None and value >= limits.hide:
            hide.append(f"{label} {value:.2f} ≥ hide threshold {limits.hide:.2f}")
        elif limits.hold is not None and value >= limits.hold:
            hold.append(f"{label} {value:.2f} ≥ hold threshold {limits.hold:.2f}")

    if site.moderation_mode == ModerationMode.PRE:
        hold.insert(0, "premoderation: this site holds every comment for review")

    suspect = find_words(text, site.suspect_words or [])
    if suspect:
        hold.append("suspect word: " + ", ".join(f"'{w}'" for w in suspect))

    if hide:
        return Decision(CommentStatus.HIDDEN, tuple(hide + hold))
    if hold:
        return Decision(CommentStatus.HELD, tuple(hold))
    top = ", ".join(f"{label} {value:.2f}" for label, value in sorted(scores.items()))
    return Decision(CommentStatus.VISIBLE, (f"passed policy ({top})",))
