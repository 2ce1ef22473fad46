"""current score: superseded_at and one current score per comment

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:24:09.245174

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True, comment='when a re-score replaced this one; null for the current score'))
        batch_op.create_index('uq_score_current', ['comment_id'], unique=True, sqlite_where=sa.text('superseded_at IS NULL'), postgresql_where=sa.text('superseded_at IS NULL'))



def downgrade():
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.drop_index('uq_score_current', sqlite_where=sa.text('superseded_at IS NULL'), postgresql_where=sa.text('superseded_at IS NULL'))
        batch_op.drop_column('superseded_at')

