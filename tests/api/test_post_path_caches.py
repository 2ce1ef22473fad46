"""What the cheaper POST and counts paths must keep: a post scored inline is stored with
its decision as before (the same rows, the same events); each web process keeps sites
and comment counts in memory, and a change is seen by the next request in that process
and within SITE_CACHE_SECONDS / COUNTS_CACHE_SECONDS in another."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy.orm import Session

from app import create_app
from moderation.db import db
from moderation.models import (
    ActionRule,
    Comment,
    ModerationAction,
    OutboxEvent,
    Score,
    Site,
    SiteCalibration,
)
from moderation.services import review, sites
from moderation.services.moderators import create_moderator
from moderation.types import LearnOutcome, Role, utcnow
from tests.conftest import REPO, IsolatedClient, app_config, make_site, reset_database

COUNTS = "/api/v1/sites/blog/counts?thread=post-1&thread=post-2"


@contextmanager
def serving(database_url: str, backend: str, **settings: Any) -> Iterator[Flask]:
    """The app with ``settings``, on an empty database with the site "blog"."""
    app = create_app(app_config(database_url, **settings))
    app.test_client_class = IsolatedClient
    with app.app_context():
        reset_database(backend)
        make_site(db.session, "blog")  # type: ignore[arg-type]
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url: str, backend: str) -> Iterator[Flask]:
    # Short lifetimes so that the "other process" tests wait little.
    with serving(database_url, backend, SITE_CACHE_SECONDS=0.5, COUNTS_CACHE_SECONDS=0.5) as app:
        yield app


@pytest.fixture
def patient_app(database_url: str, backend: str) -> Iterator[Flask]:
    # Lifetimes no test outlasts, however slow the machine: only commits empty the caches.
    with serving(database_url, backend, SITE_CACHE_SECONDS=60, COUNTS_CACHE_SECONDS=60) as app:
        yield app


def post(client: FlaskClient, body: str, thread: str = "post-1") -> Any:
    response = client.post(
        "/api/v1/sites/blog/comments",
        json={"thread": thread, "author_name": "Ada", "body": body},
    )
    assert response.status_code in (201, 202), response.json
    return response


def another_process_runs(database_url: str, statement: str) -> None:
    """A change made outside this process: its own engine, no session of ours."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def test_a_post_scored_inline_is_stored_with_its_decision_action_events_and_score(
    app: Flask, session: Session
) -> None:
    answer = post(app.test_client(), "What a thoughtful article, thank you.")
    assert answer.status_code == 201 and answer.json["status"] == "visible"
    comment = session.get(Comment, answer.json["id"])
    assert comment is not None and comment.version == 2 and comment.top_score is not None
    [action] = session.scalars(
        select(ModerationAction).where(ModerationAction.comment_id == comment.id)
    )
    assert (action.from_status, action.to_status) == ("pending", "visible")
    assert action.rule == "passed_policy" and action.reason
    assert [
        r.rule for r in session.scalars(select(ActionRule).where(ActionRule.action_id == action.id))
    ] == ["passed_policy"]
    events = session.scalars(
        select(OutboxEvent).where(OutboxEvent.comment_id == comment.id).order_by(OutboxEvent.id)
    ).all()
    assert [e.type for e in events] == ["comment.created", "comment.published"]
    assert events[0].action_id is None
    assert (events[0].payload["status"], events[0].payload["version"]) == ("pending", 1)
    assert events[1].action_id == action.id
    assert (events[1].payload["status"], events[1].payload["version"]) == ("visible", 2)
    assert events[1].payload["scores"] == comment.scores[0].labels
    [score] = session.scalars(select(Score).where(Score.comment_id == comment.id))
    assert score.superseded_at is None and max(score.labels.values()) == comment.top_score


def test_a_site_change_in_this_process_applies_to_the_next_post(
    app: Flask, session: Session
) -> None:
    client = app.test_client()
    assert post(client, "Before the change.").json["status"] == "visible"  # site now cached
    site = session.scalar(select(Site).where(Site.slug == "blog"))
    assert site is not None
    sites.update_settings(session, site, {"moderation_mode": "pre"}, None, utcnow())
    session.commit()
    held = post(client, "Right after the change.")
    assert held.status_code == 202 and held.json["status"] == "held"
    shown = client.get("/api/v1/sites/blog/comments?thread=post-1").json["comments"]
    assert [c["body_html"] for c in shown] == ["<p>Before the change.</p>"]


