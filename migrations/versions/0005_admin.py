"""admin credentials: the dashboard's hashed password (SPEC §12)

Revision ID: 0005_admin
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = '0005_admin'
down_revision: str | None = '0004_bounces'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('admin_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.String(length=512), nullable=False),
    sa.Column('changed_at', digest.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_credentials'))
    )


def downgrade() -> None:
    op.drop_table('admin_credentials')
