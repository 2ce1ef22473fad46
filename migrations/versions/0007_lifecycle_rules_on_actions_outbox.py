"""lifecycle: rules on actions, outbox

Every ModerationAction gets the rule that fired (an enum) and its detail; the rules of each
action go to action_rule for the queue's reason filter. Existing rows get their rule from
the reason text they were written with (the policy's and the services' fixed wordings);
a text that matches none becomes 'unrecorded'. Their detail stays empty: the stored reason
keeps saying what happened.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:42:26.607984

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('action_rule',
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False, comment='the rules in order of strength: the lowest is the one the status came from'),
    sa.Column('rule', sa.Enum('banned_word', 'label_over_hide', 'premoderation', 'label_over_hold', 'suspect_word', 'passed_policy', 'reader_reports', 'posted_despite_warning', 'scoring_failed', 'moderator', 'author_edit', 'author_delete', 'import', 'unrecorded', name='rule', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['moderation_action.id'], name=op.f('fk_action_rule_action_id_moderation_action'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_id', 'position', name=op.f('pk_action_rule'))
    )
    with op.batch_alter_table('action_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_rule_rule'), ['rule'], unique=False)

    op.create_table('outbox_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('comment.created', 'comment.scored', 'comment.held', 'comment.published', 'comment.hidden', 'comment.restored', 'comment.requeued', 'comment.reported', 'comment.edited', 'comment.deleted', name='eventtype', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('action_id', sa.Integer(), nullable=True, comment='the status change this event tells of; null for scored/reported'),
    sa.Column('payload', sa.JSON(), nullable=False, comment='what a consumer needs without reading the comment back'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True, comment='when a consumer delivered it; null until then'),
    sa.ForeignKeyConstraint(['action_id'], ['moderation_action.id'], name=op.f('fk_outbox_event_action_id_moderation_action'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_outbox_event_comment_id_comment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_outbox_event_site_id_site'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_event'))
    )
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_event_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_event_published_at'), ['published_at'], unique=False)

    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule', sa.Enum('banned_word', 'label_over_hide', 'premoderation', 'label_over_hold', 'suspect_word', 'passed_policy', 'reader_reports', 'posted_despite_warning', 'scoring_failed', 'moderator', 'author_edit', 'author_delete', 'import', 'unrecorded', name='rule', native_enum=False, create_constraint=True, length=32), nullable=True, comment='why: for a policy decision the strongest rule that fired'))
        batch_op.add_column(sa.Column('detail', sa.JSON(), nullable=True, comment="the rule's particulars: labels, scores, thresholds, words, counts"))
        batch_op.create_index(batch_op.f('ix_moderation_action_rule'), ['rule'], unique=False)

    backfill_rules()

    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.alter_column('rule', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('reason', existing_type=sa.Text(), existing_nullable=False,
                              comment='human-readable why, rendered from rule and detail when written',
                              existing_comment='human-readable why')


# The policy's wordings, strongest rule first (services/policy.py before this revision).
POLICY_PATTERNS = [
    ('banned_word', '%banned word%'),
    ('label_over_hide', '%hide threshold%'),
    ('premoderation', '%premoderation%'),
    ('label_over_hold', '%hold threshold%'),
    ('suspect_word', '%suspect word%'),
    ('passed_policy', '%passed policy%'),
]
# The other system actions' wordings.
SYSTEM_PATTERNS = [
    ('reader_reports', 'reported by %'),
    ('posted_despite_warning', '%despite the pre-posting warning%'),
    ('scoring_failed', 'scoring failed %'),
]


def backfill_rules():
    whens = [
        "WHEN actor = 'moderator' THEN 'moderator'",
        "WHEN actor = 'author' AND reason LIKE 'deleted%' THEN 'author_delete'",
        "WHEN actor = 'author' THEN 'author_edit'",
    ]
    for rule, pattern in POLICY_PATTERNS + SYSTEM_PATTERNS:
        whens.append(f"WHEN reason LIKE '{pattern}' THEN '{rule}'")
    op.execute(
        "UPDATE moderation_action SET rule = CASE " + " ".join(whens) + " ELSE 'unrecorded' END"
    )
    # Every rule that fired, at its strength's position: the policy's from the text, the
    # others as the action's one rule.
    for position, (rule, pattern) in enumerate(POLICY_PATTERNS):
        op.execute(
            "INSERT INTO action_rule (action_id, position, rule) "
            f"SELECT id, {position}, '{rule}' FROM moderation_action "
            f"WHERE actor = 'system' AND reason LIKE '{pattern}'"
        )
    policy_rules = ", ".join(f"'{rule}'" for rule, _ in POLICY_PATTERNS)
    op.execute(
        "INSERT INTO action_rule (action_id, position, rule) "
        f"SELECT id, 0, rule FROM moderation_action WHERE rule NOT IN ({policy_rules})"
    )



def downgrade():
    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_action_rule'))
        batch_op.alter_column('reason', existing_type=sa.Text(), existing_nullable=False,
                              comment='human-readable why',
                              existing_comment='human-readable why, rendered from rule and detail when written')
        batch_op.drop_constraint(batch_op.f('ck_moderation_action_rule'), type_='check')
        batch_op.drop_column('detail')
        batch_op.drop_column('rule')

    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_event_published_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_event_comment_id'))

    op.drop_table('outbox_event')
    with op.batch_alter_table('action_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_rule_rule'))

    op.drop_table('action_rule')
