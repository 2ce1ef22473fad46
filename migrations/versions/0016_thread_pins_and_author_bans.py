"""thread pins and closing, author bans and trust

Moderators close threads (thread.closed existed already; only its comment is new), pin
one comment per thread (comment.pinned_at, a partial unique index per thread), and ban or
trust an author on a site (author_standing, by comment.author_key: a hash, never the
address). thread_action records closes, reopens, pins and unpins. site.ban_mode says
whether a banned author's comment is held or refused.

The policy's two new rules, author_banned and author_trusted, join the CHECK constraints
of moderation_action.rule and action_rule.rule: written by hand, autogenerate does not
compare CHECK constraints. Existing comments get their author_key from their address (or
their IP hash), computed here in Python: SQLite has no sha256.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 03:00:49

"""
import hashlib

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

RULES_BEFORE = [
    'banned_word', 'label_over_hide', 'premoderation', 'label_over_hold', 'suspect_word',
    'passed_policy', 'reader_reports', 'posted_despite_warning', 'scoring_failed',
    'moderator', 'author_edit', 'author_delete', 'import', 'unrecorded',
]
NEW_RULES = ['author_banned', 'author_trusted']
RULES_AFTER = RULES_BEFORE + NEW_RULES


def _allow_rules(rules):
    listed = ", ".join(f"'{r}'" for r in rules)
    for table in ('moderation_action', 'action_rule'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_rule'), type_='check')
            batch_op.create_check_constraint(batch_op.f(f'ck_{table}_rule'), f"rule IN ({listed})")


def _author_key(email, ip_hash):
    # As services.authors.author_key, copied: a migration must not change with the code.
    address = (email or "").strip().lower()
    if address:
        return "email:" + hashlib.sha256(address.encode()).hexdigest()
    if ip_hash:
        return "ip:" + ip_hash
    return None


def _backfill_author_keys():
    bind = op.get_bind()
    comment = sa.table(
        'comment', sa.column('id'), sa.column('author_email'), sa.column('ip_hash'),
        sa.column('author_key'),
    )
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(comment.c.id, comment.c.author_email, comment.c.ip_hash)
            .where(comment.c.id > last_id)
            .order_by(comment.c.id)
            .limit(5000)
        ).all()
        if not rows:
            return
        updates = [
            {"row_id": row.id, "key": key}
            for row in rows
            if (key := _author_key(row.author_email, row.ip_hash)) is not None
        ]
        if updates:
            bind.execute(
                comment.update()
                .where(comment.c.id == sa.bindparam("row_id"))
                .values(author_key=sa.bindparam("key")),
                updates,
            )
        last_id = rows[-1].id


def upgrade():
    op.create_table('author_standing',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_key', sa.String(length=80), nullable=False, comment='Comment.author_key'),
    sa.Column('kind', sa.Enum('ban', 'trust', name='standingkind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False, comment="the moderator's why"),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True, comment='when it ends by itself; null: until lifted'),
    sa.Column('comment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment='the comment it was set from'),
    sa.Column('author_name', sa.String(length=100), nullable=False, comment='the name on that comment, for the list'),
    sa.Column('moderator_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_author_standing_comment_id_comment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['moderator.id'], name=op.f('fk_author_standing_lifted_by_id_moderator'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderator.id'], name=op.f('fk_author_standing_moderator_id_moderator'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_author_standing_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_author_standing'))
    )
    with op.batch_alter_table('author_standing', schema=None) as batch_op:
        batch_op.create_index('ix_author_standing_lookup', ['site_id', 'author_key', 'lifted_at'], unique=False)

    op.create_table('thread_action',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('thread_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('change', sa.Enum('close', 'reopen', 'pin', 'unpin', name='threadchange', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('comment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment='pin/unpin: the comment'),
    sa.Column('moderator_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_thread_action_comment_id_comment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderator.id'], name=op.f('fk_thread_action_moderator_id_moderator'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['thread.id'], name=op.f('fk_thread_action_thread_id_thread'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_thread_action'))
    )
    with op.batch_alter_table('thread_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_thread_action_thread_id'), ['thread_id'], unique=False)

    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_key', sa.String(length=80), nullable=True, comment="who wrote it, for bans and the author panel: 'email:' + sha256 of the lower-cased address, else 'ip:' + ip_hash; never the address itself"))
        batch_op.add_column(sa.Column('pinned_at', sa.DateTime(timezone=True), nullable=True, comment='pinned by a moderator: readers see it first in its thread'))
        batch_op.create_index(batch_op.f('ix_comment_author_key'), ['author_key'], unique=False)
        batch_op.create_index('uq_comment_pinned', ['thread_id'], unique=True, sqlite_where=sa.text('pinned_at IS NOT NULL'), postgresql_where=sa.text('pinned_at IS NOT NULL'))

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ban_mode', sa.Enum('hold', 'refuse', name='banmode', native_enum=False, create_constraint=True, length=16), server_default='hold', nullable=False, comment="a banned author's new comment: held for a moderator, or refused (403)"))

    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.alter_column('closed',
               existing_type=sa.BOOLEAN(),
               comment='closed by a moderator: new comments are refused (409)',
               existing_nullable=False)

    _allow_rules(RULES_AFTER)
    _backfill_author_keys()


def downgrade():
    # The old constraint cannot hold the new rules: such actions read as unrecorded.
    listed = ", ".join(f"'{r}'" for r in NEW_RULES)
    for table in ('moderation_action', 'action_rule'):
        op.execute(f"UPDATE {table} SET rule = 'unrecorded' WHERE rule IN ({listed})")
    _allow_rules(RULES_BEFORE)

    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.alter_column('closed',
               existing_type=sa.BOOLEAN(),
               comment=None,
               existing_comment='closed by a moderator: new comments are refused (409)',
               existing_nullable=False)

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_site_banmode'), type_='check')
        batch_op.drop_column('ban_mode')

    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('uq_comment_pinned', sqlite_where=sa.text('pinned_at IS NOT NULL'), postgresql_where=sa.text('pinned_at IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_comment_author_key'))
        batch_op.drop_column('pinned_at')
        batch_op.drop_column('author_key')

    with op.batch_alter_table('thread_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_thread_action_thread_id'))

    op.drop_table('thread_action')
    with op.batch_alter_table('author_standing', schema=None) as batch_op:
        batch_op.drop_index('ix_author_standing_lookup')

    op.drop_table('author_standing')
