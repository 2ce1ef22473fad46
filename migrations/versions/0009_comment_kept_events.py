"""comment.kept events: a moderator keeps a reported comment

The outbox's event type is a VARCHAR with a CHECK constraint listing the types; this
revision lets it hold comment.kept. Written by hand: autogenerate does not compare CHECK
constraints.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BEFORE = [
    'comment.created', 'comment.scored', 'comment.held', 'comment.published',
    'comment.hidden', 'comment.restored', 'comment.requeued', 'comment.reported',
    'comment.edited', 'comment.deleted',
]
AFTER = BEFORE + ['comment.kept']


def _allow(types):
    listed = ", ".join(f"'{t}'" for t in types)
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_event_eventtype'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_outbox_event_eventtype'), f"type IN ({listed})")


def upgrade():
    _allow(AFTER)


def downgrade():
    op.execute("DELETE FROM outbox_event WHERE type = 'comment.kept'")
    _allow(BEFORE)
