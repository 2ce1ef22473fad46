"""A site's policy: from a comment's scores and text to a status and the reasons for it.

Rules, strongest first:
1. a banned word → hidden;
2. a label at or above its hide threshold → hidden;
3. ``author_banned``: a moderator banned the author (a site that refuses banned authors'
   comments never stores them: services.comments.submit) → held;
4. premoderation (``pre`` mode) → held;
5. a label at or above its hold threshold → held; where the site's calibration learned from
   its moderators is live and on (``learned``, services.learning), it decides instead:
   ``learned_hold`` when the probability that they would hide it reaches its threshold;
6. a suspect word → held;
7. ``author_trusted``: a moderator trusts the author → visible, whatever rules 4-6 say
   (rules 1-2 still hide: trust skips the queue, not the banned words or the model's hide);
8. otherwise visible.
Every rule that fires is named in the decision (``Fired``, with what made it fire), so a
moderator sees all of them and the queue can filter on any; the first is the one the
status comes from."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from moderation.models import Site
from moderation.scoring import LabelThresholds
from moderation.types import CommentStatus, ModerationMode, Rule, StandingKind


@dataclass(frozen=True)
class Fired:
    """One rule that fired, with what made it fire; ``text`` is what a moderator reads."""

    rule: Rule
    label: str | None = None
    score: float | None = None
    threshold: float | None = None
    words: tuple[str, ...] = ()
    scores: tuple[tuple[str, float], ...] = ()  # PASSED_POLICY: every label, for the record

    @property
    def text(self) -> str:
        if self.rule in (Rule.LABEL_OVER_HIDE, Rule.LABEL_OVER_HOLD):
            which = "hide" if self.rule == Rule.LABEL_OVER_HIDE else "hold"
            return f"{self.label} {self.score:.2f} ≥ {which} threshold {self.threshold:.2f}"
        if self.rule == Rule.LEARNED_HOLD:
            return f"this site's moderators would hide it: {self.score:.2f} ≥ {self.threshold:.2f}"
        if self.rule in (Rule.BANNED_WORD, Rule.SUSPECT_WORD):
            kind = "banned" if self.rule == Rule.BANNED_WORD else "suspect"
            return f"{kind} word: " + ", ".join(f"'{w}'" for w in self.words)
        if self.rule == Rule.PREMODERATION:
            return "premoderation: this site holds every comment for review"
        if self.rule == Rule.AUTHOR_BANNED:
            return "author banned by a moderator: held for review"
        if self.rule == Rule.AUTHOR_TRUSTED:
            passed = f" (not held for: {', '.join(self.words)})" if self.words else ""
            return f"author trusted by a moderator: skips the queue{passed}"
        top = ", ".join(f"{label} {value:.2f}" for label, value in self.scores)
        return f"passed policy ({top})"

    def as_detail(self) -> dict[str, Any]:
        """JSON for ModerationAction.detail: only the fields this rule uses."""
        detail: dict[str, Any] = {"rule": self.rule.value}
        if self.label is not None:
            detail["label"] = self.label
        if self.score is not None:
            detail.update(score=self.score, threshold=self.threshold)
        if self.words:
            detail["words"] = list(self.words)
        if self.scores:
            detail["scores"] = dict(self.scores)
        return detail


@dataclass(frozen=True)
class Decision:
    status: CommentStatus
    fired: tuple[Fired, ...]
    # Where the site's learned calibration decided hold or not: its id, probability and
    # threshold, recorded on the action whichever way it went; None where it was not used.
    learned: dict[str, Any] | None = None

    @property
    def rule(self) -> Rule:
        """The strongest rule that fired: the one the status comes from."""
        return self.fired[0].rule

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f.text for f in self.fired)

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


class Learned(Protocol):
    """A site's calibration learned from its moderators (services.learning.Calibration)."""

    @property
    def id(self) -> int: ...

    @property
    def threshold(self) -> float: ...

    def probability(self, scores: Mapping[str, float], rules: Collection[Rule]) -> float: ...


def decide(
    site: Site,
    text: str,
    scores: Mapping[str, float],
    scorer_defaults: Mapping[str, LabelThresholds],
    author: StandingKind | None = None,
    learned: Learned | None = None,
) -> Decision:
    """Apply ``site``'s policy to a comment with these label ``scores``; ``author``: the
    ban or trust in force for its author on the site, if any; ``learned``: the site's
    live calibration, which decides in place of the labels' hold thresholds."""
    hide: list[Fired] = []
    hold: list[Fired] = []

    banned = find_words(text, site.banned_words or [])
    if banned:
        hide.append(Fired(Rule.BANNED_WORD, words=tuple(banned)))

    for label, limits in effective_thresholds(site, scorer_defaults).items():
        value = scores.get(label)
        if value is None:
            continue
        if limits.hide is not None and value >= limits.hide:
            hide.append(Fired(Rule.LABEL_OVER_HIDE, label, value, limits.hide))
        elif limits.hold is not None and value >= limits.hold:
            hold.append(Fired(Rule.LABEL_OVER_HOLD, label, value, limits.hold))

    if site.moderation_mode == ModerationMode.PRE:
        hold.insert(0, Fired(Rule.PREMODERATION))

    suspect = find_words(text, site.suspect_words or [])
    if suspect:
        hold.append(Fired(Rule.SUSPECT_WORD, words=tuple(suspect)))

    if author == StandingKind.BAN:
        hold.insert(0, Fired(Rule.AUTHOR_BANNED))

    used: dict[str, Any] | None = None
    if learned is not None and not hide:
        # Its features are the rules that fired as the thresholds stand (label_over_hold
        # included): it was fitted on those (services.learning.features).
        probability = learned.probability(scores, [f.rule for f in hold])
        hold = [f for f in hold if f.rule != Rule.LABEL_OVER_HOLD]
        if probability >= learned.threshold:
            # Rule 5's place: after a ban and premoderation, before the word lists.
            first = (Rule.AUTHOR_BANNED, Rule.PREMODERATION)
            at = next((i for i, f in enumerate(hold) if f.rule not in first), len(hold))
            hold.insert(
                at, Fired(Rule.LEARNED_HOLD, score=probability, threshold=learned.threshold)
            )
        used = {
            "calibration": learned.id,
            "probability": probability,
            "threshold": learned.threshold,
        }

    if hide:
        return Decision(CommentStatus.HIDDEN, tuple(hide + hold))
    if hold and author == StandingKind.TRUST:
        # The rules it skipped, named for the record (not in ``fired``: the queue's
        # reason filter would list a visible comment under "label over hold").
        skipped = tuple(dict.fromkeys(f.rule.value for f in hold))
        return Decision(CommentStatus.VISIBLE, (Fired(Rule.AUTHOR_TRUSTED, words=skipped),), used)
    if hold:
        return Decision(CommentStatus.HELD, tuple(hold), used)
    return Decision(
        CommentStatus.VISIBLE,
        (Fired(Rule.PASSED_POLICY, scores=tuple(sorted(scores.items()))),),
        used,
    )
