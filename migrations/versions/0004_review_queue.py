"""review queue: decision groups, queue order index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 17:45:04.522013

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index('ix_comment_status_top_score', ['status', 'top_score', 'created_at'], unique=False)

    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_id', sa.String(length=32), nullable=True, comment='groups the actions of one moderator decision (bulk, whole thread) for undo'))
        batch_op.create_index(batch_op.f('ix_moderation_action_decision_id'), ['decision_id'], unique=False)



def downgrade():
    with op.batch_alter_table('moderation_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_action_decision_id'))
        batch_op.drop_column('decision_id')

    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_status_top_score')

