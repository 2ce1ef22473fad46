"""The tables. Moderation state is an explicit status plus append-only decision rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    desc,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from moderation.db import Base
from moderation.types import (
    Actor,
    BanMode,
    CommentStatus,
    DeliveryStatus,
    EventType,
    FlagReason,
    ImportScoring,
    ImportSource,
    LearnOutcome,
    MailKind,
    ModerationMode,
    NotifyPreference,
    ReaderMailKind,
    Role,
    Rule,
    StandingKind,
    ThreadChange,
    UTCDateTime,
    enum_column,
    utcnow,
)


class Site(Base):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, comment="used in API paths")
    name: Mapped[str] = mapped_column(String(200))
    allowed_origins: Mapped[list[str]] = mapped_column(
        JSON,
        default=list,
        comment="origins that may call the API from a browser; '*' port wildcard",
    )
    moderation_mode: Mapped[ModerationMode] = mapped_column(
        enum_column(ModerationMode), default=ModerationMode.POST
    )
    thresholds: Mapped[dict[str, Any]] = mapped_column(
        JSON,
        default=dict,
        comment="per label {hold, hide} overriding the scorer's defaults; null turns one off",
    )
    banned_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    suspect_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    flags_to_hold: Mapped[int] = mapped_column(
        Integer, default=3, comment="reader flags that send a visible comment back to review"
    )
    store_analyzed_text: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="keep the text of scoring-API requests (off: only counts are kept)",
    )
    ban_mode: Mapped[BanMode] = mapped_column(
        enum_column(BanMode),
        default=BanMode.HOLD,
        server_default=BanMode.HOLD.value,
        comment="a banned author's new comment: held for a moderator, or refused (403)",
    )
    learned_policy: Mapped[bool] = mapped_column(
        Boolean,
        default=True,
        server_default=true(),
        comment="use the calibration learned from its moderators when one is live",
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    threads: Mapped[list[Thread]] = relationship(back_populates="site")


class Thread(Base):
    __tablename__ = "thread"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(
        String(255), comment="the page's id on the blog, e.g. its path"
    )
    url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(String(300))
    closed: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="closed by a moderator: new comments are refused (409)"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship(back_populates="threads")


class Comment(Base):
    __tablename__ = "comment"
    __table_args__ = (
        # The reader API pages top-level comments of a thread, then loads their subtrees.
        Index("ix_comment_thread_root", "thread_id", "root_id", "id"),
        # The worker claims pending comments oldest first; the queue lists by status.
        Index("ix_comment_status_id", "status", "id"),
        Index("ix_comment_status_created", "status", "created_at"),
        # The review queue's default order (highest label score, most reports, oldest),
        # so its first page is read from the index, not sorted from the whole queue.
        Index(
            "ix_comment_queue_priority",
            "status",
            desc("top_score"),
            desc("flag_count"),
            "created_at",
            "id",
        ),
        CheckConstraint("depth >= 0", name="depth_not_negative"),
        # One pinned comment per thread, whoever pins at the same moment.
        Index(
            "uq_comment_pinned",
            "thread_id",
            unique=True,
            sqlite_where=text("pinned_at IS NOT NULL"),
            postgresql_where=text("pinned_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    root_id: Mapped[int | None] = mapped_column(
        comment="id of the top-level comment of this branch; null for top-level ones"
    )
    depth: Mapped[int] = mapped_column(Integer, default=0, comment="0 for top-level comments")
    author_name: Mapped[str] = mapped_column(String(100))
    author_email: Mapped[str | None] = mapped_column(
        String(254), comment="never exposed by the public API"
    )
    ip_hash: Mapped[str | None] = mapped_column(String(64), comment="HMAC of the client IP")
    author_key: Mapped[str | None] = mapped_column(
        String(80),
        index=True,
        comment="who wrote it, for bans and the author panel: 'email:' + sha256 of the "
        "lower-cased address, else 'ip:' + ip_hash; never the address itself",
    )
    body: Mapped[str] = mapped_column(Text, comment="the Markdown the reader wrote")
    body_html: Mapped[str] = mapped_column(Text, comment="sanitized HTML rendered from body")
    status: Mapped[CommentStatus] = mapped_column(
        enum_column(CommentStatus), default=CommentStatus.PENDING
    )
    top_score: Mapped[float | None] = mapped_column(
        Float, comment="highest label probability of the current score, for queue ordering"
    )
    claimed_by: Mapped[str | None] = mapped_column(
        String(128), comment="the worker claim scoring this comment now"
    )
    claimed_until: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="lease end; after it another worker may claim the comment"
    )
    score_attempts: Mapped[int] = mapped_column(Integer, default=0)
    flag_count: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", comment="reader reports, kept for queue order"
    )
    version: Mapped[int] = mapped_column(
        Integer,
        default=1,
        server_default="1",
        comment="bumped on every status change; moderators' decisions check it (optimistic lock)",
    )
    author_token_hash: Mapped[str | None] = mapped_column(
        String(64), index=True, comment="sha256 of the token the author's browser keeps"
    )
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_warning: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="the author posted despite the pre-posting warning",
    )
    notify_replies: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="the author asked to be mailed (at author_email) when replies appear",
    )
    reader_language: Mapped[str | None] = mapped_column(
        String(8),
        comment="the language (en, de, …) the author read the widget in when opting in to "
        "reply mail: their mails speak the latest one; null: English",
    )
    pinned_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="pinned by a moderator: readers see it first in its thread"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    thread: Mapped[Thread] = relationship()
    parent: Mapped[Comment | None] = relationship(remote_side=[id])
    scores: Mapped[list[Score]] = relationship(
        back_populates="comment", order_by="Score.id", passive_deletes=True
    )
    actions: Mapped[list[ModerationAction]] = relationship(
        back_populates="comment", order_by="ModerationAction.id", passive_deletes=True
    )
    flags: Mapped[list[Flag]] = relationship(
        back_populates="comment", order_by="Flag.id", passive_deletes=True
    )


class ImportedComment(Base):
    """Where an imported comment came from: its source and its id there, unique per site,
    so that importing a file again adds nothing and a newer export only what is new. A
    table of its own rather than columns on ``comment``: the uniqueness is per *site*,
    which a comment reaches only through its thread (a constraint cannot span tables),
    and comments posted here, nearly all of them, carry nothing for it. It also holds
    the score the workers still owe the comment (``scoring``)."""

    __tablename__ = "imported_comment"
    __table_args__ = (
        UniqueConstraint("site_id", "source", "source_id"),
        # The workers' claim: imported comments still to score, oldest first.
        Index("ix_imported_comment_scoring", "scoring", "comment_id"),
    )

    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    source: Mapped[ImportSource] = mapped_column(
        enum_column(ImportSource), comment="wxr, disqus or isso"
    )
    source_id: Mapped[str] = mapped_column(
        String(255), comment="the comment's id in the source (WXR: post id/comment id)"
    )
    source_status: Mapped[str] = mapped_column(
        String(32), comment="the status it had there: approved, unapproved, spam, trash, deleted"
    )
    scoring: Mapped[ImportScoring | None] = mapped_column(
        enum_column(ImportScoring),
        comment="the score the workers still owe it (record, decide); null when none",
    )
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    comment: Mapped[Comment] = relationship()


class Score(Base):
    """One scoring of a comment. Re-scoring with a newer model supersedes the previous row
    rather than overwrite it; the database keeps at most one current row per comment."""

    __tablename__ = "score"
    __table_args__ = (
        Index(
            "uq_score_current",
            "comment_id",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    scorer: Mapped[str] = mapped_column(String(64), comment="scorer name, e.g. lite")
    scorer_version: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, float]] = mapped_column(JSON, comment="label -> probability 0..1")
    duration_ms: Mapped[float] = mapped_column(
        Float, comment="model time for this comment's batch, divided by its size"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="when a re-score replaced this one; null for the current score"
    )

    comment: Mapped[Comment] = relationship(back_populates="scores")


class ModerationAction(Base):
    """Append-only: every status change of a comment, by whom and why."""

    __tablename__ = "moderation_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[Actor] = mapped_column(enum_column(Actor))
    moderator_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderator.id", ondelete="SET NULL"), index=True
    )
    from_status: Mapped[CommentStatus | None] = mapped_column(
        enum_column(CommentStatus, "from_status")
    )
    to_status: Mapped[CommentStatus] = mapped_column(enum_column(CommentStatus, "to_status"))
    rule: Mapped[Rule] = mapped_column(
        enum_column(Rule, length=32),
        index=True,
        comment="why: for a policy decision the strongest rule that fired",
    )
    detail: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="the rule's particulars: labels, scores, thresholds, words, counts"
    )
    reason: Mapped[str] = mapped_column(
        Text, comment="human-readable why, rendered from rule and detail when written"
    )
    decision_id: Mapped[str | None] = mapped_column(
        String(32),
        index=True,
        comment="groups the actions of one moderator decision (bulk, whole thread) for undo",
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    comment: Mapped[Comment] = relationship(back_populates="actions")
    moderator: Mapped[Moderator | None] = relationship()
    fired: Mapped[list[ActionRule]] = relationship(
        back_populates="action", order_by="ActionRule.position", passive_deletes=True
    )


class ActionRule(Base):
    """Every rule that fired for one action (a policy decision may name several: a label
    over its hold threshold *and* a suspect word), so the queue can filter on any of them."""

    __tablename__ = "action_rule"

    action_id: Mapped[int] = mapped_column(
        ForeignKey("moderation_action.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(
        Integer,
        primary_key=True,
        comment="the rules in order of strength: the lowest is the one the status came from",
    )
    rule: Mapped[Rule] = mapped_column(enum_column(Rule, length=32), index=True)

    action: Mapped[ModerationAction] = relationship(back_populates="fired")


class OutboxEvent(Base):
    """A domain event, written in the same transaction as the change it tells of (a
    transactional outbox): whatever commits, its event commits with it, and nothing is
    told that did not happen. Consumers (notifications, webhooks) read in id order and
    mark what they delivered."""

    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[EventType] = mapped_column(enum_column(EventType, length=32))
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comment.id", ondelete="SET NULL"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id", ondelete="SET NULL"))
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderation_action.id", ondelete="SET NULL"),
        comment="the status change this event tells of; null for scored/reported",
    )
    payload: Mapped[dict[str, Any]] = mapped_column(
        JSON, comment="what a consumer needs without reading the comment back"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, index=True, comment="when a consumer delivered it; null until then"
    )

    action: Mapped[ModerationAction | None] = relationship()


class Flag(Base):
    """A reader's report of a comment."""

    __tablename__ = "flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[FlagReason] = mapped_column(enum_column(FlagReason))
    note: Mapped[str | None] = mapped_column(Text)
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    comment: Mapped[Comment] = relationship(back_populates="flags")


