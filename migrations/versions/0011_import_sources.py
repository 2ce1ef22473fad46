"""import sources: where each imported comment came from, and the score it is owed

imported_comment: one row per comment brought from WordPress (wxr), Disqus or Isso, with
its id there, unique per (site, source, source id) so that importing a file again adds
nothing; and ``scoring``, the score the workers still owe it (record, or decide with the
policy; null when none). A table of its own: the uniqueness is per site, which a comment
reaches only through its thread, and comments posted here carry nothing for it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 02:58:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('imported_comment',
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('wxr', 'disqus', 'isso', name='importsource', native_enum=False, create_constraint=True, length=16), nullable=False, comment='wxr, disqus or isso'),
    sa.Column('source_id', sa.String(length=255), nullable=False, comment="the comment's id in the source (WXR: post id/comment id)"),
    sa.Column('source_status', sa.String(length=32), nullable=False, comment='the status it had there: approved, unapproved, spam, trash, deleted'),
    sa.Column('scoring', sa.Enum('record', 'decide', name='importscoring', native_enum=False, create_constraint=True, length=16), nullable=True, comment='the score the workers still owe it (record, decide); null when none'),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_imported_comment_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_imported_comment_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('comment_id', name=op.f('pk_imported_comment')),
    sa.UniqueConstraint('site_id', 'source', 'source_id', name=op.f('uq_imported_comment_site_id_source_source_id'))
    )
    with op.batch_alter_table('imported_comment', schema=None) as batch_op:
        batch_op.create_index('ix_imported_comment_scoring', ['scoring', 'comment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('imported_comment', schema=None) as batch_op:
        batch_op.drop_index('ix_imported_comment_scoring')

    op.drop_table('imported_comment')
