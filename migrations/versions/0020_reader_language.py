"""readers' language for their reply mail

comment.reader_language keeps the language (en, de, fr, es, ru) a reader read the widget
in when they opted in to reply mail on that comment; their confirmation and reply mails
speak the one of their latest such comment. Nothing to backfill: null is English, the
only language mail spoke before.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reader_language', sa.String(length=8), nullable=True, comment='the language (en, de, …) the author read the widget in when opting in to reply mail: their mails speak the latest one; null: English'))


def downgrade():
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_column('reader_language')
