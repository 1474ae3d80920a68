"""bounces: processed bounce and complaint reports; soft-bounce figures on subscribers

Revision ID: 0004_bounces
Revises: 0001
Create Date: 2026-12-02 02:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = '0004_bounces'
down_revision: str | None = '0002_mailbox_key'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bounces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('diagnostic', sa.String(length=500), nullable=True),
    sa.Column('received_at', digest.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bounces_outbox_id'), ['outbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounces_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounces_subscriber_id'), ['subscriber_id'],
                              unique=False)
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('soft_bounces', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('last_bounce_at', digest.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_bounce', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('last_bounce')
        batch_op.drop_column('last_bounce_at')
        batch_op.drop_column('soft_bounces')
    op.drop_table('bounces')
