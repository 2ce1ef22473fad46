"""Why, in the text: the words of a comment that drove its decision, and its body with
those words marked for the moderator.

Three sources, in this order (a word found by an earlier one is not repeated):
1. banned words the policy matched (policy.find_words on the site's list, plus those the
   system's decision recorded: the list may have changed since);
2. suspect words, likewise;
   then the words the targeting rules recorded (a threat, a veiled threat, an attack on a
   group, an insult aimed at someone: services.targeting);
3. the model's terms, for the label that reached its hold or hide threshold (none when the
   model did not drive the decision):
   - a scorer with an ``explain`` method (the lite model, linear) answers exactly, at once;
   - any other (Detoxify, ONNX) by leave-one-word-out: the text scored again without
     each distinct word, the words whose absence lowers the label most. One model run
     per word, so only for held comments, when a moderator opens one (``explain_opened``),
     and kept in ``score_explanation`` for the next opening and for the queue.
Marking works on the sanitized HTML: text nodes only, escaped, and the result cleaned
again by nh3 with ``<mark>`` allowed, so nothing the reader wrote becomes markup."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any, Protocol, runtime_checkable

import nh3
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moderation.models import Comment, Score, ScoreExplanation
from moderation.scoring import LabelThresholds, Scorer
from moderation.services import policy, rendering
from moderation.services.review import current_score
from moderation.types import Actor, CommentStatus, Rule

MAX_MODEL_TERMS = 5
# Leave-one-word-out scores the text once per distinct word: a long comment's first
# words only, so that opening it stays a second or two with Detoxify on a CPU.
LOO_MAX_WORDS = 64
# A word whose absence moves the score by less than this is noise, not a reason.
LOO_MIN_DROP = 0.01
LEAVE_ONE_WORD_OUT = "leave-one-word-out"
LINEAR = "linear"
WORD = re.compile(r"\w+(?:['’]\w+)*")


@runtime_checkable
class ExplainingScorer(Protocol):
    """A scorer that can say which words raised a label (the lite model)."""

    def explain(self, text: str, label: str) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class Term:
    """A word or phrase to mark: ``kind`` is banned, suspect or model; ``weight`` how much
    it raised the model's score (model terms only)."""

    word: str
    kind: str
    weight: float | None = None
    label: str | None = None
    method: str | None = None

    @property
    def name(self) -> str:
        """The kind as a moderator reads it."""
        return self.kind.replace("-", " ")

    @property
    def title(self) -> str:
        if self.kind in TARGETED_KINDS.values():
            return f"{self.name}: the words that made this rule fire"
        if self.kind != "model":
            return f"{self.kind} word on this site's list"
        if self.method == LEAVE_ONE_WORD_OUT:
            return f"{self.label}: {self.weight:.2f} lower without this word"
        return f"{self.label}: raises the model's score by {self.weight:.2f} (before calibration)"


@dataclass(frozen=True)
class Explanation:
    terms: tuple[Term, ...] = ()
    label: str | None = None  # the model label explained, when the model drove it
    method: str | None = None
    # A held comment whose model terms are worked out when a moderator opens it.
    on_opening: bool = False

    @property
    def model_terms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.kind == "model")

    @property
    def word_terms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.kind != "model")


def _words(text: str) -> str:
    return " ".join(text.lower().split())


# The targeting rules whose words are marked, and their kind (a CSS class: no spaces).
TARGETED_KINDS = {
    Rule.THREAT: "threat",
    Rule.VEILED_THREAT: "veiled-threat",
    Rule.GROUP_ATTACK: "group-attack",
    Rule.INSULT_AIMED: "insult",
}


