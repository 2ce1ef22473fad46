"""score explanations: the words that drove a score, cached

score_explanation keeps, per Score row, the words whose removal lowers the model's score
the most (leave-one-word-out, computed when a moderator opens a held comment scored by
Detoxify or ONNX). Nothing to backfill: explanations are made on demand.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 05:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('score_explanation',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('score_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False, comment='the score explained'),
    sa.Column('label', sa.String(length=64), nullable=False, comment='the label whose score is explained'),
    sa.Column('method', sa.String(length=32), nullable=False, comment='e.g. leave-one-word-out'),
    sa.Column('terms', sa.JSON(), nullable=False, comment="[[word, how much the label's score drops without it], …], largest first"),
    sa.Column('duration_ms', sa.Float(), nullable=False, comment='model time it took'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['score_id'], ['score.id'], name=op.f('fk_score_explanation_score_id_score'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_explanation')),
    sa.UniqueConstraint('score_id', name=op.f('uq_score_explanation_score_id'))
    )


def downgrade():
    op.drop_table('score_explanation')
