"""Public API views: parse and validate, call one service, commit, serialize."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, json, request, url_for
from pydantic import BaseModel, ValidationError
from sqlalchemy import text

from moderation.api.problems import problem
from moderation.api.schemas import CommentIn, FlagIn
from moderation.db import current_session, db
from moderation.models import Comment, Site
from moderation.runtime import get_scorer
from moderation.services import comments, flags, sites, threads, worker
from moderation.services.errors import Conflict, DomainError, Invalid, NotFound
from moderation.services.threads import Node
from moderation.types import CommentStatus, utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")
health_bp = Blueprint("health", __name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiProblem(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


# ---------------------------------------------------------------- parsing


def _field_message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "enum":
        return f"must be one of: {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return "is not a valid email address"
    return str(error["msg"])


def parse_body(model: type[ModelT]) -> ModelT:
    """The request's JSON body validated as ``model``, or an ApiProblem (415, 400, 413, 422)."""
    if not request.is_json:
        raise ApiProblem(problem(415, "send the request body as application/json"))
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise ApiProblem(problem(400, f"the body is not valid JSON: {exc}")) from None
    if not isinstance(payload, dict):
        raise ApiProblem(problem(400, "the body must be a JSON object"))
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"]) or "body",
                "message": _field_message(e),
            }
            for e in exc.errors()
        ]
        names = ", ".join(sorted({e["field"] for e in errors}))
        raise ApiProblem(problem(422, f"invalid fields: {names}", errors=errors)) from None


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        message = f"must be an integer from {low} to {high}"
        raise ApiProblem(
            problem(422, f"{name} {message}", errors=[{"field": name, "message": message}])
        )
    return value


def _encode_cursor(comment_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{comment_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = decoded.partition(":")
        if prefix != "after":
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        message = "is not a cursor this API returned"
        raise ApiProblem(
            problem(422, f"cursor {message}", errors=[{"field": "cursor", "message": message}])
        ) from None


# ---------------------------------------------------------------- serializing


def _timestamp(comment: Comment) -> str:
    return comment.created_at.isoformat().replace("+00:00", "Z")


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "site": comment.thread.site.slug,
        "thread": comment.thread.key,
        "parent_id": comment.parent_id,
        "author_name": comment.author_name,
        "body_html": comment.body_html,
        "status": comment.status.value,
        "created_at": _timestamp(comment),
    }


def node_json(root: Node) -> dict[str, Any]:
    # Iterative, like the tree builder: reply chains can be hundreds deep.
    def shallow(node: Node) -> dict[str, Any]:
        data = comment_json(node.comment)
        if node.tombstone:
            data.update(status=None, author_name=None, body_html=None)
        data["replies"] = []
        return data

    out = shallow(root)
    stack = [(root, out)]
    while stack:
        node, data = stack.pop()
        for reply in node.replies:
            reply_data = shallow(reply)
            data["replies"].append(reply_data)
            stack.append((reply, reply_data))
    return out


# ---------------------------------------------------------------- CORS


def _site_for_request() -> Any:
    args = request.view_args or {}
    if "site" in args:
        return db.session.scalar(db.select(Site).where(Site.slug == args["site"]))
    if "comment_id" in args:
        comment = db.session.get(Comment, args["comment_id"])
        return comment.thread.site if comment is not None else None
    return None


def _own_origin() -> str:
    return request.host_url.rstrip("/")


@bp.before_request
def check_origin() -> Response | None:
    origin = request.headers.get("Origin")
    if not origin or origin == _own_origin():
        return None
    site = _site_for_request()
    if site is not None and not sites.origin_allowed(site, origin):
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
    if site is None or not sites.origin_allowed(site, origin):
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = "Location"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


# ---------------------------------------------------------------- errors


@bp.errorhandler(ApiProblem)
def api_problem(error: ApiProblem) -> Response:
    return error.response


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Response:
    db.session.rollback()
    errors = [{"field": error.field, "message": error.message}] if error.field else None
    if isinstance(error, NotFound):
        return problem(404, error.message)
    if isinstance(error, Conflict):
        return problem(409, error.message, errors=errors)
    if isinstance(error, Invalid):
        return problem(422, error.message, errors=errors)
    return problem(400, error.message, errors=errors)


# ---------------------------------------------------------------- routes


@health_bp.get("/healthz")
def healthz() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        current_app.logger.exception("health check: database unreachable")
        return problem(503, f"database unreachable: {type(exc).__name__}")
    return {"status": "ok"}


@bp.post("/sites/<site>/comments")
def create_comment(site: str) -> Any:
    sites.get_site(current_session(), site)  # an unknown site is a 404 whatever the body says
    data = parse_body(CommentIn)
    comment = comments.submit(
        current_session(),
        site_slug=site,
        thread_key=data.thread,
        thread_url=data.thread_url,
        thread_title=data.thread_title,
        parent_id=data.parent_id,
        author_name=data.author_name,
        author_email=data.author_email,
        body=data.body,
        ip_hash=comments.hash_ip(request.remote_addr, current_app.config["SECRET_KEY"]),
        now=utcnow(),
        max_depth=current_app.config["MAX_REPLY_DEPTH"],
    )
    # Committed before anything else can fail: a 201/202 always means the comment is stored.
    db.session.commit()
    decision = worker.score_inline(
        current_session(), comment, get_scorer(), current_app.config["SCORE_BUDGET_MS"]
    )
    if decision is not None:
        db.session.commit()
    status = 201 if comment.status == CommentStatus.VISIBLE else 202
    location = url_for("api.get_comment", comment_id=comment.id)
    return comment_json(comment), status, {"Location": location}


@bp.get("/sites/<site>/comments")
def list_comments(site: str) -> Any:
    site_row = sites.get_site(current_session(), site)
    key = request.args.get("thread", "").strip()
    if not key:
        message = "is required: the thread's key"
        raise ApiProblem(
            problem(422, f"thread {message}", errors=[{"field": "thread", "message": message}])
        )
    limit = _int_arg("limit", 50, 1, 500)
    cursor = request.args.get("cursor")
    after_id = _decode_cursor(cursor) if cursor else None
    page = threads.tree(
        current_session(), threads.get_thread(current_session(), site_row, key), limit, after_id
    )
    return {
        "thread": {
            "key": page.thread.key,
            "url": page.thread.url,
            "title": page.thread.title,
            "comment_count": page.comment_count,
        },
        "comments": [node_json(root) for root in page.roots],
        "next_cursor": _encode_cursor(page.next_cursor) if page.next_cursor else None,
    }


@bp.get("/comments/<int:comment_id>")
def get_comment(comment_id: int) -> Any:
    return comment_json(comments.get_visible_comment(current_session(), comment_id))


@bp.post("/comments/<int:comment_id>/flags")
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
        "created_at": flag.created_at.isoformat().replace("+00:00", "Z"),
    }, 201


@bp.get("/sites/<site>/counts")
def thread_counts(site: str) -> Any:
    site_row = sites.get_site(current_session(), site)
    keys = [k for k in request.args.getlist("thread") if k.strip()]
    if not keys:
        message = "is required, once per thread: ?thread=a&thread=b"
        raise ApiProblem(
            problem(422, f"thread {message}", errors=[{"field": "thread", "message": message}])
        )
    if len(keys) > 200:
        message = "at most 200 threads per request"
        raise ApiProblem(problem(422, message, errors=[{"field": "thread", "message": message}]))
    return {"counts": threads.counts(current_session(), site_row, keys)}


@bp.get("/openapi.json")
def openapi() -> Any:
    from moderation.api.openapi import build_document

    return build_document(request.host_url.rstrip("/"))
