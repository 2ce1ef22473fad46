"""The admin API for automation: bearer tokens created by admins (stored hashed), the same
queue and decisions as the moderator pages, as JSON with problem+json errors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from moderation.api.problems import ApiProblem, parse_body, problem
from moderation.api.schemas import DecisionIn, ThreadActionIn, comment_json
from moderation.db import current_session
from moderation.models import Moderator
from moderation.services import moderators, review, threads
from moderation.services.errors import DomainError, Invalid, NotFound
from moderation.services.review import Action, AlreadyDecided, QueueFilter, Tab
from moderation.types import ThreadChange, utcnow

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/moderation")


@bp.before_request
def authenticate() -> Any:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    moderator = None
    if scheme.lower() == "bearer" and secret:
        moderator = moderators.moderator_for_token(current_session(), secret.strip(), utcnow())
    if moderator is None:
        return problem(
            401,
            "send a valid admin API token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    g.api_moderator = moderator
    return None


@bp.after_request
def commit_token_use(response: Any) -> Any:
    """The token's ``last_used_at`` commits with the request's own change (a decision
    commits in its view) or here, for a read; a refused request changes nothing."""
    if response.status_code < 400:
        current_session().commit()
    return response


def _moderator() -> Moderator:
    moderator: Moderator = g.api_moderator
    return moderator


@bp.errorhandler(ApiProblem)
def api_problem(error: ApiProblem) -> Any:
    return error.response


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Any:
    current_session().rollback()
    if isinstance(error, NotFound):
        return problem(404, error.message)
    if isinstance(error, AlreadyDecided):
        return problem(409, error.message, kind="already-decided")
    errors = [{"field": error.field, "message": error.message}] if error.field else None
    return problem(422 if isinstance(error, Invalid) else 409, error.message, errors=errors)


def _item_json(comment: Any) -> dict[str, Any]:
    score = review.current_score(comment)
    system = [a for a in comment.actions if a.actor.value == "system"]
    return {
        **comment_json(comment),
        "version": comment.version,
        "scores": score.labels if score else None,
        "scorer_version": score.scorer_version if score else None,
        "reason": system[-1].reason if system else None,
        "flags": [{"reason": f.reason.value, "note": f.note} for f in comment.flags],
    }


@bp.get("/queue")
def queue() -> Any:
    try:
        tab = Tab(request.args.get("tab", "held"))
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(200, max(1, int(request.args.get("per_page", 50))))
        if page > 1_000_000:  # past any real queue; larger offsets overflow the database
            raise ValueError(page)
    except ValueError:
        message = "tab must be held, reported, pending, hidden or all; page numbers are integers"
        raise ApiProblem(problem(422, message)) from None
    scope = review.scope_of(_moderator())
    filters = QueueFilter(site=request.args.get("site") or None)
    result = review.queue(current_session(), scope, tab, filters, page=page, per_page=per_page)
    return {
        "tab": tab.value,
        "total": result.total,
        "page": result.page,
        "items": [_item_json(c) for c in result.items],
    }


@bp.post("/comments/<int:comment_id>/decision")
def decision(comment_id: int) -> Any:
    data = parse_body(DecisionIn)
    session = current_session()
    scope = review.scope_of(_moderator())
    comment = review.get_for_review(session, scope, comment_id)
    version = data.version if data.version is not None else comment.version
    result = review.decide(
        session,
        _moderator(),
        scope,
        [(comment_id, version)],
        Action(data.action),
        utcnow(),
        reason=data.reason,
    )
    session.commit()
    return {
        "id": comment.id,
        "status": comment.status.value,
        "version": comment.version,
        "decision_id": result.decision_id,
        "changed": [c.id for c in result.changed],
    }


@bp.post("/comments/<int:comment_id>/thread")
def thread_action(comment_id: int) -> Any:
    """Close or reopen the comment's thread, pin or unpin the comment: recorded in
    thread_action with the token's moderator, as from the comment's page."""
    data = parse_body(ThreadActionIn)
    session = current_session()
    comment = review.get_for_review(session, review.scope_of(_moderator()), comment_id)
    threads.change(session, comment, ThreadChange(data.action), _moderator(), utcnow())
    session.commit()
    pinned = threads.pinned_comment(session, comment.thread)
    return {
        "site": comment.thread.site.slug,
        "thread": comment.thread.key,
        "closed": comment.thread.closed,
        "pinned_id": pinned.id if pinned is not None else None,
    }
