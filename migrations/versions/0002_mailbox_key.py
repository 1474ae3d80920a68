"""outbox.mailbox: the normalised inbox the per-address email cap counts by

Revision ID: 0002_mailbox_key
Revises: 0001
Create Date: 2026-12-02 02:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_mailbox_key'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Only the rows the cap counts need a key; older rows of other kinds may stay NULL.
CAPPED_KINDS = ("confirm", "manage_link")


def upgrade() -> None:
    from digest.mail.mailbox import mailbox_key

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mailbox', sa.String(length=320), nullable=True))
        batch_op.drop_index('ix_outbox_to_addr_created_at')
        batch_op.create_index('ix_outbox_mailbox_created_at', ['mailbox', 'created_at'],
                              unique=False)
    outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('to_addr', sa.String),
                      sa.column('kind', sa.String), sa.column('mailbox', sa.String))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(outbox.c.id, outbox.c.to_addr).where(outbox.c.kind.in_(CAPPED_KINDS))
    ).all()
    for row in rows:
        connection.execute(
            outbox.update().where(outbox.c.id == row.id).values(mailbox=mailbox_key(row.to_addr))
        )


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_mailbox_created_at')
        batch_op.create_index('ix_outbox_to_addr_created_at', ['to_addr', 'created_at'],
                              unique=False)
        batch_op.drop_column('mailbox')