moderator_site = Table(
    "moderator_site",
    Base.metadata,
    Column("moderator_id", ForeignKey("moderator.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
    comment="the sites a moderator (role moderator) may work on; admins have all",
)


class Moderator(Base):
    __tablename__ = "moderator"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.MODERATOR)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notify: Mapped[NotifyPreference] = mapped_column(
        enum_column(NotifyPreference, "notify_preference"),
        default=NotifyPreference.IMMEDIATE,
        server_default=NotifyPreference.IMMEDIATE.value,
        comment="mail about held comments: immediate, an hourly or daily digest, or off",
    )
    failed_sign_ins: Mapped[int] = mapped_column(
        Integer,
        default=0,
        server_default="0",
        comment="wrong passwords given for this account since its last sign-in (shown then)",
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sites: Mapped[list[Site]] = relationship(secondary=moderator_site)


class ModeratorSession(Base):
    """A signed-in browser. The session cookie carries its token (only the token's hash
    is stored): ending the row (sign-out, a password change, deactivation, "sign out
    everywhere") makes every saved copy of that cookie worthless, which a signed cookie
    alone cannot do."""

    __tablename__ = "moderator_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int] = mapped_column(
        ForeignKey("moderator.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="signed out, or ended by a password change or deactivation"
    )

    moderator: Mapped[Moderator] = relationship()


class ApiToken(Base):
    """A bearer token for the admin API, created by an admin; only its hash is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int] = mapped_column(
        ForeignKey("moderator.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    moderator: Mapped[Moderator] = relationship()


class SettingsChange(Base):
    """Append-only audit of site settings: who changed what, from what, to what."""

    __tablename__ = "settings_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    moderator_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderator.id", ondelete="SET NULL")
    )
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ScoringKey(Base):
    """A key for the Perspective-compatible scoring API, per site; only its hash is kept."""

    __tablename__ = "scoring_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_per_second: Mapped[float] = mapped_column(Float, default=10.0)
    request_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    site: Mapped[Site] = relationship()


class ScoreFeedback(Base):
    """A label a client suggested for a text (Perspective's suggestscore), e.g. Coral's
    moderators' decisions: feedback to measure the model against."""

    __tablename__ = "score_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("scoring_key.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    attribute: Mapped[str] = mapped_column(String(64), comment="Perspective name, e.g. TOXICITY")
    value: Mapped[float] = mapped_column(Float, comment="the suggested score, 0..1")
    model_value: Mapped[float | None] = mapped_column(
        Float, comment="our model's score for the same text and attribute when stored"
    )
    community_id: Mapped[str | None] = mapped_column(String(255))
    client_token: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnalyzedText(Base):
    """The text of a scoring-API request with its scores, kept only when the key's site
    opted in (``Site.store_analyzed_text``) and the request did not say ``doNotStore``."""

    __tablename__ = "analyzed_text"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("scoring_key.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, float]] = mapped_column(JSON, comment="Perspective attribute -> value")
    community_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Webhook(Base):
    """An address that hears of a site's comment events, as signed JSON POSTs."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(
        JSON, comment="the event types it receives, e.g. ['comment.held']"
    )
    secret: Mapped[str] = mapped_column(
        String(200), comment="HMAC-SHA256 key of the signature; kept to sign, never shown again"
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship()


class DeliveryColumns:
    """What at-least-once delivery keeps on a row (services/deliveries.py claims, retries
    and records through these): webhook deliveries and moderators' mails alike. Each
    table adds what it sends, ``response_status`` and ``delivered_at``."""

    @declared_attr
    def status(cls) -> Mapped[DeliveryStatus]:  # noqa: N805 (SQLAlchemy's declared_attr)
        # One Enum (and CHECK constraint) per table, not one shared between them.
        return mapped_column(enum_column(DeliveryStatus), default=DeliveryStatus.PENDING)

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text, comment="why the last attempt failed")
    duration_ms: Mapped[float | None] = mapped_column(Float, comment="of the last attempt")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(DeliveryColumns, Base):
    """One event for one webhook, delivered at least once: claimed with a lease like a
    pending comment, retried with backoff, dead after the retry window."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # The worker's claim: due deliveries, oldest first.
        Index("ix_webhook_delivery_due", "status", "next_attempt_at", "id"),
        UniqueConstraint("webhook_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhook.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_event.id", ondelete="CASCADE"))
    delivery_key: Mapped[str] = mapped_column(
        String(36), unique=True, comment="X-Moderation-Delivery: the same on every retry"
    )
    body: Mapped[str] = mapped_column(Text, comment="the JSON sent, byte for byte on retries")
    response_status: Mapped[int | None] = mapped_column(
        Integer, comment="HTTP status of the last attempt; null when it got no answer"
    )
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    webhook: Mapped[Webhook] = relationship()
    event: Mapped[OutboxEvent] = relationship()


class MailMessage(DeliveryColumns, Base):
    """One mail to one moderator about held comments, sent at least once: claimed with a
    lease like a webhook delivery, retried with backoff, dead after the retry window. It
    is rendered when sent; its Message-ID (from ``message_key``) is the same on every try."""

    __tablename__ = "mail_message"
    __table_args__ = (
        # The worker's claim: due messages, oldest first.
        Index("ix_mail_message_due", "status", "next_attempt_at", "id"),
        # The burst limit: a moderator's mails of the last minute.
        Index("ix_mail_message_recent", "moderator_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("moderator.id", ondelete="CASCADE"))
    kind: Mapped[MailKind] = mapped_column(enum_column(MailKind))
    comment_ids: Mapped[list[int]] = mapped_column(JSON, comment="the held comments it tells of")
    message_key: Mapped[str] = mapped_column(
        String(36), unique=True, comment="its Message-ID: the same on every retry"
    )
    response_status: Mapped[int | None] = mapped_column(
        Integer, comment="SMTP reply code of the last failed attempt; null when none came"
    )
    delivered_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="when the SMTP server accepted it (or it was logged)"
    )

    moderator: Mapped[Moderator] = relationship()


class MailItem(Base):
    """A held comment waiting for a moderator's next digest (or burst summary)."""

    __tablename__ = "mail_item"
    __table_args__ = (Index("ix_mail_item_waiting", "message_id", "moderator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("moderator.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("mail_message.id", ondelete="SET NULL"),
        comment="the digest that told of it; null while it waits",
    )


class ReplySubscription(Base):
    """A reader's address on one site, kept only to mail them replies to the comments
    they opted in on (``Comment.notify_replies``): unconfirmed until they follow the
    confirmation mail's link (double opt-in), and never mailed again once unsubscribed.
    Never shown by any API or page."""

    __tablename__ = "reply_subscription"
    __table_args__ = (UniqueConstraint("site_id", "email_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), comment="as the reader first gave it")
    email_key: Mapped[str] = mapped_column(
        String(254), comment="the address lower-cased: one subscription per address and site"
    )
    confirm_round: Mapped[int] = mapped_column(
        Integer,
        default=0,
        server_default="0",
        comment="bumped for each confirmation mail: only the latest mail's link confirms",
    )
    confirm_sent_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="when the latest confirmation mail was queued; null: never"
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="when the reader confirmed; null: no reply mail yet"
    )
    unsubscribed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="when the reader unsubscribed; from then on no mail at all"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship()


class ReaderMail(DeliveryColumns, Base):
    """One mail to a reader: the confirmation of their address, or a reply to one of
    their comments. Sent at least once like a moderator's mail, rendered when sent; at
    most one per (kind, comment, subscription): a reply hidden and restored is not
    mailed twice."""

    __tablename__ = "reader_mail"
    __table_args__ = (
        Index("ix_reader_mail_due", "status", "next_attempt_at", "id"),
        UniqueConstraint("subscription_id", "kind", "comment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("reply_subscription.id", ondelete="CASCADE")
    )
    kind: Mapped[ReaderMailKind] = mapped_column(enum_column(ReaderMailKind))
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"),
        index=True,
        comment="the reply it tells of; for a confirmation, the comment that opted in",
    )
    message_key: Mapped[str] = mapped_column(
        String(36), unique=True, comment="its Message-ID: the same on every retry"
    )
    response_status: Mapped[int | None] = mapped_column(
        Integer, comment="SMTP reply code of the last failed attempt; null when none came"
    )
    delivered_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="when the SMTP server accepted it (or it was logged)"
    )

    subscription: Mapped[ReplySubscription] = relationship()
    comment: Mapped[Comment] = relationship()


class IdempotentRequest(Base):
    """A POST that came with an ``Idempotency-Key``: a retry with the same key (a client
    that never saw the first answer) gets the first comment back instead of storing a
    second one. Written in the comment's own transaction, so the two exist together or
    not at all; kept 24 hours."""

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255), comment="the client's Idempotency-Key")
    request_hash: Mapped[str] = mapped_column(
        String(64), comment="sha256 of the request body: the same key with another body is refused"
    )
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    comment: Mapped[Comment] = relationship()


class ThreadAction(Base):
    """Append-only: a moderator closed, reopened, pinned or unpinned in a thread. Not a
    ModerationAction: those are a comment's status changes, each with its outbox event,
    and the dashboard counts them as decisions."""

    __tablename__ = "thread_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"), index=True)
    change: Mapped[ThreadChange] = mapped_column(enum_column(ThreadChange))
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comment.id", ondelete="SET NULL"), comment="pin/unpin: the comment"
    )
    moderator_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderator.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    thread: Mapped[Thread] = relationship()
    moderator: Mapped[Moderator | None] = relationship()


