"""Enums stored by value, and the column types shared by the models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, TypeDecorator
from sqlalchemy.engine import Dialect


class CommentStatus(enum.StrEnum):
    PENDING = "pending"  # stored, not scored yet
    VISIBLE = "visible"
    HELD = "held"  # waiting for a moderator
    HIDDEN = "hidden"


class FlagReason(enum.StrEnum):
    OFFENSIVE = "offensive"
    ABUSIVE = "abusive"
    SPAM = "spam"
    OTHER = "other"


class Role(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"


class ModerationMode(enum.StrEnum):
    POST = "post"  # show unless the policy holds it
    PRE = "pre"  # hold everything for a moderator


class BanMode(enum.StrEnum):
    """What a site does with a comment from a banned author."""

    HOLD = "hold"  # store it, held for a moderator
    REFUSE = "refuse"  # refuse it (403) and store nothing


class StandingKind(enum.StrEnum):
    """A moderator's word on an author of one site."""

    BAN = "ban"
    TRUST = "trust"


class ThreadChange(enum.StrEnum):
    """What a moderator did to a thread (the thread_action audit rows)."""

    CLOSE = "close"
    REOPEN = "reopen"
    PIN = "pin"
    UNPIN = "unpin"


class Actor(enum.StrEnum):
    SYSTEM = "system"
    MODERATOR = "moderator"
    AUTHOR = "author"


class Rule(enum.StrEnum):
    """Why a comment has the status it has: stored on every ModerationAction (the reason a
    moderator reads is rendered from it and its detail), and what the queue filters on."""

    # The site's policy (services.policy), strongest first.
    BANNED_WORD = "banned_word"
    LABEL_OVER_HIDE = "label_over_hide"  # a label at or above its hide threshold
    AUTHOR_BANNED = "author_banned"  # a moderator banned the author (site holds their comments)
    PREMODERATION = "premoderation"
    LABEL_OVER_HOLD = "label_over_hold"  # a label at or above its hold threshold
    # In place of label_over_hold where the site's calibration is live (services.learning).
    LEARNED_HOLD = "learned_hold"  # this site's moderators would likely hide it
    THREAT = "threat"  # a violent word aimed at a person or group: "I will hurt you"
    VEILED_THREAT = "veiled_threat"  # menace with no violent word: "I know where you live"
    GROUP_ATTACK = "group_attack"  # a slur, or a group of people called vermin, criminals…
    INSULT_AIMED = "insult_aimed"  # an insult aimed at someone: "you idiot", "f*** you"
    SUSPECT_WORD = "suspect_word"
    AUTHOR_TRUSTED = "author_trusted"  # a moderator trusts the author: not held for review
    # The model's profanity score not counted: swearing aimed at no one ("this damn printer").
    PROFANITY_NOT_AIMED = "profanity_not_aimed"
    PASSED_POLICY = "passed_policy"
    # The system, outside the policy.
    READER_REPORTS = "reader_reports"  # distinct readers' reports reached flags_to_hold
    POSTED_DESPITE_WARNING = "posted_despite_warning"
    SCORING_FAILED = "scoring_failed"  # the model failed, or workers died, too often
    # People.
    MODERATOR = "moderator"  # a moderator's decision (or its undo)
    AUTHOR_EDIT = "author_edit"
    AUTHOR_DELETE = "author_delete"
    IMPORT = "import"  # brought in from another platform with the status it had there
    # Rows written before rules were recorded whose prose matched no rule (migration 0007).
    UNRECORDED = "unrecorded"


class LearnOutcome(enum.StrEnum):
    """What one ``flask moderation learn`` run (or the worker's) came to for a site."""

    TOO_FEW = "too_few"  # fewer decisions of a kind than MODERATION_LEARN_MIN_DECISIONS
    NOT_BETTER = "not_better"  # cross-validated, it did not beat the site's thresholds
    LIVE = "live"  # it beat them: the policy uses it (unless an admin switched it off)


class ImportSource(enum.StrEnum):
    """Where an imported comment came from (``imported_comment.source``)."""

    WXR = "wxr"  # a WordPress export (WXR)
    DISQUS = "disqus"  # a Disqus XML export
    ISSO = "isso"  # an Isso SQLite database


class ImportScoring(enum.StrEnum):
    """What the workers still owe an imported comment: a score to record beside the status
    people gave it (``record``), or a score and the site's policy (``decide``, asked for
    with ``--apply-policy``). Null once scored, or when the import asked for no score."""

    RECORD = "record"
    DECIDE = "decide"


class EventType(enum.StrEnum):
    """What the lifecycle tells the rest of the world, through the outbox. Each status
    change emits exactly one event, named for what happened to the comment; ``scored``,
    ``reported`` and ``kept`` are the changes that leave the status as it was."""

    CREATED = "comment.created"  # stored: pending (or held, posted despite the warning)
    SCORED = "comment.scored"  # a new score that did not change the status
    HELD = "comment.held"  # → held: the policy, readers' reports, scoring failed, undo
    PUBLISHED = "comment.published"  # → visible (from pending or held)
    HIDDEN = "comment.hidden"  # → hidden by the policy or a moderator
    RESTORED = "comment.restored"  # hidden → visible
    REQUEUED = "comment.requeued"  # → pending again (a moderator's decision undone)
    REPORTED = "comment.reported"  # a reader's report that did not change the status
    KEPT = "comment.kept"  # a moderator kept a reported comment: its reports dismissed
    EDITED = "comment.edited"  # the author changed the text: → pending (or held)
    DELETED = "comment.deleted"  # the author took it down: → hidden


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # failed for longer than the retry window; shown to admins


class NotifyPreference(enum.StrEnum):
    """How a moderator hears of comments held on their sites: a mail for each (the
    default, as WordPress does), an hourly or daily digest, or nothing."""

    IMMEDIATE = "immediate"
    HOURLY = "hourly"
    DAILY = "daily"
    OFF = "off"


class MailKind(enum.StrEnum):
    IMMEDIATE = "immediate"  # one held comment
    DIGEST = "digest"  # the held comments of an hour or a day
    SUMMARY = "summary"  # an immediate moderator's overflow: more than the burst limit a minute


class ReaderMailKind(enum.StrEnum):
    CONFIRM = "confirm"  # the double opt-in: confirm that this address wants reply mail
    REPLY = "reply"  # a reply to one of the reader's comments became visible


def enum_column(enum_cls: type[enum.Enum], name: str | None = None, length: int = 16) -> Enum:
    """A VARCHAR holding the enum's *value* (not its name), checked by a constraint named
    ``name`` (default: the enum's name; give one when a table has two such columns)."""
    return Enum(
        enum_cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        create_constraint=True,
        length=length,
        name=name or enum_cls.__name__.lower(),
        validate_strings=True,
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """``moment`` in ISO 8601 with ``Z`` for UTC (None stays None): how the API, events
    and webhooks write times."""
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
