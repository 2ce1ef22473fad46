"""Migration 0018: existing sites get the learned calibration switched on (nothing is
live until `learn` says so), and its downgrade keeps actions of the new rule, as
unrecorded."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from flask import current_app
from sqlalchemy import text

from app import create_app
from moderation.db import db
from tests.conftest import app_config
from tests.test_migrations import empty_database  # noqa: F401  (fixture)


def test_sites_get_the_switch_on_and_downgrade_keeps_learned_actions(
    empty_database: str,  # noqa: F811
) -> None:
    app = create_app(app_config(empty_database))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with app.app_context():
        config = current_app.extensions["migrate"].migrate.get_config()
        command.upgrade(config, "0016")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO site (id, slug, name, allowed_origins, moderation_mode,"
                    " thresholds, banned_words, suspect_words, flags_to_hold, created_at)"
                    " VALUES (1, 'blog', 'Blog', '[]', 'post', '{}', '[]', '[]', 3, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO thread (id, site_id, key, closed, created_at)"
                    " VALUES (1, 1, 'post-1', false, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO comment (id, thread_id, depth, author_name, body, body_html,"
                    " status, score_attempts, created_at, updated_at) VALUES (1, 1, 0, 'A',"
                    " 'hi', '<p>hi</p>', 'held', 1, :now, :now)"
                ),
                {"now": now},
            )
        command.upgrade(config, "0018")
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT learned_policy FROM site")).scalar() in (True, 1)
            conn.execute(
                text(
                    "INSERT INTO moderation_action (id, comment_id, actor, to_status, rule,"
                    " reason, created_at) VALUES (1, 1, 'system', 'held', 'learned_hold',"
                    " 'learned', :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO action_rule (action_id, position, rule)"
                    " VALUES (1, 0, 'learned_hold'), (1, 1, 'threat')"
                )
            )  # 0017's targeting rules are still allowed after this revision's constraint
        command.downgrade(config, "0017")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT rule FROM moderation_action")).scalar() == (
                "unrecorded"
            )
            rules = conn.execute(text("SELECT rule FROM action_rule ORDER BY position"))
            assert rules.scalars().all() == ["unrecorded", "threat"]
        db.engine.dispose()
