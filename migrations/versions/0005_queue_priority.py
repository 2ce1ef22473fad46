"""queue priority index with reader-report counts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 17:56:35.629484

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag_count', sa.Integer(), server_default='0', nullable=False, comment='reader reports, kept for queue order'))
        batch_op.drop_index(batch_op.f('ix_comment_status_top_score'))
        # Written by hand: autogenerate skips indexes with DESC columns.
        batch_op.create_index(
            'ix_comment_queue_priority',
            ['status', sa.text('top_score DESC'), sa.text('flag_count DESC'), 'created_at', 'id'],
            unique=False,
        )



def downgrade():
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_queue_priority')
        batch_op.create_index(batch_op.f('ix_comment_status_top_score'), ['status', 'top_score', 'created_at'], unique=False)
        batch_op.drop_column('flag_count')