def word_terms(comment: Comment) -> list[Term]:
    """The site's banned and suspect words in the comment, now and as decided, then the
    words the targeting rules recorded when it was decided."""
    recorded: dict[Rule, list[str]] = {
        Rule.BANNED_WORD: [],
        Rule.SUSPECT_WORD: [],
        **{rule: [] for rule in TARGETED_KINDS},
    }
    # Every policy decision it had, not only the last: a comment held by a rule and then
    # by readers' reports still shows the words the rule read.
    for action in comment.actions:
        if action.actor != Actor.SYSTEM or not action.detail:
            continue
        for fired in action.detail.get("fired", []):
            rule = fired.get("rule")
            if rule in recorded:
                recorded[Rule(rule)].extend(str(w) for w in fired.get("words", []))
    site = comment.thread.site
    found: dict[str, Term] = {}
    for rule, kind, listed in (
        (Rule.BANNED_WORD, "banned", site.banned_words or []),
        (Rule.SUSPECT_WORD, "suspect", site.suspect_words or []),
    ):
        for word in policy.find_words(comment.body, [*recorded[rule], *listed]):
            found.setdefault(_words(word), Term(_words(word), kind))
    for rule, kind in TARGETED_KINDS.items():
        # What the rule read may be normalised ("f*** you"): only words found as written
        # in the body are marked.
        for word in policy.find_words(comment.body, recorded[rule]):
            found.setdefault(_words(word), Term(_words(word), kind))
    return list(found.values())


def driving_label(
    comment: Comment, score: Score | None, scorer_defaults: Mapping[str, LabelThresholds]
) -> str | None:
    """The label whose score reached its hold or hide threshold on the comment's site
    (the highest, when several did); None when the model did not drive the decision."""
    if score is None:
        return None
    limits = policy.effective_thresholds(comment.thread.site, scorer_defaults)
    reached = []
    for label, value in score.labels.items():
        limit = limits.get(label)
        if limit is None:
            continue
        lowest = min((t for t in (limit.hold, limit.hide) if t is not None), default=None)
        if lowest is not None and value >= lowest:
            reached.append((value, label))
    return max(reached)[1] if reached else None


def leave_one_word_out(
    scorer: Scorer, text: str, label: str, max_words: int = LOO_MAX_WORDS
) -> list[tuple[str, float]]:
    """The words of ``text`` whose removal (every occurrence) lowers ``label``'s score by
    at least LOO_MIN_DROP, each with how much, largest first. Scores ``text`` itself in
    the same batch, so the drops compare like with like."""
    distinct = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))[:max_words]
    if not distinct:
        return []
    variants = [_word_pattern((word,)).sub("", text) for word in distinct]
    scores = scorer.score([text, *variants])
    base = scores[0][label]
    drops = [(word, base - s[label]) for word, s in zip(distinct, scores[1:], strict=True)]
    return sorted((d for d in drops if d[1] >= LOO_MIN_DROP), key=lambda d: d[1], reverse=True)


def _explains(scorer: Scorer, score: Score) -> bool:
    """Whether ``scorer`` is the model that made ``score`` (another's terms would explain
    numbers the moderator is not looking at)."""
    return score.scorer == scorer.name and score.scorer_version == scorer.version


def _combine(
    words: Iterable[Term], model: Iterable[Sequence[Any]], label: str, method: str
) -> tuple[Term, ...]:
    taken = {t.word for t in words}
    terms = list(words)
    for word, weight in list(model)[:MAX_MODEL_TERMS]:
        if _words(str(word)) not in taken:
            terms.append(Term(_words(str(word)), "model", float(weight), label, method))
    return tuple(terms)


def explain_comments(
    session: Session,
    comments: Sequence[Comment],
    scorer: Scorer,
    scorer_defaults: Mapping[str, LabelThresholds],
) -> dict[int, Explanation]:
    """Explanations for a page of the queue: word lists, the linear model's terms, and
    leave-one-word-out terms already worked out (never computed here: too slow for a page)."""
    scores = {c.id: current_score(c) for c in comments}
    wanted = [s.id for s in scores.values() if s is not None]
    cached: dict[int, ScoreExplanation] = {}
    if wanted:
        query = select(ScoreExplanation).where(ScoreExplanation.score_id.in_(wanted))
        cached = {row.score_id: row for row in session.scalars(query)}
    result = {}
    for comment in comments:
        score = scores[comment.id]
        kept = cached.get(score.id) if score is not None else None
        result[comment.id] = _explain(comment, score, scorer, scorer_defaults, kept)
    return result


