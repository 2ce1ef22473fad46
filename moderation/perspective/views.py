"""The Perspective-compatible API (Google's ``commentanalyzer`` ``v1alpha1``): parse the
request as Perspective's clients send it, call one service, commit, answer in Perspective's
shape. Every error is Google's ``{"error": {"code", "message", "status"}}``."""

from __future__ import annotations

import threading
from fractions import Fraction
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, json, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from werkzeug.exceptions import HTTPException

from moderation.current_scorer import get_scorer
from moderation.db import current_session, db
from moderation.extensions import limiter
from moderation.models import ScoringKey
from moderation.perspective.discovery import VERSION, build_document
from moderation.scoring import Scorer
from moderation.scoring.coalescing import CoalescingScorer
from moderation.services import perspective
from moderation.services.errors import DomainError, NotFound
from moderation.types import utcnow

bp = Blueprint("perspective", __name__, url_prefix="/perspective")

# google.rpc.Code names for the HTTP statuses this API answers with.
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
MISSING_KEY = "The request is missing a valid API key."
SCORER_EXTENSION = "moderation.perspective.scorer"
_sqlite_commit_lock = threading.Lock()
KEY_ENVIRON = "moderation.perspective.key"
_scorer_lock = threading.Lock()

ModelT = TypeVar("ModelT", bound=BaseModel)


def google_error(code: int, message: str) -> Response:
    """Google's JSON error body, as its client libraries parse it."""
    body = {"error": {"code": code, "message": message,
                      "status": GOOGLE_STATUS.get(code, "UNKNOWN")}}  # fmt: skip
    return Response(json.dumps(body), status=code, mimetype="application/json")


class GoogleError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- request bodies


class _Message(BaseModel):
    # Google's JSON mapping accepts lowerCamelCase and the proto's snake_case names;
    # fields this service does not use are ignored, as Perspective's clients send some.
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="ignore"
    )


class TextEntryIn(_Message):
    text: str | None = None
    type: str | None = None


class ContextIn(_Message):
    entries: list[TextEntryIn] | None = None


class AttributeParametersIn(_Message):
    score_type: str | None = None
    score_threshold: float | None = None


class AnalyzeIn(_Message):
    comment: TextEntryIn | None = None
    requested_attributes: dict[str, AttributeParametersIn | None] | None = None
    languages: list[str] | None = None
    do_not_store: bool | None = None
    span_annotations: bool | None = None
    drop_unsupported_attributes: bool | None = None
    client_token: str | None = None
    community_id: str | None = None
    session_id: str | None = None
    context: ContextIn | None = None


class ScoreIn(_Message):
    value: float | None = None
    type: str | None = None


class AttributeScoresIn(_Message):
    summary_score: ScoreIn | None = None


class SuggestIn(_Message):
    comment: TextEntryIn | None = None
    attribute_scores: dict[str, AttributeScoresIn | None] | None = None
    languages: list[str] | None = None
    client_token: str | None = None
    community_id: str | None = None
    session_id: str | None = None
    context: ContextIn | None = None


def parse_body(model: type[ModelT]) -> ModelT:
    """The JSON body as ``model``, whatever its Content-Type (curl's default included),
    or a GoogleError naming what is wrong."""
    raw = request.get_data(cache=True)  # RequestEntityTooLarge past MAX_CONTENT_LENGTH
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise GoogleError(400, f"Invalid JSON payload received: {exc}") from None
    if not isinstance(payload, dict):
        raise GoogleError(400, "Invalid JSON payload received: the body must be an object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = [
            f"Invalid value at '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}"
            for e in exc.errors()
        ]
        raise GoogleError(400, "; ".join(problems)) from None


def comment_text(entry: TextEntryIn | None) -> str | None:
    if entry is None:
        return None
    if entry.type not in (None, "PLAIN_TEXT", "TEXT_TYPE_UNSPECIFIED"):
        raise GoogleError(400, f"comment.type {entry.type} is not supported: send PLAIN_TEXT")
    return entry.text


# ---------------------------------------------------------------- keys and rate limits


def _key_text() -> str:
    return (request.args.get("key") or request.headers.get("X-Goog-Api-Key") or "").strip()


def request_key() -> ScoringKey | None:
    """The active scoring key the request names, looked up once per request (the rate
    limiter asks before the view does)."""
    # Kept with the request itself: ``g`` outlives a request when an app context was
    # already pushed (tests, CLI), and a key must never carry over to the next request.
    environ = request.environ
    if KEY_ENVIRON not in environ:
        text = _key_text()
        environ[KEY_ENVIRON] = perspective.find_key(current_session(), text) if text else None
    key: ScoringKey | None = environ[KEY_ENVIRON]
    return key


def require_key() -> ScoringKey:
    if not _key_text():
        raise GoogleError(403, MISSING_KEY)
    key = request_key()
    if key is None:
        return perspective.verify_key(current_session(), _key_text())  # raises KeyNotValid
    return key


def rate_limit_string(rate_per_second: float) -> str:
    """A rate as a Flask-Limiter limit: 10/s -> "10 per 1 second", 0.5/s -> "1 per 2
    second", 0.03/s -> "3 per 100 second"."""
    fraction = Fraction(rate_per_second).limit_denominator(1000)
    return f"{max(fraction.numerator, 1)} per {fraction.denominator} second"