class AuthorStanding(Base):
    """A moderator's ban or trust of one author on one site, with who, when, why and
    until when. Rows are never deleted: lifting one (or a newer word on the same author)
    sets ``lifted_at``, so the history stays readable. The author is named only by
    ``author_key`` (a hash), never by address."""

    __tablename__ = "author_standing"
    __table_args__ = (Index("ix_author_standing_lookup", "site_id", "author_key", "lifted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    author_key: Mapped[str] = mapped_column(String(80), comment="Comment.author_key")
    kind: Mapped[StandingKind] = mapped_column(enum_column(StandingKind))
    reason: Mapped[str] = mapped_column(Text, comment="the moderator's why")
    expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="when it ends by itself; null: until lifted"
    )
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comment.id", ondelete="SET NULL"), comment="the comment it was set from"
    )
    author_name: Mapped[str] = mapped_column(
        String(100), comment="the name on that comment, for the list"
    )
    moderator_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderator.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderator.id", ondelete="SET NULL")
    )

    site: Mapped[Site] = relationship()
    moderator: Mapped[Moderator | None] = relationship(foreign_keys=[moderator_id])
    lifted_by: Mapped[Moderator | None] = relationship(foreign_keys=[lifted_by_id])


class SiteCalibration(Base):
    """One run of learning a site's standards from its moderators (services.learning):
    append-only, the newest row per site is the one in force. Applying it is arithmetic
    on these numbers: no model file, no scikit-learn in the request path."""

    __tablename__ = "site_calibration"
    __table_args__ = (Index("ix_site_calibration_site_fitted", "site_id", "fitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    outcome: Mapped[LearnOutcome] = mapped_column(enum_column(LearnOutcome))
    scorer: Mapped[str] = mapped_column(
        String(64), comment="the scorer (Score.scorer) whose probabilities it reads"
    )
    approved: Mapped[int] = mapped_column(Integer, comment="decisions 'acceptable here'")
    hidden: Mapped[int] = mapped_column(Integer, comment="decisions 'not here'")
    actions_seen: Mapped[int] = mapped_column(
        Integer, comment="moderators' actions on the site then: the worker learns again N later"
    )
    labels: Mapped[list[str]] = mapped_column(JSON, default=list, comment="label features")
    rules: Mapped[list[str]] = mapped_column(JSON, default=list, comment="rule features")
    coefficients: Mapped[list[float]] = mapped_column(
        JSON, default=list, comment="one per label (on its logit), then one per rule"
    )
    intercept: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(
        Float, comment="hold at or above this probability that moderators would hide it"
    )
    figures: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="cross-validated before (thresholds) and after (this model)"
    )
    suggested_thresholds: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="per label hold thresholds that would do as well without the model"
    )
    note: Mapped[str] = mapped_column(Text, comment="what the run came to, in words")
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship()


class ScoreExplanation(Base):
    """Which words of a comment drove one of its scores, worked out by leave-one-word-out
    (Detoxify, ONNX: one model run per word, too slow for every comment) when a moderator
    first opens a held comment, and kept so the next opening reads it. Tied to the Score
    row: a re-score (a new model, an edit) makes a new Score and so a new explanation."""

    __tablename__ = "score_explanation"

    id: Mapped[int] = mapped_column(primary_key=True)
    score_id: Mapped[int] = mapped_column(
        ForeignKey("score.id", ondelete="CASCADE"), unique=True, comment="the score explained"
    )
    label: Mapped[str] = mapped_column(String(64), comment="the label whose score is explained")
    method: Mapped[str] = mapped_column(String(32), comment="e.g. leave-one-word-out")
    terms: Mapped[list[list[Any]]] = mapped_column(
        JSON, comment="[[word, how much the label's score drops without it], …], largest first"
    )
    duration_ms: Mapped[float] = mapped_column(Float, comment="model time it took")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
