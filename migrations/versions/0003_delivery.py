"""subscribers.delivery: email (default) or feed

Revision ID: 0003_delivery
Revises: 0001
Create Date: 2026-12-02 02:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_delivery'
down_revision: str | None = '0005_admin'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The server default gives every existing subscriber email delivery, as before.
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('delivery', sa.String(length=8), server_default='email', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('delivery')