def test_a_site_change_by_another_process_applies_within_site_cache_seconds(
    app: Flask, database_url: str
) -> None:
    client = app.test_client()
    assert post(client, "Before the change.").json["status"] == "visible"
    another_process_runs(database_url, "UPDATE site SET moderation_mode = 'pre'")
    time.sleep(0.6)  # SITE_CACHE_SECONDS is 0.5 here
    assert post(client, "After the change.").json["status"] == "held"


def test_a_deleted_site_is_gone_for_the_next_request(app: Flask, session: Session) -> None:
    client = app.test_client()
    assert client.get(COUNTS).status_code == 200  # the site is cached
    site = session.scalar(select(Site).where(Site.slug == "blog"))
    assert site is not None
    sites.delete_site(session, site)
    session.commit()
    assert client.get(COUNTS).status_code == 404
    assert (
        client.post(
            "/api/v1/sites/blog/comments",
            json={"thread": "post-1", "author_name": "Ada", "body": "Hello?"},
        ).status_code
        == 404
    )


def test_counts_follow_every_change_and_answer_304_to_the_current_etag(
    app: Flask, session: Session
) -> None:
    client = app.test_client()
    empty = client.get(COUNTS)
    assert empty.json == {"counts": {"post-1": 0, "post-2": 0}}
    assert client.get(COUNTS, headers={"If-None-Match": empty.headers["ETag"]}).status_code == 304

    first = post(client, "One.").json
    post(client, "Two.", thread="post-2")
    counted = client.get(COUNTS)
    assert counted.json == {"counts": {"post-1": 1, "post-2": 1}}
    assert counted.headers["ETag"] != empty.headers["ETag"]
    again = client.get(COUNTS, headers={"If-None-Match": counted.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""

    moderator, _ = create_moderator(session, "m@example.org", Role.ADMIN, [], "a long password")
    comment = session.get(Comment, first["id"])
    assert comment is not None
    review.decide(
        session, moderator, review.Scope(None), [(comment.id, comment.version)],
        review.Action.HIDE, utcnow(),
    )  # fmt: skip
    session.commit()
    assert client.get(COUNTS).json == {"counts": {"post-1": 0, "post-2": 1}}


def test_counts_stay_cached_through_commits_that_write_no_comment_thread_or_site(
    patient_app: Flask,
) -> None:
    # Under a stream of posts most commits are the worker's (events delivered, mails, its
    # idle rounds): each one used to empty the counts cache. Only a commit that wrote
    # comments, threads or sites does now (db.CONTENT_TABLES). (With the short lifetimes
    # of `app`, a slow machine's password hashing outlasted the caches.)
    client = patient_app.test_client()
    session = db.session
    post(client, "One.")
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def counts_querying() -> tuple[Any, int]:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            answer = client.get(COUNTS).json
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return answer, len(statements)

    assert counts_querying() == ({"counts": {"post-1": 1, "post-2": 0}}, 1)
    assert counts_querying()[1] == 0  # cached

    create_moderator(session, "m@example.org", Role.ADMIN, [], "a long password")
    session.commit()  # a write elsewhere
    session.execute(select(Comment.id)).all()
    session.commit()  # a read
    assert counts_querying() == ({"counts": {"post-1": 1, "post-2": 0}}, 0)

    session.execute(text("UPDATE comment SET status = 'hidden'"))  # SQL it cannot read
    session.commit()
    assert counts_querying() == ({"counts": {"post-1": 0, "post-2": 0}}, 1)
    post(client, "Two.", thread="post-2")  # compiled INSERTs and UPDATEs
    assert counts_querying() == ({"counts": {"post-1": 0, "post-2": 1}}, 1)
    session.rollback()


def test_counts_changed_by_another_process_are_seen_within_counts_cache_seconds(
    app: Flask, database_url: str
) -> None:
    client = app.test_client()
    post(client, "One.")
    assert client.get(COUNTS).json["counts"]["post-1"] == 1
    another_process_runs(database_url, "UPDATE comment SET status = 'hidden'")
    time.sleep(0.6)  # COUNTS_CACHE_SECONDS is 0.5 here
    assert client.get(COUNTS).json["counts"]["post-1"] == 0


def test_counts_changed_by_a_process_sharing_the_commit_count_are_seen_at_once(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    # `make run`'s web processes count their commits in one file (COMMIT_COUNT_FILE): a
    # change through the other process shows in the next answer, not a second later.
    shared = str(tmp_path / "commits.count")
    app = create_app(app_config(database_url, COUNTS_CACHE_SECONDS=60, COMMIT_COUNT_FILE=shared))
    app.test_client_class = IsolatedClient
    with app.app_context():
        reset_database(backend)
        make_site(db.session, "blog")  # type: ignore[arg-type]
        db.session.commit()
        client = app.test_client()
        post(client, "One.")
        assert client.get(COUNTS).json["counts"]["post-1"] == 1  # and kept for 60 s
        # Another process, with an app of its own on the same database and count file.
        program = (
            "import sys\n"
            "from sqlalchemy import text\n"
            "from app import create_app\n"
            "from moderation.db import db\n"
            "from tests.conftest import app_config\n"
            "app = create_app(app_config(sys.argv[1], COMMIT_COUNT_FILE=sys.argv[2]))\n"
            "with app.app_context():\n"
            "    db.session.execute(text(\"UPDATE comment SET status = 'hidden'\"))\n"
            "    db.session.commit()\n"
        )
        subprocess.run(  # noqa: S603 - this interpreter, our own program
            [sys.executable, "-c", program, database_url, shared], cwd=REPO, check=True,
            capture_output=True, timeout=120,
        )  # fmt: skip
        assert client.get(COUNTS).json["counts"]["post-1"] == 0
        db.session.remove()
        db.engine.dispose()


def holding_everything(site_id: int) -> SiteCalibration:
    """A live calibration by which the site's moderators would hide any comment."""
    return SiteCalibration(site_id=site_id, outcome=LearnOutcome.LIVE, scorer="lite",
                           approved=10, hidden=10, actions_seen=20, labels=["toxicity"],
                           rules=[], coefficients=[0.0], intercept=10.0, threshold=0.5,
                           note="holds everything")  # fmt: skip


def test_a_calibration_that_goes_live_in_this_process_applies_to_the_next_post(
    app: Flask, session: Session
) -> None:
    client = app.test_client()
    assert post(client, "Before the calibration.").json["status"] == "visible"  # none, cached
    site = session.scalar(select(Site).where(Site.slug == "blog"))
    assert site is not None and site.learned_policy
    session.add(holding_everything(site.id))
    session.commit()
    held = post(client, "Right after it went live.")
    assert held.json["status"] == "held"
    [rule] = session.scalars(
        select(ModerationAction.rule).where(ModerationAction.comment_id == held.json["id"])
    )
    assert rule == "learned_hold"


def test_a_calibration_from_another_process_applies_within_site_cache_seconds(
    app: Flask, session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process of its own, or the command line, writes the calibration."""
    monkeypatch.setattr(sites, "SITE_CACHE_SECONDS", 60.0)
    client = app.test_client()
    assert post(client, "Before the calibration.").json["status"] == "visible"
    site_id = session.scalar(select(Site.id).where(Site.slug == "blog"))
    assert site_id is not None
    values = {column: getattr(holding_everything(site_id), column)
              for column in SiteCalibration.__table__.c.keys() if column != "id"}  # fmt: skip
    values["fitted_at"] = utcnow()
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:  # a Core INSERT: no event of this process's ORM
            connection.execute(insert(SiteCalibration.__table__).values(values))
    finally:
        engine.dispose()
    # This process has not heard of it: until its cached answer is older than the
    # cache's lifetime, posts are decided without it.
    assert post(client, "Right after, the cache still young.").json["status"] == "visible"
    monkeypatch.setattr(sites, "SITE_CACHE_SECONDS", 0.2)
    time.sleep(0.3)
    assert post(client, "After the cache's lifetime.").json["status"] == "held"


def test_a_post_on_a_known_page_reads_two_rows_and_writes_five(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The author's standing and the thread; then the comment, its action, the action's
    rules, its two events and its score. Nothing is read back (the site and calibration
    come from the process's memory; the stored comment from its INSERT's RETURNING)."""
    monkeypatch.setattr(sites, "SITE_CACHE_SECONDS", 60.0)  # however slow the first post
    client = app.test_client()
    post(client, "The first comment: the page's thread, the site and calibration cached.")
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()[:3]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        post(client, "The second comment on the page.")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    reads = [s for s in statements if s.startswith("SELECT")]
    writes = [s for s in statements if s.startswith("INSERT")]
    assert [r.split()[1].split(".")[0] for r in reads] == ["author_standing", "thread"], reads
    assert writes == ["INSERT INTO comment", "INSERT INTO moderation_action",
                      "INSERT INTO action_rule", "INSERT INTO outbox_event",
                      "INSERT INTO score"]  # fmt: skip
