"""RFC 9457 problem details: every API error is ``application/problem+json`` with
``type, title, status, detail`` and, for invalid fields, ``errors: [{field, message}]``;
and the parsing of JSON request bodies, whose failures are such problems."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Response, json, request
from pydantic import BaseModel, ValidationError

from moderation.i18n import _

PROBLEM_TYPE_BASE = "https://moderation.invalid/problems/"

TITLES = {
    400: "Malformed request",
    403: "Origin not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid fields",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (kind or str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = Response(
        json.dumps(body), status=status, mimetype="application/problem+json", headers=headers
    )
    response.vary.add("Accept-Language")  # details are in the reader's language
    return response


class ApiProblem(Exception):
    """Raised from a view to answer with ``response``, a problem (the API blueprints
    register a handler that returns it)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


# ---------------------------------------------------------------- parsing

ModelT = TypeVar("ModelT", bound=BaseModel)


def _field_message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("is required")
    if kind == "string_too_short":
        return _("must not be empty")
    if kind == "string_too_long":
        return _("must be at most %(count)s characters", count=ctx.get("max_length"))
    if kind == "extra_forbidden":
        return _("is not a field of this request")
    if kind == "int_type":
        return _("must be an integer")
    if kind == "bool_type":
        return _("must be true or false")
    if kind == "less_than_equal":
        return _("must be at most %(number)s", number=ctx.get("le"))
    if kind == "enum":
        return _("must be one of: %(choices)s", choices=ctx.get("expected"))
    if kind == "string_pattern_mismatch":
        if error["loc"] and error["loc"][-1] == "thread_url":
            return _("must be an http:// or https:// address")
        return _("is not a valid email address")
    return str(error["msg"])


def _fields_with_nul(value: Any, path: str = "") -> list[str]:
    """Dotted names of the string fields holding U+0000, which PostgreSQL cannot store."""
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        return [
            f
            for k, v in value.items()
            for f in _fields_with_nul(v, f"{path}.{k}" if path else str(k))
        ]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _fields_with_nul(v, f"{path}.{i}")]
    return []


def parse_body(model: type[ModelT]) -> ModelT:
    """The request's JSON body validated as ``model``, or an ApiProblem (415, 400, 413, 422)."""
    if not request.is_json:
        raise ApiProblem(problem(415, "send the request body as application/json"))
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise ApiProblem(problem(400, f"the body is not valid JSON: {exc}")) from None
    except RecursionError:
        raise ApiProblem(problem(400, "the body's JSON is nested too deeply")) from None
    if not isinstance(payload, dict):
        raise ApiProblem(problem(400, "the body must be a JSON object"))
    if nul_fields := sorted(_fields_with_nul(payload)):
        message = _("must not contain the NUL character (\\u0000)")
        raise ApiProblem(
            problem(
                422,
                _("invalid fields: %(names)s", names=", ".join(nul_fields)),
                errors=[{"field": f, "message": message} for f in nul_fields],
            )
        )
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
        raise ApiProblem(
            problem(422, _("invalid fields: %(names)s", names=names), errors=errors)
        ) from None
