"""Migration 0017: the policy's new rules may be recorded; sites still on the old default
suspect words lose them (audited), sites that edited theirs keep them; the downgrade keeps
actions of the new rules, as unrecorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from flask import current_app
from sqlalchemy import text

from app import create_app
from moderation.db import db
from tests.conftest import app_config
from tests.test_migrations import empty_database  # noqa: F401  (fixture)

OLD_DEFAULT = [
    "kill", "killed", "murder", "shoot", "stab", "hurt you", "find you", "beat you", "rape",
    "burn", "lynch", "hang", "die", "subhuman", "vermin", "go back to",
]  # fmt: skip


def test_old_default_suspect_words_go_and_edited_lists_stay(empty_database: str) -> None:  # noqa: F811
    app = create_app(app_config(empty_database))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    lists = {1: OLD_DEFAULT, 2: [*OLD_DEFAULT, "crypto"], 3: []}
    with app.app_context():
        config = current_app.extensions["migrate"].migrate.get_config()
        command.upgrade(config, "0016")
        with db.engine.begin() as conn:
            for number, words in lists.items():
                conn.execute(
                    text(
                        "INSERT INTO site (id, slug, name, allowed_origins, moderation_mode,"
                        " thresholds, banned_words, suspect_words, flags_to_hold, created_at,"
                        " store_analyzed_text, ban_mode) VALUES (:id, :slug, 'S', '[]', 'post',"
                        " '{}', '[]', :words, 3, :now, false, 'hold')"
                    ),
                    {"id": number, "slug": f"s{number}", "words": json.dumps(words), "now": now},
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
        command.upgrade(config, "0017")
        with db.engine.begin() as conn:
            stored = {
                number: json.loads(words) if isinstance(words, str) else words
                for number, words in conn.execute(text("SELECT id, suspect_words FROM site"))
            }
            assert stored == {1: [], 2: [*OLD_DEFAULT, "crypto"], 3: []}
            audit = conn.execute(
                text("SELECT site_id, field, moderator_id FROM settings_change")
            ).all()
            assert [tuple(row) for row in audit] == [(1, "suspect_words", None)]
            conn.execute(
                text(
                    "INSERT INTO moderation_action (id, comment_id, actor, to_status, rule,"
                    " reason, created_at) VALUES (1, 1, 'system', 'held', 'veiled_threat',"
                    " 'veiled threat', :now)"
                ),
                {"now": now},
            )
        command.downgrade(config, "0016")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT rule FROM moderation_action")).scalar() == (
                "unrecorded"
            )
        db.engine.dispose()
