"""64-bit ids on PostgreSQL

Every primary key, every foreign key and comment.root_id become BIGINT, and the
sequences behind the ids count as bigint: PostgreSQL's integer ends at 2,147,483,647,
which comments, outbox events and deliveries of a busy site reach. SQLite's INTEGER is
64-bit already: nothing changes there.

The columns are found in the database rather than listed here, so tables that earlier
revisions made (whatever their order) are all converted. Each ALTER rewrites its table:
on a large database, run this upgrade in a quiet hour. The downgrade leaves the columns
64-bit (turning them back could not hold ids past the 32-bit range).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 03:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# Columns that hold ids without a foreign key saying so.
ID_COLUMNS = {("comment", "root_id")}


def _id_columns(inspector):
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        primary_key = inspector.get_pk_constraint(table)["constrained_columns"]
        # A one-column primary key is an id; in a composite key, the foreign keys are.
        keys = set(primary_key) if len(primary_key) == 1 else set()
        keys |= {c for fk in inspector.get_foreign_keys(table) for c in fk["constrained_columns"]}
        keys |= {column for t, column in ID_COLUMNS if t == table}
        for column in inspector.get_columns(table):
            kind = column["type"]
            if (column["name"] in keys and isinstance(kind, sa.Integer)
                    and not isinstance(kind, sa.BigInteger)):
                yield table, column["name"]


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column in list(_id_columns(sa.inspect(bind))):
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BIGINT')
    sequences = bind.execute(sa.text(
        "SELECT sequence_schema, sequence_name FROM information_schema.sequences "
        "WHERE data_type <> 'bigint' AND sequence_schema = current_schema()"
    )).all()
    for schema, name in sequences:
        # Its maximum, the default of integer, becomes the default of bigint.
        op.execute(f'ALTER SEQUENCE "{schema}"."{name}" AS BIGINT')


def downgrade():
    pass
