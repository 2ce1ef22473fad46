"""Scoring pending comments: claim a batch with a lease, score it, apply the policy.

A claim is a conditional UPDATE (on PostgreSQL over ``SELECT ... FOR UPDATE SKIP LOCKED``
so many workers share the queue without waiting on each other). Recording a result is
another conditional UPDATE that succeeds only while the comment is still pending *and*
still ours (``lifecycle.record_scores``), so a comment is scored exactly once even when a
lease runs out and another worker takes it over. A worker that dies leaves its claims to
expire; nothing is lost."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from moderation.models import Comment, ImportedComment
from moderation.scoring import Scorer
from moderation.services import (
    learning,
    lifecycle,
    notifications,
    outbox,
    policy,
    reader_mail,
    webhooks,
)
from moderation.services import retention as retention_service
from moderation.types import CommentStatus, ImportScoring, utcnow

log = logging.getLogger(__name__)
# How long the event delivery waits after a round that had work before the next: what a
# notification or webhook may be late by, for a round of queries shared by many events.
GATHER_SECONDS = 0.1
# What a round of event delivery found: nothing to do, some, or a whole batch (a backlog).
Round = Literal["idle", "some", "full"]

Clock = Callable[[], datetime]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return (
        Comment.status == CommentStatus.PENDING,
        or_(Comment.claimed_until.is_(None), Comment.claimed_until < now),
    )


def _lease_free(now: datetime):  # type: ignore[no-untyped-def]
    return or_(Comment.claimed_until.is_(None), Comment.claimed_until < now)


def claim_batch(
    session: Session, worker_id: str, batch_size: int, lease_seconds: float, now: datetime
) -> tuple[str, list[Comment]]:
    """Claim up to ``batch_size`` pending comments, oldest first, for ``lease_seconds``;
    when fewer are pending, fill the batch with imported comments still to score
    (``ImportedComment.scoring``): comments posted now come before a site's history.
    Returns the claim token and the claimed comments. The caller commits."""
    token = f"{worker_id}/{uuid.uuid4().hex[:8]}"
    # Two statements on purpose: PostgreSQL may re-run an IN (SELECT ... LIMIT) subquery
    # for each row it updates, and would then claim far more than batch_size rows. The
    # row locks of FOR UPDATE SKIP LOCKED last until the claim commits; on SQLite, where
    # there are none, the conditional UPDATE keeps two claimers from sharing a comment.
    candidate_ids = session.scalars(
        select(Comment.id)
        .where(*_claimable(now))
        .order_by(Comment.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    imported_ids: Sequence[int] = []
    if len(candidate_ids) < batch_size:
        imported_ids = session.scalars(
            select(Comment.id)
            .join(ImportedComment, ImportedComment.comment_id == Comment.id)
            .where(ImportedComment.scoring.is_not(None), _lease_free(now))
            .order_by(ImportedComment.scoring, ImportedComment.comment_id)
            .limit(batch_size - len(candidate_ids))
            .with_for_update(skip_locked=True, of=Comment)
        ).all()
    if not candidate_ids and not imported_ids:
        return token, []
    session.execute(
        update(Comment)
        .where(
            or_(
                and_(Comment.id.in_(candidate_ids), *_claimable(now)),
                and_(Comment.id.in_(imported_ids), _lease_free(now)),
            )
        )
        .values(
            claimed_by=token,
            claimed_until=now + timedelta(seconds=lease_seconds),
            score_attempts=Comment.score_attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = session.scalars(
        select(Comment)
        .where(Comment.claimed_by == token)
        .order_by(Comment.id)
        .execution_options(populate_existing=True)
    ).all()
    return token, list(claimed)


def _give_up_or_release(
    session: Session,
    comments: Sequence[Comment],
    token: str,
    max_attempts: int,
    now: datetime,
    error: str,
    imported: Collection[int] = (),
) -> None:
    """Hold for a moderator the comments that used up their attempts; release the claim
    on the others so that another try can take them. An imported comment (``imported``)
    that used up its attempts keeps the status people gave it, unscored."""
    for comment in comments:
        if comment.score_attempts >= max_attempts and comment.id in imported:
            log.warning("imported comment %s could not be scored: %s", comment.id, error)
            session.execute(
                update(ImportedComment)
                .where(ImportedComment.comment_id == comment.id)
                .values(scoring=None)
                .execution_options(synchronize_session=False)
            )
        if comment.score_attempts >= max_attempts and comment.id not in imported:
            lifecycle.give_up_scoring(session, comment, token, error, now)
        else:
            session.execute(
                update(Comment)
                .where(Comment.id == comment.id, Comment.claimed_by == token)
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
    session.flush()


@dataclass
class BatchResult:
    claimed: int
    scored: int
    failed: int = 0


def process_batch(
    session: Session,
    scorer: Scorer,
    worker_id: str,
    *,
    batch_size: int,
    lease_seconds: float,
    max_attempts: int,
    clock: Clock = utcnow,
) -> BatchResult:
    """Claim, score and decide one batch, committing the claim and then the results.

    A comment claimed more than ``max_attempts`` times (its workers died or failed while
    scoring it, e.g. one text that crashes the model) is held for a moderator instead of
    being scored again. When the model fails on a batch, its comments are retried one by
    one, so only the comment that makes it fail uses up its attempts."""
    token, claimed = claim_batch(session, worker_id, batch_size, lease_seconds, clock())
    session.commit()
    if not claimed:
        return BatchResult(0, 0)
    # Imported comments owe a score, not a first decision: what to do with it.
    imported = {
        comment_id: scoring
        for comment_id, scoring in session.execute(
            select(ImportedComment.comment_id, ImportedComment.scoring).where(
                ImportedComment.comment_id.in_([c.id for c in claimed]),
                ImportedComment.scoring.is_not(None),
            )
        )
    }
    exhausted = [c for c in claimed if c.score_attempts > max_attempts]
    if exhausted:
        _give_up_or_release(
            session,
            exhausted,
            token,
            max_attempts,
            clock(),
            "its worker stopped while scoring it",
            imported,
        )
        session.commit()
    comments = [c for c in claimed if c.score_attempts <= max_attempts]
    scored = failed = 0
    for group in [comments] if len(comments) <= 1 else [comments, *([c] for c in comments)]:
        pending = [
            c
            for c in group
            if c.claimed_by and (c.status == CommentStatus.PENDING or c.id in imported)
        ]
        if not pending:
            continue
        started = time.perf_counter()
        try:
            results = scorer.score([c.body for c in pending])
        except Exception as exc:  # a model failure must not strand the batch
            log.exception("scoring %d comment(s) failed", len(pending))
            if len(pending) == 1 or len(comments) == 1:
                _give_up_or_release(
                    session, pending, token, max_attempts, clock(), repr(exc)[:200], imported
                )
                session.commit()
                failed += len(pending)
            continue  # a failed whole batch is retried one comment at a time
        per_comment_ms = (time.perf_counter() - started) * 1000 / len(pending)
        now = clock()
        for comment, scores in zip(pending, results, strict=True):
            if comment.id in imported:
                recorded = lifecycle.record_import_score(
                    session,
                    comment,
                    scores,
                    scorer,
                    per_comment_ms,
                    now,
                    token,
                    apply_policy=imported[comment.id] == ImportScoring.DECIDE,
                )
                scored += recorded is not None
            elif lifecycle.record_scores(
                session, comment, scores, scorer, per_comment_ms, now, token
            ):
                scored += 1
        session.commit()
        if group is comments:
            break  # the whole batch went through: no need for one-by-one
    return BatchResult(len(claimed), scored, failed=failed + len(exhausted))


def _roll_back(session: Session) -> None:
    """Roll back after a failed round. The ROLLBACK itself fails when the database went
    away after the round's error and before it: the session is then closed (its
    connection goes back to the pool, which replaces it), so that the loop goes on to its
    next try rather than ending on an error of its own error handling."""
    try:
        session.rollback()
    except Exception:
        log.warning("worker: the rollback after a failure failed too; closing the session",
                    exc_info=True)  # fmt: skip
        session.close()


class Worker:
    """The loop around ``process_batch``. ``stop()`` (or SIGTERM, in the CLI) lets the
    current batch finish, then the loop returns."""

    def __init__(
        self,
        session: Session,
        scorer: Scorer,
        *,
        batch_size: int,
        lease_seconds: float,
        poll_seconds: float,
        max_attempts: int,
        worker_id: str | None = None,
        clock: Clock = utcnow,
        webhook_allow_private: bool = False,
        notifier: notifications.Notifier | None = None,
        learn: learning.Settings | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.session = session
        self.scorer = scorer
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.worker_id = worker_id or new_worker_id()
        self.clock = clock
        self.webhook_allow_private = webhook_allow_private
        self.notifier = notifier  # None: mail is queued but not sent by this worker
        self.learn = learn  # None: this worker never learns sites' standards
        self._learn_checked: float | None = None
        self.retention = retention  # None: this worker prunes nothing
        self._pruned_at: datetime | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, once: bool = False) -> int:
        """Process batches until stopped (or, with ``once``, until the queue is empty and
        every due event is delivered). Returns how many comments this worker scored.

        Events are delivered beside the scoring, in a thread with a session of its own,
        so that a slow webhook receiver never holds up a comment; with ``once`` both run
        in turn in this thread (tests, and `worker --once`)."""
        delivery: threading.Thread | None = None
        if not once:
            delivery = threading.Thread(
                target=self._deliver_until_stopped,
                args=(self.session.get_bind(),),  # here: Flask-SQLAlchemy's needs the app
                name=f"{self.worker_id}-events",
                daemon=True,
            )
            delivery.start()
        total = 0
        try:
            while not self._stop.is_set():
                try:
                    result = process_batch(
                        self.session,
                        self.scorer,
                        self.worker_id,
                        batch_size=self.batch_size,
                        lease_seconds=self.lease_seconds,
                        max_attempts=self.max_attempts,
                        clock=self.clock,
                    )
                except Exception:  # the database went away, say: wait and try again
                    log.exception("worker %s: batch failed; retrying", self.worker_id)
                    _roll_back(self.session)
                    self._stop.wait(self.poll_seconds * 4)
                    continue
                total += result.scored
                busy = self._deliver_once(self.session) != "idle" if once else False
                if result.claimed == 0 and not busy:
                    self._learn_when_due(force=once)
                    if once:
                        break
                    self._stop.wait(self.poll_seconds)
        finally:
            if delivery is not None:
                self._stop.set()
                delivery.join(timeout=30)
        return total

    def _learn_when_due(self, force: bool = False) -> None:
        """When idle: learn again for the sites whose moderators decided enough since
        their last run (``learning.learn_due``), looking at most every
        ``learn.check_seconds`` (``force``: now). A failure is logged; scoring goes on."""
        if self.learn is None or self.learn.every <= 0:
            return
        moment = time.monotonic()
        if (
            not force
            and self._learn_checked is not None
            and moment - self._learn_checked < self.learn.check_seconds
        ):
            return
        self._learn_checked = moment
        try:
            outcomes = learning.learn_due(
                self.session,
                self.scorer.name,
                self.scorer.default_thresholds,
                every=self.learn.every,
                minimum=self.learn.minimum,
                recall_tolerance=self.learn.recall_tolerance,
                now=self.clock(),
                rescore=policy.rescorer(self.scorer),
                apart=True,  # scikit-learn stays out of this (maybe web) process
            )
            self.session.commit()
        except Exception:
            log.exception("worker %s: learning from moderators failed", self.worker_id)
            _roll_back(self.session)
            return
        for outcome in outcomes:
            log.info("site %s: %s", outcome.calibration.site.slug, outcome.calibration.note)

    def _deliver_until_stopped(self, bind: Engine | Connection) -> None:
        session = Session(bind=bind)
        try:
            while not self._stop.is_set():
                done = self._deliver_once(session)
                if done == "idle":
                    self._stop.wait(self.poll_seconds)
                elif done == "some":
                    # A short pause after a round with work: the events of the posts
                    # that arrive meanwhile go out together, one round of queries for
                    # many, where back-to-back rounds under a busy site's posts cost a
                    # tenth of the web process's CPU, one event each (README,
                    # Performance). A full round (a backlog) goes on at once.
                    self._stop.wait(min(self.poll_seconds, GATHER_SECONDS))
        finally:
            session.close()

    def _deliver_once(self, session: Session) -> Round:
        try:
            return self._deliver_round(session)
        except Exception:  # the database went away, say: wait and try again
            log.exception("worker %s: delivering events failed; retrying", self.worker_id)
            _roll_back(session)
            self._stop.wait(self.poll_seconds * 4)
            return "idle"

    def deliver_events(self, session: Session | None = None) -> bool:
        """Fan new outbox events out to webhooks, moderators' and readers' mail, gather due digests,
        and send the deliveries and mails that are due. Returns whether there was anything
        to do."""
        return self._deliver_round(session or self.session) != "idle"

    def _deliver_round(self, session: Session) -> Round:
        dispatched = outbox.dispatch(session, self.clock(), batch_size=self.batch_size * 4)
        session.commit()
        digests = notifications.collect_digests(session, self.clock())
        session.commit()
        delivered = webhooks.deliver_due(
            session,
            self.worker_id,
            self.clock,
            batch_size=self.batch_size,
            lease_seconds=self.lease_seconds,
            allow_private=self.webhook_allow_private,
        )
        mailed = 0
        if self.notifier is not None:
            mailed = notifications.deliver_due(
                session,
                self.worker_id,
                self.clock,
                self.notifier,
                batch_size=self.batch_size,
                lease_seconds=self.lease_seconds,
            ).claimed
            mailed += reader_mail.deliver_due(
                session,
                self.worker_id,
                self.clock,
                self.notifier,
                batch_size=self.batch_size,
                lease_seconds=self.lease_seconds,
            ).claimed
        self.prune_if_due(session)
        if (
            dispatched >= self.batch_size * 4
            or delivered.claimed >= self.batch_size
            or mailed >= self.batch_size
        ):
            return "full"
        return "some" if dispatched or digests or delivered.claimed or mailed else "idle"

    def prune_if_due(self, session: Session) -> retention_service.Pruned | None:
        """Run services.retention's pass when the last one (by this worker) is older than
        ``retention.every``; several workers each pruning now and then is harmless (the
        deletes are idempotent). Returns what it pruned, or None when it was not due."""
        if self.retention is None:
            return None
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < self.retention.every:
            return None
        self._pruned_at = now
        pruned = retention_service.prune(
            session, now, self.retention.keep, self.retention.session_lifetime
        )
        session.commit()
        if pruned.total:
            log.info("worker %s: pruned %s", self.worker_id, pruned.summary())
        return pruned


@dataclass(frozen=True)
class Retention:
    """How long a worker keeps what services.retention prunes, and how often it looks."""

    keep: timedelta
    session_lifetime: timedelta
    every: timedelta = timedelta(hours=1)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Retention | None:
        if not config["RETENTION_DAYS"]:
            return None
        return cls(
            keep=timedelta(days=config["RETENTION_DAYS"]),
            session_lifetime=timedelta(days=config["SESSION_LIFETIME_DAYS"]),
        )


# Inline scoring runs the model in this pool so the request can stop waiting when its
# budget runs out; the comment then stays pending and the worker scores it.
_inline_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="inline-score")


@dataclass(frozen=True)
class InlineScores:
    """The model's scores for one text, and how long they took."""

    scores: dict[str, float]
    duration_ms: float


def score_text(scorer: Scorer, text: str, budget_ms: float) -> InlineScores | None:
    """Score one text within ``budget_ms``; None when the budget ran out or the model
    failed (the comment then stays pending and the worker scores it)."""
    if budget_ms <= 0:
        return None
    started = time.perf_counter()
    future = _inline_pool.submit(scorer.score, [text])
    try:
        [scores] = future.result(timeout=budget_ms / 1000)
    except FutureTimeout:
        return None
    except Exception:
        log.exception("inline scoring failed; the worker will retry")
        return None
    return InlineScores(scores, (time.perf_counter() - started) * 1000)


def score_inline(
    session: Session, comment: Comment, scorer: Scorer, budget_ms: float, clock: Clock = utcnow
) -> policy.Decision | None:
    """Try to score a just-committed comment within ``budget_ms``. Returns the decision,
    or None when the budget ran out or the model failed (the worker takes over)."""
    scored = score_text(scorer, comment.body, budget_ms)
    if scored is None:
        return None
    return lifecycle.record_scores(
        session, comment, scored.scores, scorer, scored.duration_ms, clock()
    )
