"""The Perspective-compatible scoring API's domain: Google's attribute names on our scorer's
labels, scoring API keys (only their sha256 is kept), per-key request counts, and the
scores clients suggest (Coral's moderators' decisions) kept as labelled feedback.

Analyzed texts are not stored (only ``ScoringKey.request_count`` grows) unless the key's
site opted in with ``store_analyzed_text`` and the request did not ask ``doNotStore``."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.orm import Session

from moderation.models import AnalyzedText, ScoreFeedback, ScoringKey, Site
from moderation.scoring import Scorer
from moderation.services.errors import DomainError, Invalid, NotFound
from moderation.services.sites import get_site

# Perspective's attribute -> our scorer's label (Detoxify's names).
ATTRIBUTE_LABELS: Mapping[str, str] = {
    "TOXICITY": "toxicity",
    "SEVERE_TOXICITY": "severe_toxicity",
    "IDENTITY_ATTACK": "identity_attack",
    "INSULT": "insult",
    "PROFANITY": "obscene",
    "THREAT": "threat",
    "SEXUALLY_EXPLICIT": "sexual_explicit",
}
# Detoxify's multilingual model was trained on these; every other model on English only.
MULTILINGUAL_LANGUAGES = ("en", "fr", "es", "it", "pt", "tr", "ru")
ENGLISH_ONLY = ("en",)
# Perspective's own limit on comment.text.
MAX_TEXT_BYTES = 20 * 1024
DEFAULT_RATE_PER_SECOND = 10.0
# Older Coral versions (v5) suggest {APPROVED: 1} or {DELETED: 1} instead of a score on
# the model's attribute: a moderator's approval says "not toxic", a deletion "toxic".
LEGACY_DECISIONS: Mapping[str, bool] = {"APPROVED": False, "DELETED": True}
PROBABILITY_TYPES = (None, "", "PROBABILITY", "SCORE_TYPE_UNSPECIFIED")
KEY_PREFIX = "msk_"

_SENTENCE = re.compile(r"\S.*?(?:[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|\Z)|(?=\n)|\Z)", re.S)


class KeyNotValid(DomainError):
    """The API key is unknown or revoked (Google answers 400 "API key not valid")."""


# ---------------------------------------------------------------- attributes, languages


def offered_attributes(scorer: Scorer) -> dict[str, str]:
    """The Perspective attributes the running scorer can answer, each with its label."""
    return {attr: label for attr, label in ATTRIBUTE_LABELS.items() if label in scorer.labels}


def supported_languages(scorer: Scorer) -> tuple[str, ...]:
    """The languages the running model was trained on (ISO 639-1)."""
    # Detoxify and its ONNX exports carry the model type first in their version.
    if scorer.name in ("detoxify", "onnx") and scorer.version.startswith("multilingual"):
        return MULTILINGUAL_LANGUAGES
    return ENGLISH_ONLY


def normalize_language(code: str) -> str:
    """ISO or BCP-47 code to its primary language subtag: ``en-US`` and ``EN`` -> ``en``."""
    return re.split(r"[-_]", code.strip(), maxsplit=1)[0].lower()


def check_languages(scorer: Scorer, languages: Sequence[str] | None) -> list[str]:
    """The requested languages, normalized; Invalid names every one the model lacks.
    Without languages the comment is taken to be English: there is no detection."""
    if not languages:
        return ["en"]
    normalized = list(dict.fromkeys(normalize_language(code) for code in languages))
    supported = supported_languages(scorer)
    missing = [code for code in normalized if code not in supported]
    if missing:
        raise Invalid(
            f"language not supported: {', '.join(missing)}; the running model "
            f"({scorer.name}) supports {', '.join(supported)}",
            field="languages",
        )
    return normalized


def resolve_attributes(
    scorer: Scorer, requested: Sequence[str], drop_unsupported: bool = False
) -> dict[str, str]:
    """Requested attribute -> our label. An attribute the model does not offer is an
    Invalid naming it and what is offered, or is left out with ``drop_unsupported``."""
    if not requested:
        raise Invalid("requestedAttributes must name at least one attribute",
                      field="requestedAttributes")  # fmt: skip
    offered = offered_attributes(scorer)
    unknown = [attr for attr in requested if attr not in offered]
    if unknown and not drop_unsupported:
        raise Invalid(
            f"unknown attribute: {', '.join(unknown)}; the running model ({scorer.name}) "
            f"offers {', '.join(offered)}",
            field="requestedAttributes",
        )
    return {attr: offered[attr] for attr in requested if attr in offered}


def check_text(text: str | None, field_name: str = "comment.text") -> str:
    """The comment's text; Invalid when it is missing, empty or over 20 KB (UTF-8)."""
    if not text:
        raise Invalid(f"{field_name} is required: the comment to score", field=field_name)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise Invalid(
            f"{field_name} is too long: {size} bytes, at most {MAX_TEXT_BYTES} (20 KB) in UTF-8",
            field=field_name,
        )
    return text


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(begin, end) character offsets of each sentence: text up to ., !, ? or … followed
    by whitespace, or up to a line break; surrounding whitespace is not part of a span."""
    spans = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group().rstrip()
        spans.append((match.start(), match.start() + len(sentence)))
    return spans


# ---------------------------------------------------------------- analyze


@dataclass(frozen=True)
class AttributeRequest:
    """One entry of ``requestedAttributes``: ``score_threshold`` drops the attribute (and
    spans) scored below it."""

    score_threshold: float | None = None
    score_type: str | None = None


@dataclass(frozen=True)
class SpanScore:
    begin: int
    end: int
    value: float


@dataclass(frozen=True)
class AttributeScore:
    summary: float
    spans: list[SpanScore]


@dataclass(frozen=True)
class Analysis:
    scores: dict[str, AttributeScore]  # attribute -> score, below-threshold ones left out
    languages: list[str]


def analyze(
    session: Session,
    key: ScoringKey,
    scorer: Scorer,
    *,
    text: str | None,
    attributes: Mapping[str, AttributeRequest],
    languages: Sequence[str] | None = None,
    span_annotations: bool = False,
    drop_unsupported: bool = False,
    do_not_store: bool = False,
    community_id: str | None = None,
    now: datetime,
) -> Analysis:
    """Score ``text`` for the requested Perspective attributes with ``scorer`` and count
    the request on ``key`` (written at the caller's commit). The text is kept, with its
    scores, only when the key's site opted in and the client did not say ``do_not_store``.
    With ``span_annotations`` each sentence is scored as its own span; otherwise one span
    covers the whole text. Raises Invalid for a missing or too long text, an unknown
    attribute, an unsupported language or score type, or a threshold outside 0..1."""
    text = check_text(text)
    for attr, params in attributes.items():
        if params.score_type not in PROBABILITY_TYPES:
            raise Invalid(
                f"requestedAttributes.{attr}.scoreType {params.score_type} is not supported: "
                "this service returns PROBABILITY scores",
                field=f"requestedAttributes.{attr}.scoreType",
            )
        threshold = params.score_threshold
        if threshold is not None and not 0 <= threshold <= 1:
            raise Invalid(
                f"requestedAttributes.{attr}.scoreThreshold must be from 0 to 1",
                field=f"requestedAttributes.{attr}.scoreThreshold",
            )
    labels = resolve_attributes(scorer, list(attributes), drop_unsupported)
    checked_languages = check_languages(scorer, languages)

    spans = sentence_spans(text) if span_annotations else []
    whole_text_only = len(spans) <= 1
    texts = [text] if whole_text_only else [text] + [text[b:e] for b, e in spans]
    results = scorer.score(texts)
    summary_scores, span_results = results[0], results[1:]
    if whole_text_only:
        spans, span_results = [(0, len(text))], [summary_scores]

    scores: dict[str, AttributeScore] = {}
    for attr, label in labels.items():
        threshold = attributes[attr].score_threshold
        summary = summary_scores[label]
        if threshold is not None and summary < threshold:
            continue
        attr_spans = [
            SpanScore(begin, end, result[label])
            for (begin, end), result in zip(spans, span_results, strict=True)
            if threshold is None or result[label] >= threshold
        ]
        scores[attr] = AttributeScore(summary, attr_spans)

    count_request(session, key, now)
    if key.site.store_analyzed_text and not do_not_store:
        session.add(
            AnalyzedText(
                site_id=key.site_id,
                key_id=key.id,
                text=text,
                scores={attr: summary_scores[label] for attr, label in labels.items()},
                community_id=community_id,
                created_at=now,
            )
        )
    return Analysis(scores, checked_languages)


def count_request(session: Session, key: ScoringKey, now: datetime) -> None:
    """One more request on ``key``. The increment is SQL (``request_count + 1``), so
    concurrent requests all count. Not flushed here: the write then happens inside the
    caller's commit, which keeps SQLite's write lock for the shortest time."""
    session.add(key)
    key.request_count = ScoringKey.request_count + 1
    key.last_used_at = now


# ---------------------------------------------------------------- keys


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.strip().encode()).hexdigest()


def create_key(
    session: Session,
    site_slug: str,
    name: str,
    rate_per_second: float = DEFAULT_RATE_PER_SECOND,
    *,
    now: datetime,
) -> tuple[ScoringKey, str]:
    """A new scoring API key for the site: the row (holding only the key's sha256) and
    the key itself, which exists nowhere else and must be shown to the admin now."""
    site = get_site(session, site_slug)
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("name must be 1 to 100 characters", field="name")
    if not 0 < rate_per_second <= 10_000:
        raise Invalid("rate must be more than 0 and at most 10000 requests per second",
                      field="rate_per_second")  # fmt: skip
    plaintext = KEY_PREFIX + secrets.token_urlsafe(30)
    key = ScoringKey(
        site_id=site.id,
        name=name,
        key_hash=hash_key(plaintext),
        rate_per_second=float(rate_per_second),
        request_count=0,
        created_at=now,
    )
    session.add(key)
    session.flush()
    return key, plaintext


def find_key(session: Session, plaintext: str) -> ScoringKey | None:
    """The active (not revoked) key with this text, or None."""
    if not plaintext.strip():
        return None
    return session.scalar(
        select(ScoringKey).where(
            ScoringKey.key_hash == hash_key(plaintext), ScoringKey.revoked_at.is_(None)
        )
    )


def verify_key(session: Session, plaintext: str) -> ScoringKey:
    """The active key with this text, or KeyNotValid (unknown and revoked alike)."""
    key = find_key(session, plaintext)
    if key is None:
        raise KeyNotValid("API key not valid. Please pass a valid API key.", field="key")
    return key


def list_keys(session: Session, site_slug: str | None = None) -> list[ScoringKey]:
    """Every key (revoked ones too), oldest first, of one site or of all."""
    query = select(ScoringKey).join(Site).order_by(ScoringKey.id)
    if site_slug is not None:
        query = query.where(Site.id == get_site(session, site_slug).id)
    return list(session.scalars(query))


def revoke_key(session: Session, key_id: int, *, now: datetime) -> ScoringKey:
    """Revoke the key: requests with it are refused from now on. Revoking twice keeps
    the first time."""
    key = session.get(ScoringKey, key_id)
    if key is None:
        raise NotFound(f"no scoring key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = now
    session.flush()
    return key


# ---------------------------------------------------------------- feedback


def suggest_scores(
    session: Session,
    key: ScoringKey,
    scorer: Scorer,
    *,
    text: str | None,
    suggestions: Mapping[str, float | None],
    community_id: str | None = None,
    client_token: str | None = None,
    now: datetime,
) -> list[ScoreFeedback]:
    """Keep a client's suggested scores for ``text`` (e.g. 0 for a comment Coral's
    moderators approved, 1 for one they rejected) as feedback for the key's site, one row
    per attribute, each with our model's own score for comparison (None when the running
    model lacks the attribute), and count the request; written at the caller's commit.
    Raises Invalid for a missing text or attribute, an attribute Perspective does not
    define, or a value outside 0..1."""
    text = check_text(text)
    if not suggestions:
        raise Invalid("attributeScores must hold at least one attribute",
                      field="attributeScores")  # fmt: skip
    for name, given in (("communityId", community_id), ("clientToken", client_token)):
        if given is not None and len(given) > 255:
            raise Invalid(f"{name} must be at most 255 characters", field=name)
    normalized: dict[str, float] = {}
    for attr, value in suggestions.items():
        where = f"attributeScores.{attr}.summaryScore.value"
        if value is None:
            raise Invalid(f"{where} is required", field=where)
        if not 0 <= value <= 1:
            raise Invalid(f"{where} must be from 0 to 1", field=where)
        if attr in LEGACY_DECISIONS:
            attr, value = "TOXICITY", value if LEGACY_DECISIONS[attr] else 1 - value
        elif attr not in ATTRIBUTE_LABELS:
            raise Invalid(
                f"unknown attribute: {attr}; one of {', '.join(ATTRIBUTE_LABELS)}",
                field="attributeScores",
            )
        normalized[attr] = float(value)

    offered = offered_attributes(scorer)
    [model_scores] = scorer.score([text])
    rows = []
    for attr, value in normalized.items():
        label = offered.get(attr)
        row = ScoreFeedback(
            site_id=key.site_id,
            key_id=key.id,
            text=text,
            attribute=attr,
            value=value,
            model_value=model_scores[label] if label else None,
            community_id=community_id,
            client_token=client_token,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    count_request(session, key, now)
    return rows


@dataclass(frozen=True)
class Agreement:
    """Suggestions and how often the model agreed: both call the text toxic (suggested
    value ≥ 0.5, model ≥ the threshold) or both not."""

    count: int  # suggestions stored
    compared: int  # of those, with a model score to compare
    agreed: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


@dataclass(frozen=True)
class FeedbackSummary:
    total: Agreement
    by_attribute: dict[str, Agreement] = field(default_factory=dict)


def feedback_summary(session: Session, site_id: int, threshold: float = 0.5) -> FeedbackSummary:
    """The site's stored suggestions and the model's agreement with them, overall and per
    attribute, for the moderators' dashboard. A suggestion of 0.5 or more says "toxic"
    (Coral sends 0 or 1); the model says "toxic" at ``threshold`` or more."""
    model, suggested = ScoreFeedback.model_value, ScoreFeedback.value
    agreed = case(
        (and_(suggested >= 0.5, model >= threshold), 1),
        (and_(suggested < 0.5, model < threshold), 1),
        else_=0,
    )
    rows = session.execute(
        select(
            ScoreFeedback.attribute,
            func.count(ScoreFeedback.id),
            func.count(ScoreFeedback.model_value),
            func.coalesce(func.sum(cast(agreed, Float)), 0),
        )
        .where(ScoreFeedback.site_id == site_id)
        .group_by(ScoreFeedback.attribute)
        .order_by(ScoreFeedback.attribute)
    ).all()
    by_attribute = {
        attr: Agreement(int(count), int(compared), int(agreed_count))
        for attr, count, compared, agreed_count in rows
    }
    total = Agreement(
        sum(a.count for a in by_attribute.values()),
        sum(a.compared for a in by_attribute.values()),
        sum(a.agreed for a in by_attribute.values()),
    )
    return FeedbackSummary(total, by_attribute)
