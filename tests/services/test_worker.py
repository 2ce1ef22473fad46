"""The scoring pipeline in one process: claims, leases, exactly-once results, failures,
and the inline budget. (tests/test_worker_processes.py kills real worker processes.)"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from moderation.current_scorer import get_scorer
from moderation.db import db
from moderation.models import Comment, ModerationAction, OutboxEvent, Score, Site
from moderation.services import comments, lifecycle, worker
from moderation.types import Actor, CommentStatus, utcnow
from tests.conftest import end_connection, postgres_only


def pending(session: Session, site: Site, bodies: Sequence[str]) -> list[Comment]:
    made = [
        comments.submit(
            session, site_slug=site.slug, thread_key="t", author_name="A", body=body, now=utcnow()
        )
        for body in bodies
    ]
    session.commit()
    return made


def run_once(session: Session, **kwargs: object) -> worker.BatchResult:
    options: dict[str, object] = {"batch_size": 10, "lease_seconds": 60, "max_attempts": 3}
    options.update(kwargs)
    return worker.process_batch(session, get_scorer(), "w1", **options)  # type: ignore[arg-type]


def test_worker_scores_and_decides_pending_comments(session: Session, site: Site) -> None:
    clean, toxic = pending(session, site, ["What a thoughtful post, thanks", "fuck you idiot"])
    result = run_once(session)
    assert (result.claimed, result.scored) == (2, 2)
    session.expire_all()
    assert clean.status == CommentStatus.VISIBLE
    assert toxic.status == CommentStatus.HELD
    [score] = toxic.scores
    assert score.scorer == "lite"
    assert score.scorer_version.startswith("alt-profanity-check==")
    assert set(score.labels) == {"toxicity"}
    assert toxic.top_score == score.labels["toxicity"] > 0.9
    [action] = toxic.actions
    assert (action.actor, action.from_status, action.to_status) == (
        Actor.SYSTEM,
        CommentStatus.PENDING,
        CommentStatus.HELD,
    )
    assert action.reason.startswith("toxicity 1.00 ≥ hold threshold")
    assert toxic.claimed_by is None and toxic.claimed_until is None


def test_claims_take_the_oldest_first_in_batches(session: Session, site: Site) -> None:
    made = pending(session, site, [f"comment {i}" for i in range(25)])
    token, claimed = worker.claim_batch(session, "w1", 10, 60, utcnow())
    session.commit()
    assert [c.id for c in claimed] == [c.id for c in made[:10]]
    _, second = worker.claim_batch(session, "w2", 10, 60, utcnow())
    assert [c.id for c in second] == [c.id for c in made[10:20]]


def test_a_claim_held_by_a_dead_worker_is_taken_over_after_its_lease(
    session: Session, site: Site
) -> None:
    [comment] = pending(session, site, ["hello there"])
    now = utcnow()
    dead_token, [claimed] = worker.claim_batch(session, "dead", 10, 30, now)
    session.commit()
    # Within the lease nobody else may take it.
    assert worker.claim_batch(session, "live", 10, 30, now + timedelta(seconds=29))[1] == []
    live_token, [taken] = worker.claim_batch(session, "live", 10, 30, now + timedelta(seconds=31))
    session.commit()
    assert taken.id == comment.id
    scorer = get_scorer()
    assert (
        lifecycle.record_scores(
            session, taken, {"toxicity": 0.1}, scorer, 1.0, utcnow(), live_token
        )
        is not None
    )
    # The dead worker wakes up late: its result is dropped, nothing is scored twice.
    assert (
        lifecycle.record_scores(
            session, claimed, {"toxicity": 0.9}, scorer, 1.0, utcnow(), dead_token
        )
        is None
    )
    session.commit()
    assert session.scalar(select(func.count(Score.id))) == 1
    session.refresh(comment)
    assert comment.status == CommentStatus.VISIBLE


class BrokenScorer:
    name = "broken"
    version = "0"
    labels = ("toxicity",)
    default_thresholds: dict[str, object] = {}

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        raise RuntimeError("model file is corrupt")


def test_a_failing_model_releases_the_batch_then_holds_it_for_review(
    session: Session, site: Site
) -> None:
    [comment] = pending(session, site, ["anything"])
    broken = BrokenScorer()
    for attempt in range(1, 3):
        result = worker.process_batch(
            session, broken, "w", batch_size=5, lease_seconds=60, max_attempts=3
        )
        assert result.failed == 1
        session.refresh(comment)
        assert (comment.status, comment.claimed_by, comment.score_attempts) == (
            CommentStatus.PENDING,
            None,
            attempt,
        )
    worker.process_batch(session, broken, "w", batch_size=5, lease_seconds=60, max_attempts=3)
    session.refresh(comment)
    assert comment.status == CommentStatus.HELD
    assert "scoring failed 3 times" in comment.actions[-1].reason


def test_inline_scoring_gives_up_when_the_budget_runs_out(session: Session, site: Site) -> None:
    release = threading.Event()

    class SlowScorer:
        name = "slow"
        version = "1"
        labels = ("toxicity",)
        default_thresholds = get_scorer().default_thresholds

        def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
            release.wait(5)
            return [{"toxicity": 0.0} for _ in texts]

    [comment] = pending(session, site, ["hi"])
    assert worker.score_inline(session, comment, SlowScorer(), budget_ms=50) is None
    release.set()
    session.commit()
    session.refresh(comment)
    assert comment.status == CommentStatus.PENDING
    assert session.scalar(select(func.count(Score.id))) == 0
    # The worker finishes the job.
    assert run_once(session).scored == 1


def test_worker_loop_drains_the_queue_and_stops(session: Session, site: Site) -> None:
    pending(session, site, [f"note {i}" for i in range(23)])
    loop = worker.Worker(
        session, get_scorer(), batch_size=5, lease_seconds=60, poll_seconds=0.01, max_attempts=3
    )
    assert loop.run(once=True) == 23
    statuses = session.scalars(select(Comment.status)).all()
    assert set(statuses) == {CommentStatus.VISIBLE}
    actions = session.scalar(
        select(func.count(ModerationAction.id)).where(ModerationAction.actor == Actor.SYSTEM)
    )
    assert actions == 23


class PoisonScorer:
    """A model that crashes on one particular text, as a tokenizer bug might."""

    name = "poison"
    version = "1"
    labels = ("toxicity",)
    default_thresholds: dict[str, object] = {}

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if any("poison" in t for t in texts):
            raise RuntimeError("tokenizer crashed")
        return [{"toxicity": 0.0} for _ in texts]


def test_one_text_that_crashes_the_model_does_not_take_its_batch_down(
    session: Session, site: Site
) -> None:
    good_a, poison, good_b = pending(session, site, ["fine", "poison pill", "also fine"])
    scorer = PoisonScorer()
    first = worker.process_batch(
        session, scorer, "w", batch_size=10, lease_seconds=60, max_attempts=2
    )
    assert (first.scored, first.failed) == (2, 1)
    session.expire_all()
    assert (good_a.status, good_b.status) == (CommentStatus.VISIBLE, CommentStatus.VISIBLE)
    assert (poison.status, poison.score_attempts) == (CommentStatus.PENDING, 1)
    worker.process_batch(session, scorer, "w", batch_size=10, lease_seconds=60, max_attempts=2)
    session.expire_all()
    assert poison.status == CommentStatus.HELD
    assert "scoring failed 2 times" in poison.actions[-1].reason


def test_a_comment_whose_workers_keep_dying_is_held_not_retried_forever(
    session: Session, site: Site
) -> None:
    [comment] = pending(session, site, ["kills the worker"])
    comment.score_attempts = 5  # five workers claimed it and died before finishing
    session.commit()
    result = run_once(session, max_attempts=5)
    assert (result.claimed, result.scored, result.failed) == (1, 0, 1)
    session.refresh(comment)
    assert comment.status == CommentStatus.HELD
    assert "its worker stopped while scoring it" in comment.actions[-1].reason


class RecordedPauses:
    """The delivery loop's stop event, recording each pause it asks for; the first pause
    other than the short gathering one (nothing left to do, or a failed round), or the
    twentieth, stops it."""

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.pauses: list[float] = []
        self.stopped = False

    def is_set(self) -> bool:
        return self.stopped

    def set(self) -> None:
        self.stopped = True

    def wait(self, timeout: float) -> bool:
        self.pauses.append(timeout)
        self.stopped = timeout != worker.GATHER_SECONDS or len(self.pauses) >= 20
        return self.stopped


def test_event_delivery_drains_a_backlog_without_pausing_and_gathers_a_trickle(
    session: Session, site: Site
) -> None:
    """23 new comments' events, 8 per round: two full rounds back to back, then the
    partial third is followed by a short pause in which more posts' events would gather
    (one round of queries for many), then the idle poll."""
    pending(session, site, [f"comment {i}" for i in range(23)])
    loop = worker.Worker(
        session, get_scorer(), batch_size=2, lease_seconds=60, poll_seconds=0.5, max_attempts=3
    )
    pauses = RecordedPauses(loop.poll_seconds)
    loop._stop = pauses  # type: ignore[assignment]
    loop._deliver_until_stopped(session.get_bind())
    assert pauses.pauses == [worker.GATHER_SECONDS, 0.5]
    undispatched = session.scalar(
        select(func.count(OutboxEvent.id)).where(OutboxEvent.published_at.is_(None))
    )
    assert undispatched == 0


def _run_once_with(session: Session, **listeners: Callable[..., None]) -> int:
    """The worker loop until the queue is empty (``run(once=True)``), with the engine's
    events ``listeners`` (event name: function) in place; how many comments it scored."""
    for name, listener in listeners.items():
        event.listen(db.engine, name, listener)
    loop = worker.Worker(
        session, get_scorer(), batch_size=5, lease_seconds=60, poll_seconds=0.01, max_attempts=3
    )
    try:
        return loop.run(once=True)
    finally:
        for name, listener in listeners.items():
            event.remove(db.engine, name, listener)


@postgres_only
def test_the_worker_goes_on_after_the_database_drops_its_connection(
    session: Session, site: Site
) -> None:
    """PostgreSQL ends the worker's connection in the middle of a batch (a restart, a
    failover): the loop rolls back, waits, and scores the comments with a new connection,
    where a rollback that failed on the dead connection used to end the worker for good."""
    made = pending(session, site, ["first", "second"])
    cut: list[int] = []

    def drop_on_claim(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not cut and statement.startswith("UPDATE comment"):
            cut.append(cursor.connection.info.backend_pid)
            end_connection(cut[0])

    scored = _run_once_with(session, before_cursor_execute=drop_on_claim)
    assert cut, "no claim was cut: the test tested nothing"
    assert scored == 2
    session.expire_all()
    assert [c.status for c in made] == [CommentStatus.VISIBLE] * 2


@postgres_only
def test_the_worker_goes_on_when_the_rollback_after_a_failure_fails_too(
    session: Session, site: Site
) -> None:
    """A batch fails (here: an error raised at its claim), and the database goes away
    before the loop's ROLLBACK reaches it, so the rollback fails as well: the loop closes
    the session and scores the comments on its next try, instead of ending."""
    ids = [c.id for c in pending(session, site, ["first", "second"])]
    failed: list[str] = []

    def fail_the_claim(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not failed and statement.startswith("UPDATE comment"):
            failed.append("claim")
            raise RuntimeError("the batch failed")

    def drop_before_the_rollback(conn: Any) -> None:
        if failed == ["claim"]:
            failed.append("rollback")
            end_connection(conn.connection.dbapi_connection.info.backend_pid)

    scored = _run_once_with(
        session, before_cursor_execute=fail_the_claim, rollback=drop_before_the_rollback
    )
    assert failed == ["claim", "rollback"], "the test tested nothing"
    assert scored == 2
    # (the loop closed the session: its objects are gone with it)
    statuses = session.scalars(select(Comment.status).where(Comment.id.in_(ids))).all()
    assert statuses == [CommentStatus.VISIBLE] * 2
