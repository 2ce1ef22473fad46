"""review, widget and scoring-API tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 17:37:18.978973

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderator.id'], name=op.f('fk_api_token_moderator_id_moderator'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_moderator_id'), ['moderator_id'], unique=False)

    op.create_table('moderator_site',
    sa.Column('moderator_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderator.id'], name=op.f('fk_moderator_site_moderator_id_moderator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_moderator_site_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('moderator_id', 'site_id', name=op.f('pk_moderator_site')),
    comment='the sites a moderator (role moderator) may work on; admins have all'
    )
    op.create_table('scoring_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('rate_per_second', sa.Float(), nullable=False),
    sa.Column('request_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_scoring_key_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_scoring_key_key_hash'))
    )
    with op.batch_alter_table('scoring_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scoring_key_site_id'), ['site_id'], unique=False)

    op.create_table('settings_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=True),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('old_value', sa.JSON(), nullable=True),
    sa.Column('new_value', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderator.id'], name=op.f('fk_settings_change_moderator_id_moderator'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_settings_change_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settings_change'))
    )
    with op.batch_alter_table('settings_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settings_change_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_settings_change_site_id'), ['site_id'], unique=False)

    op.create_table('score_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('attribute', sa.String(length=64), nullable=False, comment='Perspective name, e.g. TOXICITY'),
    sa.Column('value', sa.Float(), nullable=False, comment='the suggested score, 0..1'),
    sa.Column('model_value', sa.Float(), nullable=True, comment="our model's score for the same text and attribute when stored"),
    sa.Column('community_id', sa.String(length=255), nullable=True),
    sa.Column('client_token', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['scoring_key.id'], name=op.f('fk_score_feedback_key_id_scoring_key'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_score_feedback_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_feedback'))
    )
    with op.batch_alter_table('score_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_feedback_site_id'), ['site_id'], unique=False)

    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False, comment="bumped on every status change; moderators' decisions check it (optimistic lock)"))
        batch_op.add_column(sa.Column('author_token_hash', sa.String(length=64), nullable=True, comment="sha256 of the token the author's browser keeps"))
        batch_op.add_column(sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_warning', sa.Boolean(), server_default=sa.false(), nullable=False, comment='the author posted despite the pre-posting warning'))
        batch_op.create_index(batch_op.f('ix_comment_author_token_hash'), ['author_token_hash'], unique=False)

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('store_analyzed_text', sa.Boolean(), server_default=sa.false(), nullable=False, comment='keep the text of scoring-API requests (off: only counts are kept)'))



def downgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('store_analyzed_text')

    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_author_token_hash'))
        batch_op.drop_column('acknowledged_warning')
        batch_op.drop_column('edited_at')
        batch_op.drop_column('author_token_hash')
        batch_op.drop_column('version')

    with op.batch_alter_table('score_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_feedback_site_id'))

    op.drop_table('score_feedback')
    with op.batch_alter_table('settings_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settings_change_site_id'))
        batch_op.drop_index(batch_op.f('ix_settings_change_created_at'))

    op.drop_table('settings_change')
    with op.batch_alter_table('scoring_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scoring_key_site_id'))

    op.drop_table('scoring_key')
    op.drop_table('moderator_site')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_moderator_id'))

    op.drop_table('api_token')
