"""learning each site's standards from its moderators

site_calibration holds each run of `flask moderation learn` (and the worker's): the
logistic regression's coefficients over the scorer's labels and the policy's rules, its
hold threshold, the cross-validated figures before and after, the suggested thresholds.
site.learned_policy is the admin's switch. The policy's new rule, learned_hold, joins the
CHECK constraints of moderation_action.rule and action_rule.rule (by hand: autogenerate
does not compare CHECK constraints).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 05:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

RULES_BEFORE = [
    'banned_word', 'label_over_hide', 'premoderation', 'label_over_hold', 'suspect_word',
    'passed_policy', 'reader_reports', 'posted_despite_warning', 'scoring_failed',
    'moderator', 'author_edit', 'author_delete', 'import', 'unrecorded',
    'author_banned', 'author_trusted',
    # 0017's targeting rules
    'threat', 'veiled_threat', 'group_attack', 'insult_aimed', 'profanity_not_aimed',
]
NEW_RULES = ['learned_hold']


def _allow_rules(rules):
    listed = ", ".join(f"'{r}'" for r in rules)
    for table in ('moderation_action', 'action_rule'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_rule'), type_='check')
            batch_op.create_check_constraint(batch_op.f(f'ck_{table}_rule'), f"rule IN ({listed})")


def upgrade():
    op.create_table('site_calibration',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('outcome', sa.Enum('too_few', 'not_better', 'live', name='learnoutcome', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('scorer', sa.String(length=64), nullable=False, comment='the scorer (Score.scorer) whose probabilities it reads'),
    sa.Column('approved', sa.Integer(), nullable=False, comment="decisions 'acceptable here'"),
    sa.Column('hidden', sa.Integer(), nullable=False, comment="decisions 'not here'"),
    sa.Column('actions_seen', sa.Integer(), nullable=False, comment="moderators' actions on the site then: the worker learns again N later"),
    sa.Column('labels', sa.JSON(), nullable=False, comment='label features'),
    sa.Column('rules', sa.JSON(), nullable=False, comment='rule features'),
    sa.Column('coefficients', sa.JSON(), nullable=False, comment='one per label (on its logit), then one per rule'),
    sa.Column('intercept', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True, comment='hold at or above this probability that moderators would hide it'),
    sa.Column('figures', sa.JSON(), nullable=True, comment='cross-validated before (thresholds) and after (this model)'),
    sa.Column('suggested_thresholds', sa.JSON(), nullable=True, comment='per label hold thresholds that would do as well without the model'),
    sa.Column('note', sa.Text(), nullable=False, comment='what the run came to, in words'),
    sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_site_calibration_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_calibration'))
    )
    with op.batch_alter_table('site_calibration', schema=None) as batch_op:
        batch_op.create_index('ix_site_calibration_site_fitted', ['site_id', 'fitted_at'], unique=False)

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('learned_policy', sa.Boolean(), server_default=sa.true(), nullable=False, comment='use the calibration learned from its moderators when one is live'))

    _allow_rules(RULES_BEFORE + NEW_RULES)


def downgrade():
    # The old constraint cannot hold the new rule: such actions read as unrecorded.
    listed = ", ".join(f"'{r}'" for r in NEW_RULES)
    for table in ('moderation_action', 'action_rule'):
        op.execute(f"UPDATE {table} SET rule = 'unrecorded' WHERE rule IN ({listed})")
    _allow_rules(RULES_BEFORE)

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('learned_policy')

    with op.batch_alter_table('site_calibration', schema=None) as batch_op:
        batch_op.drop_index('ix_site_calibration_site_fitted')

    op.drop_table('site_calibration')
