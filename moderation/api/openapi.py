"""The OpenAPI 3.1 document of the public API, generated from the pydantic models that
validate requests, so the document and the implementation share one source."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from moderation.api import schemas


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _body(ref: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


SITE = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"}}
COMMENT_ID = {"name": "comment_id", "in": "path", "required": True, "schema": {"type": "integer"}}
AUTHOR_TOKENS = {
    "name": "X-Author-Token",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "author tokens (comma-separated, or the header repeated): the caller's "
    "own pending, held and hidden comments are included, with their status",
}
AUTHOR_TOKEN = {
    "name": "X-Author-Token",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "the author token returned when the comment was posted",
}
RATE_LIMITED = {
    "429": {
        **_problem("too many requests from this address for this site"),
        "headers": {
            "Retry-After": {
                "description": "seconds to wait",
                "schema": {"type": "integer"},
            }
        },
    }
}
AUTHOR_ONLY = {
    "403": _problem("no author token, or not this comment's"),
    "404": _problem("no such comment"),
    "409": _problem(
        "past the edit window, still being scored, removed, reviewed by a moderator, "
        "or changed meanwhile"
    ),
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    "description": "the same key on a retry of the same post answers with the comment the "
    "first one stored (kept 24 hours); the same key with another body is a 422",
}
DATABASE_AWAY = {
    "503": {
        **_problem("the database is unreachable for a moment: nothing was stored"),
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
    }
}
BAD_BODY = {
    "400": _problem("malformed JSON"),
    "413": _problem("request body over 64 KiB"),
    "415": _problem("not application/json"),
    "422": _problem("invalid fields, listed in `errors`"),
}


def _admin_paths() -> dict[str, Any]:
    """The token-authenticated admin API (moderation/api/admin.py)."""
    secured: dict[str, Any] = {"security": [{"adminToken": []}]}
    unauthorized = {"401": _problem("missing, unknown or revoked token")}
    return {
        "/api/v1/moderation/queue": {
            "get": {
                "operationId": "moderationQueue",
                "summary": "The review queue, as the moderator pages show it",
                **secured,
                "parameters": [
                    {"name": "tab", "in": "query", "schema": {
                        "type": "string", "default": "held",
                        "enum": ["held", "reported", "pending", "hidden", "all"]}},
                    {"name": "site", "in": "query", "schema": {"type": "string"}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "per_page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
                "responses": {"200": _json("QueueOut", "one page of the queue"),
                              "422": _problem("bad tab or page"), **unauthorized},
            }
        },
        "/api/v1/moderation/comments/{comment_id}/decision": {
            "parameters": [COMMENT_ID],
            "post": {
                "operationId": "moderationDecision",
                "summary": "approve, hide, hide_thread (with its replies) or restore",
                **secured,
                "requestBody": _body("DecisionIn"),
                "responses": {
                    "200": _json("DecisionOut", "decided"),
                    "404": _problem("no such comment on your sites"),
                    "409": _problem("someone decided since the version you saw"),
                    **BAD_BODY,
                    **unauthorized,
                },
            },
        },
        "/api/v1/moderation/comments/{comment_id}/thread": {
            "parameters": [COMMENT_ID],
            "post": {
                "operationId": "moderationThread",
                "summary": "close or reopen the comment's thread, pin or unpin the comment",
                **secured,
                "requestBody": _body("ThreadActionIn"),
                "responses": {
                    "200": _json("ThreadStateOut", "the thread as it is now"),
                    "404": _problem("no such comment on your sites"),
                    "409": _problem("another moderator pinned a comment meanwhile"),
                    **BAD_BODY,
                    **unauthorized,
                },
            },
        },
    }  # fmt: skip


def build_document(server_url: str) -> dict[str, Any]:
    inputs = (schemas.CommentIn, schemas.CommentEditIn, schemas.DraftIn, schemas.FlagIn,
              schemas.DecisionIn, schemas.ThreadActionIn)  # fmt: skip
    _, definitions = models_json_schema(
        [
            (m, "validation" if m in inputs else "serialization")
            for m in (
                *inputs,
                schemas.CommentOut,
                schemas.CommentCreatedOut,
                schemas.DraftCheckOut,
                schemas.CommentNode,
                schemas.ThreadPageOut,
                schemas.FlagOut,
                schemas.CountsOut,
                schemas.HealthOut,
                schemas.Problem,
                schemas.QueueOut,
                schemas.DecisionOut,
                schemas.ThreadStateOut,
            )
        ],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Comment moderation API",
            "version": "1",
            "description": "What a blog front-end calls to post and read comments. "
            "Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "200 when the database answers",
                    "responses": {
                        "200": _json("HealthOut", "healthy"),
                        "503": _problem("database unreachable"),
                    },
                }
            },
            "/api/v1/sites/{site}/comments": {
                "parameters": [SITE],
                "post": {
                    "operationId": "createComment",
                    "summary": "Submit a comment or a reply (parent_id)",
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": _body("CommentIn"),
                    "responses": {
                        "201": _json("CommentCreatedOut", "stored and visible now"),
                        "202": _json("CommentCreatedOut", "stored; pending scoring or held"),
                        "204": {"description": "dropped: the honeypot field was filled"},
                        "403": _problem(
                            "browser origin not allowed for this site, or the author is "
                            "banned from a site that refuses banned authors' comments"
                        ),
                        "404": _problem("unknown site"),
                        "409": _problem("reply under a hidden comment, or thread closed"),
                        **BAD_BODY,
                        **RATE_LIMITED,
                        **DATABASE_AWAY,
                    },
                },
                "get": {
                    "operationId": "listComments",
                    "summary": "A thread's visible comments as a tree, oldest first unless "
                    "`sort` says otherwise",
                    "parameters": [
                        AUTHOR_TOKENS,
                        {
                            "name": "thread",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 500,
                                "default": 50,
                            },
                            "description": "top-level comments per page",
                        },
                        {
                            "name": "sort",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "string",
                                "enum": ["oldest", "newest", "replies"],
                                "default": "oldest",
                            },
                            "description": "order of the top-level comments: oldest or "
                            "newest first, or most replies first (visible replies in the "
                            "branch; ties oldest first). Replies stay oldest first under "
                            "their parent; the pinned comment stays first on the first page",
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": "`next_cursor` of the previous page, with the "
                            "same `sort`",
                        },
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": "the ETag of the page you have: 304 if unchanged",
                        },
                    ],  # fmt: skip
                    "responses": {
                        "200": _json("ThreadPageOut", "one page of the thread"),
                        "304": {
                            "description": "the page is unchanged since the one whose ETag "
                            "came in If-None-Match (pages seen without author tokens carry "
                            "an ETag)"
                        },
                        "404": _problem("unknown site or thread"),
                        "422": _problem("bad query parameter"),
                    },
                },
            },
            "/api/v1/sites/{site}/comments/check": {
                "parameters": [SITE],
                "post": {
                    "operationId": "checkDraft",
                    "summary": "Score a draft without storing it: which guidelines it may break",
                    "requestBody": _body("DraftIn"),
                    "responses": {
                        "200": _json("DraftCheckOut", "the check"),
                        "403": _problem("browser origin not allowed for this site"),
                        "404": _problem("unknown site"),
                        "503": _problem("the model did not answer in time: post as usual"),
                        **BAD_BODY,
                        **RATE_LIMITED,
                    },
                },
            },
            "/api/v1/comments/{comment_id}": {
                "parameters": [COMMENT_ID],
                "get": {
                    "operationId": "getComment",
                    "parameters": [AUTHOR_TOKENS],
                    "responses": {
                        "200": _json("CommentOut", "the comment"),
                        "404": _problem("no such visible comment (or own comment)"),
                    },
                },
                "patch": {
                    "operationId": "editComment",
                    "summary": "The author edits their comment (within the edit window); "
                    "it is scored again",
                    "parameters": [AUTHOR_TOKEN],
                    "requestBody": _body("CommentEditIn"),
                    "responses": {
                        "200": _json("CommentOut", "edited; pending, visible or held"),
                        **AUTHOR_ONLY,
                        **BAD_BODY,
                        **RATE_LIMITED,
                    },
                },
                "delete": {
                    "operationId": "deleteComment",
                    "summary": "The author deletes their comment (within the edit window); "
                    "with replies it stays as a tombstone",
                    "parameters": [AUTHOR_TOKEN],
                    "responses": {
                        "204": {"description": "deleted"},
                        **AUTHOR_ONLY,
                        **RATE_LIMITED,
                    },
                },
            },
            "/api/v1/comments/{comment_id}/flags": {
                "parameters": [COMMENT_ID],
                "post": {
                    "operationId": "flagComment",
                    "summary": "Report a comment to the moderators",
                    "requestBody": _body("FlagIn"),
                    "responses": {
                        "201": _json("FlagOut", "report stored"),
                        "404": _problem("no such visible comment"),
                        **BAD_BODY,
                        **RATE_LIMITED,
                    },
                },
            },
            "/api/v1/sites/{site}/counts": {
                "parameters": [SITE],
                "get": {
                    "operationId": "threadCounts",
                    "parameters": [
                        {
                            "name": "thread",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "array", "items": {"type": "string"}},
                            "style": "form",
                            "explode": True,
                        },
                    ],  # fmt: skip
                    "responses": {
                        "200": _json("CountsOut", "visible comments per thread key"),
                        "404": _problem("unknown site"),
                        "422": _problem("no thread given"),
                    },
                },
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "responses": {"200": {"description": "this document"}},
                }
            },
            **_admin_paths(),
        },
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an admin API token (moderators page, shown once)",
                }
            },
        },
    }