def rate_limit() -> str:
    """The request's key's rate; requests without a valid key share the default rate per
    client IP address."""
    key = request_key()
    rate = key.rate_per_second if key is not None else perspective.DEFAULT_RATE_PER_SECOND
    return rate_limit_string(rate)


def rate_limit_key() -> str:
    key = request_key()
    return (
        f"perspective-key:{key.id}" if key is not None else f"perspective-ip:{get_remote_address()}"
    )


# analyze and suggestscore draw on one budget per key.
per_key_limit = limiter.shared_limit(rate_limit, scope="perspective", key_func=rate_limit_key)


def scorer() -> Scorer:
    """The running scorer; with PERSPECTIVE_BATCHING, behind one CoalescingScorer per
    process, whose thread merges concurrent requests into one model call."""
    extensions = current_app.extensions
    if SCORER_EXTENSION not in extensions:
        with _scorer_lock:
            if SCORER_EXTENSION not in extensions:
                base = get_scorer()
                config = current_app.config
                extensions[SCORER_EXTENSION] = (
                    CoalescingScorer(base, int(config.get("PERSPECTIVE_MAX_BATCH", 64)))
                    if config.get("PERSPECTIVE_BATCHING", False)
                    else base
                )
    chosen: Scorer = extensions[SCORER_EXTENSION]
    return chosen


def commit() -> None:
    """Commit the request's writes (the key's count, feedback rows). On SQLite, one request
    thread of this process at a time: SQLite makes a blocked writer sleep and retry in
    steps of up to 100 ms, which at 8 concurrent clients made the p99 latency ~350 ms;
    waiting here instead wakes the next writer as soon as the previous one is done."""
    if db.session.get_bind().dialect.name == "sqlite":
        with _sqlite_commit_lock:
            db.session.commit()
    else:
        db.session.commit()


# ---------------------------------------------------------------- errors


@bp.errorhandler(GoogleError)
def google_error_raised(error: GoogleError) -> Response:
    db.session.rollback()
    return google_error(error.code, error.message)


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Response:
    db.session.rollback()
    return google_error(404 if isinstance(error, NotFound) else 400, error.message)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    db.session.rollback()
    if isinstance(error, RateLimitExceeded):
        return google_error(429, f"Quota exceeded for this API key: {error.limit.limit} requests")
    if error.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return google_error(400, f"Request payload size exceeds the limit: {limit} bytes.")
    return google_error(error.code or 500, error.description or error.name)


# ---------------------------------------------------------------- routes


def _score_json(value: float) -> dict[str, Any]:
    return {"value": value, "type": "PROBABILITY"}


@bp.post(f"/{VERSION}/comments:analyze")
@per_key_limit
def analyze() -> Any:
    key = require_key()
    data = parse_body(AnalyzeIn)
    attributes = {
        attr: perspective.AttributeRequest(
            score_threshold=params.score_threshold if params else None,
            score_type=params.score_type if params else None,
        )
        for attr, params in (data.requested_attributes or {}).items()
    }
    analysis = perspective.analyze(
        current_session(),
        key,
        scorer(),
        text=comment_text(data.comment),
        attributes=attributes,
        languages=data.languages,
        span_annotations=bool(data.span_annotations),
        drop_unsupported=bool(data.drop_unsupported_attributes),
        do_not_store=bool(data.do_not_store),
        community_id=data.community_id,
        now=utcnow(),
    )
    commit()
    body: dict[str, Any] = {
        "attributeScores": {
            attr: {
                "summaryScore": _score_json(score.summary),
                "spanScores": [
                    {"begin": span.begin, "end": span.end, "score": _score_json(span.value)}
                    for span in score.spans
                ],
            }
            for attr, score in analysis.scores.items()
        },
        "languages": analysis.languages,
        # No language detection here: what was detected is always nothing.
        "detectedLanguages": [],
    }
    if data.client_token is not None:
        body["clientToken"] = data.client_token
    return body


@bp.post(f"/{VERSION}/comments:suggestscore")
@per_key_limit
def suggestscore() -> Any:
    key = require_key()
    data = parse_body(SuggestIn)
    suggestions = {
        attr: scores.summary_score.value if scores and scores.summary_score else None
        for attr, scores in (data.attribute_scores or {}).items()
    }
    perspective.suggest_scores(
        current_session(),
        key,
        scorer(),
        text=comment_text(data.comment),
        suggestions=suggestions,
        community_id=data.community_id,
        client_token=data.client_token,
        now=utcnow(),
    )
    commit()
    return {"clientToken": data.client_token} if data.client_token is not None else {}


@bp.get("/$discovery/rest")
def discovery_document() -> Any:
    version = request.args.get("version", VERSION)
    if version != VERSION:
        raise GoogleError(
            404, f"Discovery document not found for API service: commentanalyzer {version}"
        )
    return build_document(request.root_url)


@bp.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(path: str) -> Any:
    # An endpoint typed a little wrong gets an answer its client can parse and act on.
    prefix = f"{request.script_root}/perspective"
    raise GoogleError(
        404,
        f"Method not found: {request.method} {request.path}. This service answers POST "
        f"{prefix}/{VERSION}/comments:analyze and {prefix}/{VERSION}/comments:suggestscore",
    )
