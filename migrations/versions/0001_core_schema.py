"""core schema: sites, threads, comments, scores, actions, flags, moderators

Revision ID: 0001
Revises:
Create Date: 2026-11-25 17:13:49.121710

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('moderator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('admin', 'moderator', name='role', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderator')),
    sa.UniqueConstraint('email', name=op.f('uq_moderator_email'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False, comment='used in API paths'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('allowed_origins', sa.JSON(), nullable=False, comment="origins that may call the API from a browser; '*' port wildcard"),
    sa.Column('moderation_mode', sa.Enum('post', 'pre', name='moderationmode', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False, comment="per label {hold, hide} overriding the scorer's defaults; null turns one off"),
    sa.Column('banned_words', sa.JSON(), nullable=False),
    sa.Column('suspect_words', sa.JSON(), nullable=False),
    sa.Column('flags_to_hold', sa.Integer(), nullable=False, comment='reader flags that send a visible comment back to review'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('slug', name=op.f('uq_site_slug'))
    )
    op.create_table('thread',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False, comment="the page's id on the blog, e.g. its path"),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_thread_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_thread')),
    sa.UniqueConstraint('site_id', 'key', name=op.f('uq_thread_site_id_key'))
    )
    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('root_id', sa.Integer(), nullable=True, comment='id of the top-level comment of this branch; null for top-level ones'),
    sa.Column('depth', sa.Integer(), nullable=False, comment='0 for top-level comments'),
    sa.Column('author_name', sa.String(length=100), nullable=False),
    sa.Column('author_email', sa.String(length=254), nullable=True, comment='never exposed by the public API'),
    sa.Column('ip_hash', sa.String(length=64), nullable=True, comment='HMAC of the client IP'),
    sa.Column('body', sa.Text(), nullable=False, comment='the Markdown the reader wrote'),
    sa.Column('body_html', sa.Text(), nullable=False, comment='sanitized HTML rendered from body'),
    sa.Column('status', sa.Enum('pending', 'visible', 'held', 'hidden', name='commentstatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('top_score', sa.Float(), nullable=True, comment='highest label probability of the current score, for queue ordering'),
    sa.Column('claimed_by', sa.String(length=128), nullable=True, comment='the worker claim scoring this comment now'),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True, comment='lease end; after it another worker may claim the comment'),
    sa.Column('score_attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('depth >= 0', name=op.f('ck_comment_depth_not_negative')),
    sa.ForeignKeyConstraint(['parent_id'], ['comment.id'], name=op.f('fk_comment_parent_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thread_id'], ['thread.id'], name=op.f('fk_comment_thread_id_thread'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment'))
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_comment_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_comment_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('ix_comment_thread_root', ['thread_id', 'root_id', 'id'], unique=False)

    op.create_table('flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Enum('offensive', 'abusive', 'spam', 'other', name='flagreason', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('ip_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_flag_comment_id_comment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag'))
    )
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_comment_id'), ['comment_id'], unique=False)

    op.create_table('moderation_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.Enum('system', 'moderator', 'author', name='actor', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.Enum('pending', 'visible', 'held', 'hidden', name='from_status', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('to_status', sa.Enum('pending', 'visible', 'held', 'hidden', name='to_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False, comment='human-readable why'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_moderation_action_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderator.id'], name=op.f('fk_moderation_action_moderator_id_moderator'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_action'))
    )
    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_action_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_action_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_action_moderator_id'), ['moderator_id'], unique=False)

    op.create_table('score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('scorer', sa.String(length=64), nullable=False, comment='scorer name, e.g. lite'),
    sa.Column('scorer_version', sa.String(length=200), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False, comment='label -> probability 0..1'),
    sa.Column('duration_ms', sa.Float(), nullable=False, comment="model time for this comment's batch, divided by its size"),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_score_comment_id_comment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score'))
    )
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_comment_id'), ['comment_id'], unique=False)



def downgrade():
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_comment_id'))

    op.drop_table('score')
    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_action_moderator_id'))
        batch_op.drop_index(batch_op.f('ix_moderation_action_created_at'))
        batch_op.drop_index(batch_op.f('ix_moderation_action_comment_id'))

    op.drop_table('moderation_action')
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_comment_id'))

    op.drop_table('flag')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_thread_root')
        batch_op.drop_index('ix_comment_status_id')
        batch_op.drop_index('ix_comment_status_created')
        batch_op.drop_index(batch_op.f('ix_comment_parent_id'))

    op.drop_table('comment')
    op.drop_table('thread')
    op.drop_table('site')
    op.drop_table('moderator')
