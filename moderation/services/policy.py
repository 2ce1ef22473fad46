"""A site's policy: from a comment's scores and text to a status and the reasons for it.

Rules, strongest first:
1. a banned word or pattern → hidden;
2. a label at or above its hide threshold → hidden (except as in rule 6);
3. ``author_banned``: a moderator banned the author (a site that refuses banned authors'
   comments never stores them: services.comments.submit) → held;
4. premoderation (``pre`` mode) → held;
5. a label at or above its hold threshold → held (where the site's calibration learned from
   its moderators is live and on, ``learned``, services.learning, it decides instead:
   ``learned_hold`` when the probability that they would hide it reaches its threshold;
   its inputs are the labels' scores and the rules of 6-11 that fired), except:
6. ``profanity_not_aimed``: a profanity label (``PROFANITY_LABELS``) does not count, for
   rule 2 or 5, when the text's hard words are swearing or insults aimed at no one,
   rules 7-10 did not fire, and the text scored again without
   the swear words falls under the threshold: the swearing was all the model objected to
   ("this damn printer", "calling people idiots ends the debate"; not "damn, I hope your
   family gets cancer"); recorded, last, on whatever the decision is;
7. ``threat``: a violent word aimed at a person or group, as intent, wish, call or order
   ("I will hurt you", "people like you should be shot") → held (services.targeting);
8. ``veiled_threat``: menace with no violent word ("I know where you live") → held;
9. ``group_attack``: a slur, or a group of people smeared ("… are vermin") → held;
10. ``insult_aimed``: an insult aimed at someone ("you idiot", "f*** you") → held;
11. a suspect word or pattern → held;
12. ``author_trusted``: a moderator trusts the author → visible, whatever rules 4-11 say
    (rules 1-2 still hide: trust skips the queue, not the banned words or the model's hide);
13. otherwise visible.
The model's labels come before the text rules, as they did before the text rules existed:
the first reason stays the model's where it spoke, and every rule that fired is listed.
Every rule that fires is named in the decision (``Fired``, with what made it fire), so a
moderator sees all of them and the queue can filter on any; the first is the one the
status comes from.

Sites' word lists hold exact phrases (whole words, any case) and patterns: an entry
written between slashes, ``/kil+ (you|u)/``, is a regular expression, searched anywhere
in the text, ignoring case. Patterns run on RE2 (google-re2), whose time is linear in the
text whatever the pattern, so no site's entry can stall the worker; sites.check_word_list
refuses the ones RE2 cannot compile."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import re2

from moderation.models import Site
from moderation.scoring import LabelThresholds, Scorer
from moderation.services import targeting
from moderation.types import CommentStatus, ModerationMode, Rule, StandingKind

# Labels that mostly measure swearing (the lite model's only label is one): their hold and
# hide do not count for swearing aimed at no one. A model's insult, threat or identity
# label always counts.
PROFANITY_LABELS = frozenset({"toxicity", "obscene"})
# The longest pattern a site may list: patterns are for spellings and variants, not essays.
PATTERN_MAX = 200
_TARGETED_TEXT = {
    Rule.THREAT: "threat aimed at a person",
    Rule.VEILED_THREAT: "veiled threat aimed at a person",
    Rule.GROUP_ATTACK: "attack on a group of people",
    Rule.INSULT_AIMED: "insult aimed at a person",
}


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
        if self.rule in _TARGETED_TEXT:
            return f"{_TARGETED_TEXT[self.rule]}: " + ", ".join(f"'{w}'" for w in self.words)
        if self.rule == Rule.PROFANITY_NOT_AIMED:
            swearing = ", ".join(f"'{w}'" for w in self.words)
            return (
                f"profanity aimed at no one: {swearing} ({self.label} {self.score:.2f} ≥ "
                f"threshold {self.threshold:.2f}, not counted)"
            )
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


def is_pattern(entry: str) -> bool:
    """Whether a word-list entry is a pattern: written between slashes, ``/…/``."""
    entry = entry.strip()
    return len(entry) > 2 and entry.startswith("/") and entry.endswith("/")


class BadPattern(ValueError):
    """A word-list pattern RE2 cannot compile, or one too long; ``str()`` says why."""


@lru_cache(maxsize=1024)
def compile_pattern(entry: str) -> Any:
    """The RE2 regex of a ``/…/`` entry, ignoring case; BadPattern when it is not one."""
    source = entry.strip()[1:-1]
    if len(source) > PATTERN_MAX:
        raise BadPattern(f"longer than {PATTERN_MAX} characters")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the refusal is ours to word, not RE2's to print
    try:
        return re2.compile(source, options)
    except re2.error as error:
        message = error.args[0] if error.args else "not a regular expression"
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise BadPattern(str(message)) from None


def find_words(text: str, words: Iterable[str]) -> list[str]:
    """The listed words or phrases that occur in ``text`` as whole words, ignoring case,
    in order of first appearance, each once; for a ``/pattern/`` entry, the text it
    matched. A stored pattern that no longer compiles counts as a phrase: a site's list
    never stops the worker."""
    phrases: list[str] = []
    patterns: list[Any] = []
    for word in words:
        if is_pattern(word):
            try:
                patterns.append(compile_pattern(word))
                continue
            except BadPattern:
                pass
        phrases.append(word)
    found: list[tuple[int, str]] = []
    pattern = _word_pattern(tuple(phrases))
    if pattern is not None:
        found.extend(
            (match.start(), " ".join(match.group(0).lower().split()))
            for match in pattern.finditer(text)
        )
    for regex in patterns:
        match = regex.search(text)
        if match is not None and match.group(0).strip():
            found.append((match.start(), " ".join(match.group(0).lower().split())[:80]))
    return list(dict.fromkeys(word for _, word in sorted(found, key=lambda f: f[0])))


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


# The scorer on one more text, for rule 6 (``rescorer``).
Rescore = Callable[[str], Mapping[str, float]]


def rescorer(scorer: Scorer) -> Rescore:
    """``scorer`` on one more text, for rule 6: how ``decide`` is called wherever the
    scorer is at hand (the POST, the worker, learning, evaluation)."""
    return lambda text: scorer.score([text])[0]


def decide(
    site: Site,
    text: str,
    scores: Mapping[str, float],
    scorer_defaults: Mapping[str, LabelThresholds],
    author: StandingKind | None = None,
    learned: Learned | None = None,
    rescore: Rescore | None = None,
) -> Decision:
    """Apply ``site``'s policy to a comment with these label ``scores``; ``author``: the
    ban or trust in force for its author on the site, if any; ``learned``: the site's
    live calibration, which decides in place of the labels' hold thresholds;
    ``rescore``: the scorer, for rule 6 (without it, as where only stored scores are at
    hand, swearing aimed at no one is taken to be all the model objected to)."""
    hide: list[Fired] = []
    hold: list[Fired] = []
    reading = targeting.read(text)
    # Swearing aimed at no one: a profanity label's verdict on it does not count.
    let_pass = bool(reading.profanity) and not reading.aimed and not reading.strong
    waived: list[Fired] = []
    unsworn: list[Mapping[str, float]] = []  # the scores without the swearing, once

    def only_swearing(label: str, threshold: float) -> bool:
        """Whether the label falls under ``threshold`` once the swear words are out: the
        swearing was all the model objected to (not "damn, I hope your family gets …")."""
        if rescore is None:
            return True
        if not unsworn:
            unsworn.append(rescore(targeting.without_profanity(text)))
        return unsworn[0].get(label, 0.0) < threshold

    banned = find_words(text, site.banned_words or [])
    if banned:
        hide.append(Fired(Rule.BANNED_WORD, words=tuple(banned)))

    over_hold: list[Fired] = []
    for label, limits in effective_thresholds(site, scorer_defaults).items():
        value = scores.get(label)
        if value is None:
            continue
        if limits.hide is not None and value >= limits.hide:
            fired = Fired(Rule.LABEL_OVER_HIDE, label, value, limits.hide)
        elif limits.hold is not None and value >= limits.hold:
            fired = Fired(Rule.LABEL_OVER_HOLD, label, value, limits.hold)
        else:
            continue
        # Only when the swearing is what the model objected to.
        if let_pass and label in PROFANITY_LABELS and only_swearing(label, fired.threshold or 0.0):
            swearing = tuple(reading.profanity[:5])
            waived.append(Fired(Rule.PROFANITY_NOT_AIMED, label, value, fired.threshold, swearing))
        elif fired.rule == Rule.LABEL_OVER_HIDE:
            hide.append(fired)
        else:
            over_hold.append(fired)

    if site.moderation_mode == ModerationMode.PRE:
        hold.append(Fired(Rule.PREMODERATION))
    hold.extend(over_hold)
    for rule, found in (
        (Rule.THREAT, reading.threats),
        (Rule.VEILED_THREAT, reading.veiled_threats),
        (Rule.GROUP_ATTACK, reading.group_attacks),
        (Rule.INSULT_AIMED, reading.insults),
    ):
        if found:
            hold.append(Fired(rule, words=tuple(found[:5])))

    suspect = find_words(text, site.suspect_words or [])
    if suspect:
        hold.append(Fired(Rule.SUSPECT_WORD, words=tuple(suspect)))

    if author == StandingKind.BAN:
        hold.insert(0, Fired(Rule.AUTHOR_BANNED))

    used: dict[str, Any] | None = None
    if learned is not None and not hide:
        # Its features are the rules that fired as the thresholds stand (label_over_hold
        # included): it was fitted on those (services.learning.features).
        probability = learned.probability(scores, [f.rule for f in hold + waived])
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
        return Decision(CommentStatus.HIDDEN, tuple(hide + hold + waived), used)
    if hold and author == StandingKind.TRUST:
        # The rules it skipped, named for the record (not in ``fired``: the queue's
        # reason filter would list a visible comment under "label over hold").
        skipped = tuple(dict.fromkeys(f.rule.value for f in hold))
        return Decision(CommentStatus.VISIBLE, (Fired(Rule.AUTHOR_TRUSTED, words=skipped),), used)
    if hold:
        return Decision(CommentStatus.HELD, tuple(hold + waived), used)
    passed = Fired(Rule.PASSED_POLICY, scores=tuple(sorted(scores.items())))
    return Decision(CommentStatus.VISIBLE, (*waived, passed), used)
