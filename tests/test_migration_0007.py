"""Migration 0007 gives every existing ModerationAction the rule its reason text names, so
the queue's reason filter keeps finding comments decided before rules were recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from flask import current_app
from sqlalchemy import text

from app import create_app
from moderation.db import db
from tests.conftest import app_config
from tests.test_migrations import empty_database  # noqa: F401  (fixture)

# (actor, reason as the services worded it before 0007) → (rule, every rule that fired)
OLD_ACTIONS = [
    ("system", "toxicity 0.91 ≥ hold threshold 0.35; suspect word: 'idiot'",
     "label_over_hold", ["label_over_hold", "suspect_word"]),
    ("system", "banned word: 'spamco'; toxicity 0.99 ≥ hide threshold 0.95",
     "banned_word", ["banned_word", "label_over_hide"]),
    ("system", "premoderation: this site holds every comment for review",
     "premoderation", ["premoderation"]),
    ("system", "passed policy (toxicity 0.01)", "passed_policy", ["passed_policy"]),
    ("system", "re-scored with lite 1.9: suspect word: 'kill'", "suspect_word", ["suspect_word"]),
    ("system", "reported by 3 readers (site holds at 3)", "reader_reports", ["reader_reports"]),
    ("system", "the author posted despite the pre-posting warning; held for a moderator",
     "posted_despite_warning", ["posted_despite_warning"]),
    ("system", "scoring failed 5 times (RuntimeError('boom')); held for a moderator",
     "scoring_failed", ["scoring_failed"]),
    ("moderator", "fair criticism", "moderator", ["moderator"]),
    ("author", "deleted by the author", "author_delete", ["author_delete"]),
    ("author", "edited by the author; to be scored again", "author_edit", ["author_edit"]),
    ("system", "ok", "unrecorded", ["unrecorded"]),
]  # fmt: skip


def test_existing_actions_get_the_rules_their_reasons_name(empty_database: str) -> None:  # noqa: F811
    app = create_app(app_config(empty_database))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with app.app_context():
        config = current_app.extensions["migrate"].migrate.get_config()
        command.upgrade(config, "0006")
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
            for number, (actor, reason, _, _) in enumerate(OLD_ACTIONS, start=1):
                conn.execute(
                    text(
                        "INSERT INTO moderation_action (id, comment_id, actor, from_status,"
                        " to_status, reason, created_at) VALUES (:id, 1, :actor, 'pending',"
                        " 'held', :reason, :now)"
                    ),
                    {"id": number, "actor": actor, "reason": reason, "now": now},
                )
        command.upgrade(config, "head")
        with db.engine.connect() as conn:
            rules = dict(conn.execute(text("SELECT id, rule FROM moderation_action")).all())
            reasons = dict(conn.execute(text("SELECT id, reason FROM moderation_action")).all())
            fired: dict[int, list[str]] = {}
            for action_id, rule in conn.execute(
                text("SELECT action_id, rule FROM action_rule ORDER BY action_id, position")
            ):
                fired.setdefault(action_id, []).append(rule)
        db.engine.dispose()
    for number, (_, reason, rule, all_rules) in enumerate(OLD_ACTIONS, start=1):
        assert (rules[number], fired[number]) == (rule, all_rules), reason
        assert reasons[number] == reason  # what the moderator read then is kept
