"""Public API views: parse and validate, call one service, commit, serialize."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, json, request, url_for
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from moderation.api.openapi import build_document
from moderation.api.problems import ApiProblem, parse_body, problem
from moderation.api.schemas import (
    MAX_ID,
    CommentEditIn,
    CommentIn,
    DraftIn,
    FlagIn,
    comment_json,
    node_json,
)
from moderation.api.thread_cache import PageCache, RecentAnswers, page_key
from moderation.current_scorer import get_scorer
from moderation.db import content_commits_so_far, current_session, db, one_writer_at_a_time
from moderation.extensions import limiter, limits_warning, retry_after_seconds
from moderation.i18n import _, reader_locale, service_message
from moderation.models import Comment, Site, Thread
from moderation.services import (
    authors,
    comments,
    drafts,
    flags,
    idempotency,
    sites,
    threads,
    worker,
)
from moderation.services.errors import Conflict, DomainError, Invalid, NotFound
from moderation.types import CommentStatus, iso_utc, utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")
health_bp = Blueprint("health", __name__)

ViewT = TypeVar("ViewT", bound=Callable[..., Any])

# Authors send the token they got when posting: their own comments' key, not a password.
AUTHOR_HEADER = "X-Author-Token"


# ---------------------------------------------------------------- query arguments


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        message = _("must be an integer from %(low)s to %(high)s", low=low, high=high)
        raise ApiProblem(
            problem(422, f"{name} {message}", errors=[{"field": name, "message": message}])
        )
    return value


def _sort_arg() -> threads.Order:
    raw = request.args.get("sort", threads.Order.OLDEST.value)
    try:
        return threads.Order(raw)
    except ValueError:
        choices = ", ".join(order.value for order in threads.Order)
        message = _("must be one of: %(choices)s", choices=choices)
        raise ApiProblem(
            problem(422, f"sort {message}", errors=[{"field": "sort", "message": message}])
        ) from None


# A cursor names the last top-level comment of the page before, in the page's order:
# "after:ID" (oldest first, the form cursors had before sorting existed), "newest:ID",
# "replies:COUNT:ID" (COUNT: its visible replies then).
_CURSOR_PREFIX = {
    threads.Order.OLDEST: "after",
    threads.Order.NEWEST: "newest",
    threads.Order.REPLIES: "replies",
}


def _encode_cursor(order: threads.Order, comment_id: int, reply_count: int) -> str:
    value = f"{reply_count}:{comment_id}" if order == threads.Order.REPLIES else str(comment_id)
    raw = f"{_CURSOR_PREFIX[order]}:{value}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: threads.Order) -> tuple[int, int]:
    """The (comment id, reply count) a cursor of this order names, or a 422."""
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _sep, value = decoded.partition(":")
        count, _sep, comment_id = value.rpartition(":")
        if prefix != _CURSOR_PREFIX[order] or bool(count) != (order == threads.Order.REPLIES):
            raise ValueError(cursor)
        if not 0 <= int(comment_id) <= MAX_ID or not 0 <= int(count or 0) <= MAX_ID:
            raise ValueError(cursor)
        return int(comment_id), int(count or 0)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        message = _("is not a cursor this API returned for this sort")
        raise ApiProblem(
            problem(422, f"cursor {message}", errors=[{"field": "cursor", "message": message}])
        ) from None


# ---------------------------------------------------------------- CORS


_SITE_KEY = "moderation.api.site"


@dataclass(frozen=True)
class _SiteRef:
    """What the origin check, CORS headers and rate-limit keys need of the request's
    site: plain values read once, so that they stay readable after a rollback, or with
    the database gone (a stored comment is never answered with an error for want of
    them)."""

    slug: str
    allowed_origins: tuple[str, ...]


def _site_for_request() -> _SiteRef | None:
    """The site the request is about (by slug, or by the comment's thread), looked up
    once per request."""
    # Kept in the request's environ: `g` outlives the request when an app context was
    # already pushed (scripts, tests).
    if _SITE_KEY in request.environ:
        cached: _SiteRef | None = request.environ[_SITE_KEY]
        return cached
    args = request.view_args or {}
    site: Site | None = None
    if "site" in args:
        try:
            site = sites.cached_site(current_session(), args["site"])
        except sites.NoSuchSite:
            site = None
    elif "comment_id" in args:
        comment = db.session.get(Comment, args["comment_id"])
        site = comment.thread.site if comment is not None else None
    ref = _SiteRef(site.slug, tuple(site.allowed_origins or ())) if site is not None else None
    request.environ[_SITE_KEY] = ref
    return ref


def _own_origin() -> str:
    return request.host_url.rstrip("/")


@bp.before_request
def reject_nul() -> Response | None:
    """U+0000 in a path or query: PostgreSQL cannot compare it, so it is refused here
    with the parameters named, rather than failing in the database."""
    if any("\x00" in str(value) for value in (request.view_args or {}).values()):
        return problem(404, "not found: the path contains a NUL character")
    bad = sorted({name for name, value in request.args.items(multi=True) if "\x00" in name + value})
    if bad:
        message = "must not contain the NUL character (\\u0000)"
        return problem(
            422,
            f"invalid query parameters: {', '.join(bad)}",
            errors=[{"field": name, "message": message} for name in bad],
        )
    return None


@bp.before_request
def check_origin() -> Response | None:
    origin = request.headers.get("Origin")
    if not origin or origin == _own_origin():
        return None
    site = _site_for_request()
    if site is not None and not sites.origin_allowed(site.allowed_origins, origin):
        return problem(
            403, f"origin {origin} may not use site {site.slug!r}", kind="origin-not-allowed"
        )
    return None


@bp.after_request
def cors_headers(response: Response) -> Response:
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if not origin or origin == _own_origin():
        return response
    site = _site_for_request()
    if site is None or not sites.origin_allowed(site.allowed_origins, origin):
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    # The widget reads Retry-After to tell the writer when to try again.
    response.headers["Access-Control-Expose-Headers"] = "Location, Retry-After"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = (
            f"Content-Type, {AUTHOR_HEADER}, {idempotency.HEADER}"
        )
        response.headers["Access-Control-Max-Age"] = "600"
    return response


# ---------------------------------------------------------------- authors and rate limits


def _author_tokens() -> list[str]:
    """The tokens in X-Author-Token: comma-separated, and/or the header repeated."""
    return [
        token.strip()
        for value in request.headers.getlist(AUTHOR_HEADER)
        for token in value.split(",")
        if token.strip()
    ]


def _author_token() -> str | None:
    tokens = _author_tokens()
    return tokens[0] if tokens else None


def _edit_window() -> timedelta:
    return timedelta(seconds=current_app.config["AUTHOR_EDIT_WINDOW_SECONDS"])


def _client_and_site() -> str:
    """Rate limits count per client address and site: one noisy reader of one blog does
    not use up another blog's allowance, nor a whole office's behind one address."""
    site = _site_for_request()
    return f"{get_remote_address()}|{site.slug if site is not None else '-'}"


def _limit(setting: str, *methods: str) -> Callable[[ViewT], ViewT]:
    """The rate limit named by config ``setting`` on these methods of a view (not on its
    CORS preflight), read at request time so tests and operators can change it."""
    route_limit = limiter.limit(
        lambda: str(current_app.config[setting]),
        key_func=_client_and_site,
        methods=list(methods),
    )

    def decorate(view: ViewT) -> ViewT:
        return cast(ViewT, route_limit(view))

    return decorate


# ---------------------------------------------------------------- errors


@bp.errorhandler(ApiProblem)
def api_problem(error: ApiProblem) -> Response:
    return error.response


def _titled(response: Response, title: str) -> Response:
    body = json.loads(response.get_data())
    body["title"] = title
    response.set_data(json.dumps(body))
    return response


@bp.errorhandler(RateLimitExceeded)
def rate_limited(error: RateLimitExceeded) -> Response:
    retry_after = retry_after_seconds() or 60  # as the Retry-After header says
    return problem(
        429,
        _(
            "too many requests from your address for this site (at most %(limit)s); "
            "try again in %(seconds)s seconds",
            limit=error.description,
            seconds=retry_after,
        ),
        kind="rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Response:
    db.session.rollback()
    message = service_message(error.message)  # in the reader's language, where readers meet it
    errors = [{"field": error.field, "message": message}] if error.field else None
    if isinstance(error, NotFound):
        return problem(404, message)
    if isinstance(error, comments.NotAuthor):
        return _titled(problem(403, message, kind="not-author", errors=errors), "Not the author")
    if isinstance(error, authors.AuthorBanned):
        return _titled(problem(403, message, kind="author-banned", errors=errors), "Author banned")
    if isinstance(error, Conflict):
        return problem(409, message, errors=errors)
    if isinstance(error, Invalid):
        return problem(422, message, errors=errors)
    return problem(400, message, errors=errors)


# ---------------------------------------------------------------- routes


@health_bp.get("/healthz")
def healthz() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        current_app.logger.exception("health check: database unreachable")
        return problem(503, f"database unreachable: {type(exc).__name__}")
    if warning := limits_warning():
        # Still serving (200), with every limit counting in this process: say so.
        return {"status": "degraded", "rate_limits": warning}
    return {"status": "ok"}


@bp.post("/sites/<site>/comments")
@_limit("RATELIMIT_POST", "POST")
def create_comment(site: str) -> Any:
    session = current_session()
    site_row = sites.cached_site(session, site)  # an unknown site is a 404 whatever the body says
    key = _idempotency_key()
    data = parse_body(CommentIn)
    if data.website and data.website.strip():
        # The honeypot: only bots fill a field people never see. Answer as if accepted,
        # without a comment to show, and store nothing.
        return Response(status=204)
    now = utcnow()
    if key is not None:
        body_hash = idempotency.request_hash(request.get_data(cache=True))
        first = idempotency.first_comment(session, site_row, key, body_hash, now)
        if first is not None:
            return _replayed(first, site_row, key)
        author_token = idempotency.author_token_for(current_app.config["SECRET_KEY"], site_row, key)
    else:
        author_token = comments.new_author_token()
    # Scored before the transaction: the model's milliseconds never hold the database's
    # write lock, and the comment commits together with the policy's decision (one
    # commit per post). A comment posted despite the warning is held whatever it scores.
    scored = None if data.acknowledged_warning else _score_before_storing(data.body)
    with one_writer_at_a_time(session):
        comment = comments.submit(
            session,
            site_slug=site,
            thread_key=data.thread,
            thread_url=data.thread_url,
            thread_title=data.thread_title,
            parent_id=data.parent_id,
            author_name=data.author_name,
            author_email=data.author_email,
            body=data.body,
            ip_hash=comments.hash_ip(request.remote_addr, current_app.config["SECRET_KEY"]),
            now=now,
            max_depth=current_app.config["MAX_REPLY_DEPTH"],
            author_token=author_token,
            acknowledged_warning=data.acknowledged_warning,
            notify_replies=data.notify_replies,
            reader_language=reader_locale() if data.notify_replies else None,  # for its mails
            scores=scored.scores if scored is not None else None,
            scorer=get_scorer(),
            scoring_ms=scored.duration_ms if scored is not None else 0.0,
        )
        # The answer is read before the commit and the commit is the last thing that may
        # fail: from then on nothing turns a stored comment into an error (the writer
        # would post it again).
        body = comment_json(comment)
        location = url_for("api.get_comment", comment_id=comment.id)
        editable_until = iso_utc(comment.created_at + _edit_window())
        try:
            if key is not None:
                idempotency.remember(session, site_row, key, body_hash, comment, now)
            db.session.commit()
        except IntegrityError:
            # The same key, at the same moment, from a retry that overtook its first
            # try: the other request stored the comment; answer with it.
            db.session.rollback()
            if key is None:
                raise
            first = idempotency.first_comment(session, site_row, key, body_hash, now)
            if first is None:
                raise
            return _replayed(first, site_row, key)
    # From the answer and the request, not the committed row: reading the row again is a
    # query, and a database lost at this moment must not turn a stored comment into a 503.
    if body["status"] == CommentStatus.HELD and data.acknowledged_warning:
        body = _score_after_commit(comment, body)  # the model's opinion, for the moderator
    body["author_token"] = author_token
    body["editable_until"] = editable_until
    status = 201 if body["status"] == CommentStatus.VISIBLE else 202
    return body, status, {"Location": location}


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key, checked; None without one."""
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return None
    try:
        return idempotency.check_key(key)
    except idempotency.BadKey as error:
        raise ApiProblem(problem(400, error.message, errors=[
            {"field": idempotency.HEADER, "message": error.message}])) from None  # fmt: skip


def _replayed(comment: Comment, site: Site, key: str) -> Any:
    """The answer to a retry: the comment the first request with this key stored, as it
    stands now, with the same author token."""
    body = comment_json(comment)
    body["author_token"] = idempotency.author_token_for(current_app.config["SECRET_KEY"], site, key)
    body["editable_until"] = iso_utc(comment.created_at + _edit_window())
    status = 201 if comment.status == CommentStatus.VISIBLE else 202
    location = url_for("api.get_comment", comment_id=comment.id)
    return body, status, {"Location": location, "Idempotent-Replayed": "true"}


def _score_before_storing(text: str) -> worker.InlineScores | None:
    """The model's scores for a comment about to be stored, within SCORE_BUDGET_MS; None
    (the comment is stored pending and the worker scores it) when that was not possible."""
    try:
        return worker.score_text(get_scorer(), text, current_app.config["SCORE_BUDGET_MS"])
    except Exception:
        current_app.logger.exception("inline scoring failed; the worker will score it")
        return None


def _score_after_commit(comment: Comment, answer: dict[str, Any]) -> dict[str, Any]:
    """Score a just-committed comment within the budget: a pending one is decided by the
    policy (else the worker does it); a held one (posted despite the warning) only gets
    its score recorded for the moderator. Returns the comment's answer as it stands
    after that, or ``answer`` (read before the commit) if anything here failed."""
    budget_ms = current_app.config["SCORE_BUDGET_MS"]
    try:
        if comment.status == CommentStatus.PENDING:
            if worker.score_inline(current_session(), comment, get_scorer(), budget_ms):
                db.session.commit()
        elif comment.status == CommentStatus.HELD and comment.acknowledged_warning:
            if comments.score_held_comment(
                current_session(), comment, get_scorer(), budget_ms, utcnow()
            ):
                db.session.commit()
        db.session.refresh(comment)
        return comment_json(comment)
    except IntegrityError:  # someone recorded a score first: theirs stands
        db.session.rollback()
    except Exception:
        # The comment is stored already: whatever went wrong here (a locked database, a
        # model error, the database gone), the writer gets their 202 and the worker
        # scores it. A 500 would make them post it again.
        current_app.logger.exception("inline scoring of comment %s failed", answer["id"])
        db.session.rollback()
    return answer


@bp.post("/sites/<site>/comments/check")
@_limit("RATELIMIT_CHECK", "POST")
def check_draft(site: str) -> Any:
    site_row = sites.cached_site(current_session(), site)
    data = parse_body(DraftIn)
    try:
        result = drafts.check_draft(
            site_row,
            data.body,
            get_scorer(),
            current_app.config["DRAFT_CHECK_BUDGET_MS"],
            current_app.config["DRAFT_WARN_THRESHOLDS"],
        )
    except drafts.DraftNotChecked as exc:
        return problem(503, f"the draft could not be checked ({exc}); post it as usual",
                       kind="not-checked")  # fmt: skip
    return {
        "warning": result.warning,
        "concerns": [
            {"label": c.label, "guideline": service_message(c.guideline)} for c in result.concerns
        ],
    }


@bp.get("/sites/<site>/comments")
def list_comments(site: str) -> Any:
    site_row = sites.cached_site(current_session(), site)
    key = request.args.get("thread", "").strip()
    if not key:
        message = "is required: the thread's key"
        raise ApiProblem(
            problem(422, f"thread {message}", errors=[{"field": "thread", "message": message}])
        )
    limit = _int_arg("limit", 50, 1, 500)
    order = _sort_arg()
    cursor = request.args.get("cursor")
    after_id, after_replies = _decode_cursor(cursor, order) if cursor else (None, 0)
    try:
        thread = threads.get_thread(current_session(), site_row, key)
    except NotFound:
        # A page nobody has commented on yet: an empty thread, not an error, so a widget
        # on a new post shows "no comments yet" without a failed request.
        return {
            "thread": {
                "key": key,
                "url": None,
                "title": None,
                "comment_count": 0,
                "closed": False,
            },
            "comments": [],
            "next_cursor": None,
        }
    own = comments.author_token_hashes(_author_tokens())
    if own:  # the author's own waiting comments are theirs alone: never cached
        return _thread_page(thread, limit, after_id, own, order, after_replies)
    # The version is read before the page is rendered: a change landing in between makes
    # the page newer than its key says, never older, and the next read has a new key.
    key = page_key(
        current_app.extensions["moderation.cache_namespace"],
        site_row.slug,
        thread.id,
        thread.key,
        thread.created_at,
        thread.url,
        thread.title,
        threads.version(current_session(), thread),
        limit,
        after_id,
        order.value,  # each order is its own page, with its own ETag
        after_replies,
    )
    etag = f'"{key}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.if_none_match.contains_weak(key):
        return Response(status=304, headers=headers)
    cache: PageCache = current_app.extensions["moderation.thread_cache"]
    body = cache.get(key)
    if body is None:
        # Flask's own JSON response, so the cached bytes are what the view returned before.
        rendered = cast(
            Response,
            current_app.json.response(
                _thread_page(thread, limit, after_id, (), order, after_replies)
            ),
        )
        body = rendered.get_data()
        cache.put(key, body)
    return Response(body, mimetype="application/json", headers=headers)


def _thread_page(
    thread: Thread,
    limit: int,
    after_id: int | None,
    own: list[str] | tuple[()],
    order: threads.Order,
    after_replies: int,
) -> dict[str, Any]:
    page = threads.tree(current_session(), thread, limit, after_id, order, after_replies)
    page = comments.include_own_comments(current_session(), page, after_id, own)
    return {
        "thread": {
            "key": page.thread.key,
            "url": page.thread.url,
            "title": page.thread.title,
            "comment_count": page.comment_count,
            "closed": page.thread.closed,
        },
        "comments": [node_json(root) for root in page.roots],
        "next_cursor": (
            _encode_cursor(order, page.next_cursor, page.next_reply_count)
            if page.next_cursor is not None
            else None
        ),
    }


@bp.get("/comments/<int:comment_id>")
def get_comment(comment_id: int) -> Any:
    own = comments.author_token_hashes(_author_tokens())
    return comment_json(comments.get_comment_for_reader(current_session(), comment_id, own))


@bp.patch("/comments/<int:comment_id>")
@_limit("RATELIMIT_POST", "PATCH")
def edit_comment(comment_id: int) -> Any:
    if current_session().get(Comment, comment_id) is None:
        raise NotFound(f"no comment {comment_id}")
    data = parse_body(CommentEditIn)
    comment = comments.edit_by_author(
        current_session(),
        comment_id,
        author_token=_author_token(),
        body=data.body,
        acknowledged_warning=data.acknowledged_warning,
        now=utcnow(),
        window=_edit_window(),
    )
    answer = comment_json(comment)
    db.session.commit()
    return _score_after_commit(comment, answer)


@bp.delete("/comments/<int:comment_id>")
@_limit("RATELIMIT_POST", "DELETE")
def delete_comment(comment_id: int) -> Any:
    comments.delete_by_author(
        current_session(),
        comment_id,
        author_token=_author_token(),
        now=utcnow(),
        window=_edit_window(),
    )
    db.session.commit()
    return Response(status=204)


@bp.post("/comments/<int:comment_id>/flags")
@_limit("RATELIMIT_FLAG", "POST")
def flag_comment(comment_id: int) -> Any:
    comments.get_visible_comment(current_session(), comment_id)
    data = parse_body(FlagIn)
    flag = flags.flag_comment(
        current_session(),
        comment_id,
        data.reason,
        data.note or None,
        comments.hash_ip(request.remote_addr, current_app.config["SECRET_KEY"]),
        utcnow(),
    )
    db.session.commit()
    return {
        "id": flag.id,
        "comment_id": comment_id,
        "reason": flag.reason.value,
        "created_at": iso_utc(flag.created_at),
    }, 201


@bp.get("/sites/<site>/counts")
def thread_counts(site: str) -> Any:
    keys = [k for k in request.args.getlist("thread") if k.strip()]
    # Blogs ask for the same pages' counts over and over (every view of an index page):
    # the answer is kept until the next commit that writes comments, threads or sites, in
    # this process or (`make run`) the server's other one (RecentAnswers). An entry
    # exists only for a site that did (deleting it commits), and for valid keys.
    recent: RecentAnswers = current_app.extensions["moderation.recent_counts"]
    cache_key = (current_app.extensions["moderation.cache_namespace"], site, tuple(keys))
    commits = content_commits_so_far()
    body = recent.get(cache_key, commits)
    if body is None:
        site_row = sites.cached_site(current_session(), site)  # unknown: 404 before all else
        if not keys:
            message = "is required, once per thread: ?thread=a&thread=b"
            raise ApiProblem(
                problem(422, f"thread {message}", errors=[{"field": "thread", "message": message}])
            )
        if len(keys) > 200:
            message = "at most 200 threads per request"
            raise ApiProblem(
                problem(422, message, errors=[{"field": "thread", "message": message}])
            )
        counts = threads.counts(current_session(), site_row, keys)
        body = cast(Response, current_app.json.response({"counts": counts})).get_data()
        recent.put(cache_key, commits, body)
    etag = hashlib.blake2b(body, digest_size=16).hexdigest()
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, headers=headers)
    return Response(body, mimetype="application/json", headers=headers)


@bp.get("/openapi.json")
def openapi() -> Any:
    return build_document(request.host_url.rstrip("/"))
