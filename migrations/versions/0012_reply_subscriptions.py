"""readers' reply mail: comment.notify_replies, reply subscriptions and reader mails

A commenter who gives an email may ask to be mailed when someone replies
(comment.notify_replies). Their address is kept once per site (reply_subscription),
unconfirmed until they follow the confirmation mail (double opt-in), and never mailed
again once unsubscribed; the workers send reader_mail rows (confirmations and replies)
at least once, like moderators' mail.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 02:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reply_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False, comment='as the reader first gave it'),
    sa.Column('email_key', sa.String(length=254), nullable=False, comment='the address lower-cased: one subscription per address and site'),
    sa.Column('confirm_round', sa.Integer(), server_default='0', nullable=False, comment='bumped for each confirmation mail: only the latest mail\'s link confirms'),
    sa.Column('confirm_sent_at', sa.DateTime(timezone=True), nullable=True, comment='when the latest confirmation mail was queued; null: never'),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True, comment='when the reader confirmed; null: no reply mail yet'),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True, comment='when the reader unsubscribed; from then on no mail at all'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_reply_subscription_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_subscription')),
    sa.UniqueConstraint('site_id', 'email_key', name=op.f('uq_reply_subscription_site_id_email_key'))
    )
    op.create_table('reader_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('confirm', 'reply', name='readermailkind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False, comment='the reply it tells of; for a confirmation, the comment that opted in'),
    sa.Column('message_key', sa.String(length=36), nullable=False, comment='its Message-ID: the same on every retry'),
    sa.Column('response_status', sa.Integer(), nullable=True, comment='SMTP reply code of the last failed attempt; null when none came'),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True, comment='when the SMTP server accepted it (or it was logged)'),
    sa.Column('status', sa.Enum('pending', 'delivered', 'dead', name='deliverystatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True, comment='why the last attempt failed'),
    sa.Column('duration_ms', sa.Float(), nullable=True, comment='of the last attempt'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_reader_mail_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['reply_subscription.id'], name=op.f('fk_reader_mail_subscription_id_reply_subscription'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reader_mail')),
    sa.UniqueConstraint('message_key', name=op.f('uq_reader_mail_message_key')),
    sa.UniqueConstraint('subscription_id', 'kind', 'comment_id', name=op.f('uq_reader_mail_subscription_id_kind_comment_id'))
    )
    with op.batch_alter_table('reader_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reader_mail_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index('ix_reader_mail_due', ['status', 'next_attempt_at', 'id'], unique=False)

    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_replies', sa.Boolean(), server_default=sa.false(), nullable=False, comment='the author asked to be mailed (at author_email) when replies appear'))


def downgrade():
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_column('notify_replies')

    with op.batch_alter_table('reader_mail', schema=None) as batch_op:
        batch_op.drop_index('ix_reader_mail_due')
        batch_op.drop_index(batch_op.f('ix_reader_mail_comment_id'))

    op.drop_table('reader_mail')
    op.drop_table('reply_subscription')
