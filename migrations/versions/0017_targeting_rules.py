"""the policy's targeting rules; sites still on the old default suspect words lose them

The policy's new rules (threat, veiled_threat, group_attack, insult_aimed and
profanity_not_aimed) join the CHECK constraints of moderation_action.rule and
action_rule.rule: written by hand, autogenerate does not compare CHECK constraints.

Sites whose suspect words are still exactly the list every site used to start with get the
new default, an empty list: the targeting rules replace those words, which held reports of
wars and films. A site that edited its list keeps it as it is. The change is recorded in
each site's settings history, by no moderator, like a change from the command line. The
downgrade leaves the lists as they are (it cannot tell this change from an admin's).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 05:40:00

"""
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

RULES_BEFORE = [
    'banned_word', 'label_over_hide', 'premoderation', 'label_over_hold', 'suspect_word',
    'passed_policy', 'reader_reports', 'posted_despite_warning', 'scoring_failed',
    'moderator', 'author_edit', 'author_delete', 'import', 'unrecorded',
    'author_banned', 'author_trusted',
]
NEW_RULES = ['threat', 'veiled_threat', 'group_attack', 'insult_aimed', 'profanity_not_aimed']
RULES_AFTER = RULES_BEFORE + NEW_RULES
# config.default.DEFAULT_SUSPECT_WORDS before this revision, copied: a migration must not
# change with the code.
OLD_DEFAULT_SUSPECT_WORDS = [
    "kill", "killed", "murder", "shoot", "stab", "hurt you", "find you", "beat you", "rape",
    "burn", "lynch", "hang", "die", "subhuman", "vermin", "go back to",
]


def _allow_rules(rules):
    listed = ", ".join(f"'{r}'" for r in rules)
    for table in ('moderation_action', 'action_rule'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_rule'), type_='check')
            batch_op.create_check_constraint(batch_op.f(f'ck_{table}_rule'), f"rule IN ({listed})")


def _swap_lists(old, new):
    """Sites whose suspect words are exactly ``old`` get ``new``, audited."""
    conn = op.get_bind()
    site = sa.table('site', sa.column('id', sa.Integer), sa.column('suspect_words', sa.JSON))
    change = sa.table(
        'settings_change', sa.column('site_id', sa.Integer), sa.column('moderator_id', sa.Integer),
        sa.column('field', sa.String), sa.column('old_value', sa.JSON),
        sa.column('new_value', sa.JSON), sa.column('created_at', sa.DateTime(timezone=True)),
    )
    now = datetime.now(timezone.utc)
    for site_id, words in conn.execute(sa.select(site.c.id, site.c.suspect_words)).all():
        if isinstance(words, str):  # SQLite hands JSON back as text on some drivers
            words = json.loads(words)
        if list(words or []) != old:
            continue
        conn.execute(site.update().where(site.c.id == site_id).values(suspect_words=new))
        conn.execute(change.insert().values(site_id=site_id, moderator_id=None,
                                            field='suspect_words', old_value=old,
                                            new_value=new, created_at=now))


def upgrade():
    _allow_rules(RULES_AFTER)
    _swap_lists(OLD_DEFAULT_SUSPECT_WORDS, [])


def downgrade():
    # The old constraint cannot hold the new rules: such actions read as unrecorded.
    listed = ", ".join(f"'{r}'" for r in NEW_RULES)
    for table in ('moderation_action', 'action_rule'):
        op.execute(f"UPDATE {table} SET rule = 'unrecorded' WHERE rule IN ({listed})")
    _allow_rules(RULES_BEFORE)
