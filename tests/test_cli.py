"""The `flask moderation` commands an operator runs: export, rescore, bootstrap, start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import create_app
from moderation.current_scorer import get_scorer
from moderation.db import db
from moderation.models import Comment, Moderator, Score, Site
from moderation.scoring import ScorerUnavailable
from moderation.services import comments, worker
from moderation.services.review import Action
from moderation.types import CommentStatus, utcnow
from moderation.wiring import load_scorer_now
from tests import factories
from tests.conftest import app_config
from tests.tiny_detoxify import TinyDetoxify


def detoxify_config(tiny: TinyDetoxify, **extra: Any) -> dict[str, Any]:
    values = {"SCORER": "detoxify", "DETOXIFY_CHECKPOINT": str(tiny.checkpoint),
              "DETOXIFY_CONFIG_DIR": str(tiny.config_dir)}  # fmt: skip
    values.update(extra)
    return values


def post(session: Session, site: Site, body: str) -> Comment:
    comment = comments.submit(session, site_slug=site.slug, thread_key="t", author_name="A",
                              body=body, now=utcnow())  # fmt: skip
    session.commit()
    return comment


def score_all(session: Session) -> None:
    worker.Worker(session, get_scorer(), batch_size=16, lease_seconds=60, poll_seconds=0,
                  max_attempts=3).run(once=True)  # fmt: skip


def test_bootstrap_creates_the_demo_site_and_prints_the_password_once(
    app: Flask, session: Session
) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["moderation", "bootstrap"])
    assert first.exit_code == 0, first.output
    assert "created site 'demo'" in first.output and "password:" in first.output
    second = runner.invoke(args=["moderation", "bootstrap"])
    assert second.exit_code == 0 and "password:" not in second.output
    assert session.scalar(select(func.count(Moderator.id))) == 1
    demo = session.scalar(select(Site).where(Site.slug == "demo"))
    # No suspect words: the policy's targeting rules replace the old default list.
    assert demo is not None and demo.suspect_words == []


def test_an_explicit_scorer_that_cannot_load_stops_start_up(database_url: str) -> None:
    app = create_app(app_config(database_url, SCORER="detoxify"))
    with pytest.raises(ScorerUnavailable, match="could not be downloaded"):
        load_scorer_now(app)


def test_the_lite_fallback_is_announced_on_the_home_page(database_url: str) -> None:
    app = create_app(app_config(database_url, SCORER="auto"))
    page = app.test_client().get("/").get_data(as_text=True)
    assert "scoring with the lite model: Detoxify weights unavailable" in page


def test_detoxify_scores_comments_and_every_score_records_its_version(
    database_url: str, backend: str, tiny_detoxify: TinyDetoxify
) -> None:
    from tests.conftest import reset_database

    app = create_app(app_config(database_url, **detoxify_config(tiny_detoxify)))
    with app.app_context():
        reset_database(backend)
        session = db.session()
        site = Site(slug="blog", name="Blog", allowed_origins=[], thresholds={}, banned_words=[],
                    suspect_words=[])  # fmt: skip
        session.add(site)
        session.commit()
        rude = post(session, site, "shut up you stupid moron")
        kind = post(session, site, "thanks for the great post")
        score_all(session)
        session.expire_all()
        assert (rude.status, kind.status) == (CommentStatus.HELD, CommentStatus.VISIBLE)
        [score] = rude.scores
        assert score.scorer == "detoxify"
        assert score.scorer_version == get_scorer().version
        assert score.scorer_version.startswith("original+sha256:")
        assert len(score.labels) == 6
        assert "insult" in rude.actions[-1].reason
        db.session.remove()
        db.engine.dispose()


def test_export_onnx_command_writes_a_model_the_onnx_scorer_runs(
    database_url: str, tiny_detoxify: TinyDetoxify, tmp_path: Path
) -> None:
    app = create_app(app_config(database_url, **detoxify_config(tiny_detoxify)))
    out = tmp_path / "model-int8"
    result = app.test_cli_runner().invoke(
        args=["moderation", "model", "export-onnx", "--out", str(out), "--int8"]
    )
    assert result.exit_code == 0, result.output
    assert "largest difference from the torch model" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "model.int8.onnx", "moderation-model.json", "tokenizer.json", "tokenizer_config.json",
    ]  # fmt: skip
    difference = float(result.output.split("samples: ")[1].split()[0])
    assert difference < 0.01


def test_rescore_applies_the_new_model_except_where_people_decided(
    app: Flask, session: Session, site: Site, tiny_detoxify: TinyDetoxify
) -> None:
    # Scored first with the lite model.
    approved = post(session, site, "you stupid idiot")  # lite: held; a moderator approves it
    rude = post(session, site, "shut up you pathetic moron")
    kind = post(session, site, "thanks for the great post")
    score_all(session)
    assert approved.status == CommentStatus.HELD
    factories.decided(session, approved, Action.APPROVE, reason="banter between friends")

    app.config.update(detoxify_config(tiny_detoxify))
    from moderation.scoring import ScorerSlot

    app.extensions["moderation.scorer"] = ScorerSlot(app.config)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["moderation", "rescore", "--limit", "2"])
    assert first.exit_code == 0, first.output
    assert "re-scoring 2 comments with detoxify" in first.output
    # Resumable: the second run takes only what is left.
    second = runner.invoke(args=["moderation", "rescore"])
    assert "re-scoring 1 comments" in second.output
    assert "re-scoring 0 comments" in runner.invoke(args=["moderation", "rescore"]).output

    session.expire_all()
    for comment in (approved, rude, kind):
        current = [s for s in comment.scores if s.superseded_at is None]
        assert [s.scorer for s in current] == ["detoxify"]
        assert len(comment.scores) == 2
    assert approved.status == CommentStatus.VISIBLE  # the moderator's call stands
    assert rude.status == CommentStatus.HELD
    assert kind.status == CommentStatus.VISIBLE
    assert session.scalar(select(func.count(Score.id)).where(Score.superseded_at.is_(None))) == 3


def test_rescore_filters_by_site_and_status(app: Flask, session: Session, site: Site) -> None:
    from tests.conftest import make_site

    other = make_site(session, "news")
    post(session, site, "hello")
    post(session, other, "hello from the news")
    held = post(session, other, "you stupid fucking idiot")
    score_all(session)
    # As if an older model had scored them all.
    session.execute(Score.__table__.update().values(scorer_version="old"))
    session.commit()
    result = app.test_cli_runner().invoke(
        args=["moderation", "rescore", "--site", "news", "--status", "visible"]
    )
    assert "re-scored 1 comments; 0 changed status" in result.output, result.output
    versions = session.execute(
        select(Comment.id, Score.scorer_version).join(Score).where(Score.superseded_at.is_(None))
    ).all()
    rescored = [comment_id for comment_id, version in versions if version != "old"]
    assert rescored == [held.id - 1]


def test_rescore_never_brings_back_what_its_author_deleted(
    app: Flask, session: Session, site: Site
) -> None:
    deleted = factories.submit(session, site, "thanks for the great post", author_token="t" * 32)
    score_all(session)
    factories.deleted_by_author(session, deleted, "t" * 32)
    session.execute(Score.__table__.update().values(scorer_version="old"))
    session.commit()
    result = app.test_cli_runner().invoke(args=["moderation", "rescore"])
    assert "re-scored 1 comments; 0 changed status" in result.output, result.output
    session.expire_all()
    assert deleted.status == CommentStatus.HIDDEN


def test_rescore_with_nothing_to_do_prints_no_progress_bar(
    app: Flask, session: Session, site: Site
) -> None:
    score_all(session)  # nothing stored: nothing to re-score
    result = app.test_cli_runner().invoke(args=["moderation", "rescore"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"re-scoring 0 comments with lite {get_scorer().version}",
        "re-scored 0 comments; 0 changed status",
    ]
