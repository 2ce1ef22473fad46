"""Request and response shapes. The same models validate requests and generate the
OpenAPI document, so the two cannot drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from moderation.types import CommentStatus, FlagReason

# The body and name limits are read from config at request time (see views); these
# static bounds are the defaults and appear in the OpenAPI document.
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    thread_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    thread_title: Annotated[str, StringConstraints(max_length=300)] | None = None
    parent_id: int | None = Field(default=None, ge=1)
    author_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    author_email: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
            ),
        ]
        | None
    ) = Field(default=None, description="never shown publicly")
    body: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)
    ] = Field(description="Markdown: emphasis, links, lists, quotes, code")


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FlagReason
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class CommentOut(BaseModel):
    """A comment as readers see it. In a tree, a tombstone has ``status``,
    ``author_name`` and ``body_html`` null: the comment is gone, its replies stay."""

    id: int
    site: str
    thread: str
    parent_id: int | None
    author_name: str | None
    body_html: str | None
    status: CommentStatus | None
    created_at: datetime


class CommentNode(CommentOut):
    replies: list[CommentNode]


class ThreadOut(BaseModel):
    key: str
    url: str | None
    title: str | None
    comment_count: int


class ThreadPageOut(BaseModel):
    thread: ThreadOut
    comments: list[CommentNode]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class FlagOut(BaseModel):
    id: int
    comment_id: int
    reason: FlagReason
    created_at: datetime


class CountsOut(BaseModel):
    counts: dict[str, int]


class HealthOut(BaseModel):
    status: Literal["ok"]


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
