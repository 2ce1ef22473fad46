"""Request and response shapes of the public and admin APIs, and the serializers that
produce them. The same models validate requests and generate the OpenAPI document, so the
two cannot drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from moderation.models import Comment
from moderation.services.threads import Node
from moderation.types import CommentStatus, FlagReason, iso_utc

# The body and name limits are read from config at request time (see views); these
# static bounds are the defaults and appear in the OpenAPI document.
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
BODY_DESCRIPTION = "Markdown: emphasis, links, lists, quotes, code"
ACKNOWLEDGED_DESCRIPTION = (
    "the author saw the pre-posting warning (`/comments/check`) and posts anyway: the "
    "comment is held for a moderator"
)


# Ids are 64-bit (BIGINT on PostgreSQL, INTEGER on SQLite): a larger number names no row
# (and must not reach the database, which would refuse it with an error instead of
# finding nothing).
MAX_ID = 2**63 - 1


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    thread_url: (
        Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s]+$")] | None
    ) = Field(default=None, description="the page's http(s) address")
    thread_title: Annotated[str, StringConstraints(max_length=300)] | None = None
    parent_id: int | None = Field(default=None, ge=1, le=MAX_ID, strict=True)
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
    body: Body = Field(description=BODY_DESCRIPTION)
    acknowledged_warning: bool = Field(
        default=False, strict=True, description=ACKNOWLEDGED_DESCRIPTION
    )
    notify_replies: bool = Field(
        default=False,
        strict=True,
        description="email the author (`author_email`, required with it) when someone "
        "replies to this comment. The first time an address asks on a site it gets a "
        "mail to confirm (double opt-in); every mail has a one-click unsubscribe link",
    )
    website: str | None = Field(
        default=None,
        description="honeypot: a form field people never see and bots fill in. Leave it "
        "out or empty; a request that fills it is dropped (204) and nothing is stored",
    )


class CommentEditIn(BaseModel):
    """A new text for the author's own comment (with its author token)."""

    model_config = ConfigDict(extra="forbid")

    body: Body = Field(description=BODY_DESCRIPTION)
    acknowledged_warning: bool = Field(
        default=False, strict=True, description=ACKNOWLEDGED_DESCRIPTION
    )


class DraftIn(BaseModel):
    """A draft to check before posting; it is scored and forgotten."""

    model_config = ConfigDict(extra="forbid")

    body: Body = Field(description=BODY_DESCRIPTION)


class Concern(BaseModel):
    label: str = Field(description="the model's label, e.g. toxicity")
    guideline: str = Field(description="the guideline the draft may break, for the writer")


class DraftCheckOut(BaseModel):
    warning: bool = Field(description="true when some label reached its warn threshold")
    concerns: list[Concern]


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
    status: CommentStatus | None = Field(
        description="readers see only visible comments (and tombstones, null); with "
        "X-Author-Token an author also sees their own pending, held and hidden ones"
    )
    created_at: datetime
    edited_at: datetime | None = Field(description="when the author last edited it")


class CommentCreatedOut(CommentOut):
    author_token: str = Field(
        description="given once: send it as X-Author-Token to see this comment while it "
        "waits for moderation, and to edit or delete it until editable_until"
    )
    editable_until: datetime


class CommentNode(CommentOut):
    pinned: bool = Field(description="pinned by a moderator: shown first, on the first page only")
    replies: list[CommentNode]


class ThreadOut(BaseModel):
    key: str
    url: str | None
    title: str | None
    comment_count: int
    closed: bool = Field(description="closed by a moderator: new comments are refused (409)")


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


# ---------------------------------------------------------------- the admin API


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "hide", "hide_thread", "restore", "keep"]
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        strict=True,
        description="the comment version you saw; 409 if it moved on",
    )


class ThreadActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["close", "reopen", "pin", "unpin"] = Field(
        description="close or reopen the comment's thread; pin or unpin the comment"
    )


class ThreadStateOut(BaseModel):
    site: str
    thread: str
    closed: bool
    pinned_id: int | None = Field(description="the thread's pinned comment, if any")


class QueueItemOut(CommentOut):
    version: int
    scores: dict[str, float] | None
    scorer_version: str | None
    reason: str | None = Field(description="why the system put it where it is")
    flags: list[dict[str, str | None]]


class QueueOut(BaseModel):
    tab: str
    total: int
    page: int
    items: list[QueueItemOut]


class DecisionOut(BaseModel):
    id: int
    status: str
    version: int
    decision_id: str
    changed: list[int] = Field(description="every comment the decision changed")


# ---------------------------------------------------------------- serializing


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "site": comment.thread.site.slug,
        "thread": comment.thread.key,
        "parent_id": comment.parent_id,
        "author_name": comment.author_name,
        "body_html": comment.body_html,
        "status": comment.status.value,
        "created_at": iso_utc(comment.created_at),
        "edited_at": iso_utc(comment.edited_at),
    }


def node_json(root: Node) -> dict[str, Any]:
    # Iterative, like the tree builder: reply chains can be hundreds deep.
    def shallow(node: Node) -> dict[str, Any]:
        data = comment_json(node.comment)
        if node.tombstone:
            data.update(status=None, author_name=None, body_html=None, edited_at=None)
        data["pinned"] = node.pinned
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
