"""Migration 0016 gives existing comments their author key, so a moderator who bans or
trusts an author also finds (and the policy also matches) what they wrote before it; and
its downgrade keeps actions of the new rules, as unrecorded."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from flask import current_app
from sqlalchemy import text

from app import create_app
from moderation.db import db
from moderation.services.authors import author_key
from tests.conftest import app_config
from tests.test_migrations import empty_database  # noqa: F401  (fixture)

AUTHORS = [(1, "Pat@Example.org", "ip-1"), (2, None, "ip-2"), (3, None, None)]


def test_existing_comments_get_their_author_key(empty_database: str) -> None:  # noqa: F811
    app = create_app(app_config(empty_database))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with app.app_context():
        config = current_app.extensions["migrate"].migrate.get_config()
        command.upgrade(config, "0015")
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
            for number, email, ip_hash in AUTHORS:
                conn.execute(
                    text(
                        "INSERT INTO comment (id, thread_id, depth, author_name, author_email,"
                        " ip_hash, body, body_html, status, score_attempts, created_at,"
                        " updated_at) VALUES (:id, 1, 0, 'A', :email, :ip, 'hi', '<p>hi</p>',"
                        " 'visible', 1, :now, :now)"
                    ),
                    {"id": number, "email": email, "ip": ip_hash, "now": now},
                )
        command.upgrade(config, "0016")
        with db.engine.begin() as conn:
            keys = dict(conn.execute(text("SELECT id, author_key FROM comment")).all())
            assert keys == {n: author_key(email, ip) for n, email, ip in AUTHORS}
            assert keys[1] is not None and keys[1].startswith("email:") and keys[3] is None
            conn.execute(
                text(
                    "INSERT INTO moderation_action (id, comment_id, actor, to_status, rule,"
                    " reason, created_at) VALUES (1, 1, 'system', 'visible', 'author_trusted',"
                    " 'trusted', :now)"
                ),
                {"now": now},
            )
        command.downgrade(config, "0015")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT rule FROM moderation_action")).scalar() == (
                "unrecorded"
            )
        db.engine.dispose()
