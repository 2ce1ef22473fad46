"""analyzed texts kept for sites that opt in

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 18:14:29.853057

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('analyzed_text',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False, comment='Perspective attribute -> value'),
    sa.Column('community_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['scoring_key.id'], name=op.f('fk_analyzed_text_key_id_scoring_key'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_analyzed_text_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analyzed_text'))
    )
    with op.batch_alter_table('analyzed_text', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analyzed_text_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_analyzed_text_site_id'), ['site_id'], unique=False)



def downgrade():
    with op.batch_alter_table('analyzed_text', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analyzed_text_site_id'))
        batch_op.drop_index(batch_op.f('ix_analyzed_text_created_at'))

    op.drop_table('analyzed_text')