def _explain(
    comment: Comment,
    score: Score | None,
    scorer: Scorer,
    scorer_defaults: Mapping[str, LabelThresholds],
    cached: ScoreExplanation | None,
) -> Explanation:
    words = word_terms(comment)
    label = driving_label(comment, score, scorer_defaults)
    if score is None or label is None:
        return Explanation(tuple(words))
    if cached is not None and cached.label == label:
        return Explanation(
            _combine(words, cached.terms, label, cached.method), label, cached.method
        )
    if not _explains(scorer, score):
        return Explanation(tuple(words))
    if isinstance(scorer, ExplainingScorer):
        model = scorer.explain(comment.body, label)
        return Explanation(_combine(words, model, label, LINEAR), label, LINEAR)
    return Explanation(tuple(words), label, on_opening=comment.status == CommentStatus.HELD)


def explain_opened(
    session: Session,
    comment: Comment,
    scorer: Scorer,
    scorer_defaults: Mapping[str, LabelThresholds],
    now: datetime,
) -> Explanation:
    """The explanation for a comment a moderator opened: as ``explain_comments``, and for
    a held comment scored by a model without ``explain``, leave-one-word-out worked out
    now and kept (flushed; the caller commits). Two moderators opening it at once: the
    second one's row loses to the first's unique score_id and its terms are used as they
    are."""
    found = explain_comments(session, [comment], scorer, scorer_defaults)[comment.id]
    score = current_score(comment)
    if not found.on_opening or score is None or found.label is None:
        return found
    started = time.perf_counter()
    model = leave_one_word_out(scorer, comment.body, found.label)
    values = {
        "label": found.label,
        "method": LEAVE_ONE_WORD_OUT,
        "terms": [[word, drop] for word, drop in model[:MAX_MODEL_TERMS]],
        "duration_ms": (time.perf_counter() - started) * 1000,
        "created_at": now,
    }
    # One kept for another label (the site's thresholds changed since): replaced.
    stale = session.scalar(select(ScoreExplanation).where(ScoreExplanation.score_id == score.id))
    if stale is not None:
        for name, value in values.items():
            setattr(stale, name, value)
    else:
        try:
            with session.begin_nested():
                session.add(ScoreExplanation(score_id=score.id, **values))
        except IntegrityError:
            pass  # another moderator's opening kept it first: the same terms
    terms = _combine(found.word_terms, model, found.label, LEAVE_ONE_WORD_OUT)
    return Explanation(terms, found.label, LEAVE_ONE_WORD_OUT)


@lru_cache(maxsize=512)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # As policy's: whole words, any case, a phrase across any run of spaces; longest first
    # so that a phrase wins over a word inside it.
    ordered = sorted(set(words), key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


class _Marker(HTMLParser):
    """Re-writes sanitized HTML with the terms' occurrences in text nodes wrapped in
    ``<mark>``: tags pass through as parsed, text is escaped again."""

    def __init__(self, terms: Mapping[str, Term]) -> None:
        super().__init__(convert_charrefs=True)
        self.terms = terms
        self.pattern = _word_pattern(tuple(terms))
        self.out: list[str] = []

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], end: str) -> str:
        rendered = "".join(
            f' {name}="{html.escape(value or "", quote=True)}"' for name, value in attrs
        )
        return f"<{tag}{rendered}{end}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs, ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs, " /"))

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        position = 0
        for match in self.pattern.finditer(data):
            term = self.terms[_words(match.group(0))]
            self.out.append(html.escape(data[position : match.start()], quote=False))
            self.out.append(
                f'<mark class="term term-{term.kind}" title="{html.escape(term.title)}">'
                f"{html.escape(match.group(0), quote=False)}</mark>"
            )
            position = match.end()
        self.out.append(html.escape(data[position:], quote=False))


MARKED_TAGS = rendering.ALLOWED_TAGS | {"mark"}
MARKED_ATTRIBUTES = {**rendering.ALLOWED_ATTRIBUTES, "mark": {"class", "title"}}


def mark_terms(body_html: str, terms: Sequence[Term]) -> str:
    """``body_html`` (sanitized by rendering.render_markdown) with each term's
    occurrences in its text wrapped in ``<mark class="term term-KIND" title=…>``;
    unchanged when there are no terms. The result is cleaned by nh3 again."""
    if not terms:
        return body_html
    marker = _Marker({t.word: t for t in terms})
    marker.feed(body_html)
    marker.close()
    return nh3.clean(
        "".join(marker.out),
        tags=MARKED_TAGS,
        attributes=MARKED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=rendering.LINK_REL,
        strip_comments=True,
    )
