"""relevance: paper embeddings, ratings, liked papers (SPEC §10)

Revision ID: 0006_relevance
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = '0006_relevance'
down_revision: str | None = '0003_delivery'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parts', sa.Text(), nullable=True))
    op.create_table('paper_embeddings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('paper_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], name=op.f('fk_paper_embeddings_paper_id_papers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_embeddings')),
    sa.UniqueConstraint('paper_id', 'model', name=op.f('uq_paper_embeddings_paper_id_model'))
    )
    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('paper_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('created_at', digest.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], name=op.f('fk_ratings_paper_id_papers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_ratings_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('subscriber_id', 'paper_id', name=op.f('uq_ratings_subscriber_id_paper_id'))
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_paper_id'), ['paper_id'], unique=False)
    op.create_table('liked_papers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('arxiv_id', sa.String(length=64), nullable=False),
    sa.Column('paper_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('created_at', digest.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], name=op.f('fk_liked_papers_paper_id_papers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_liked_papers_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_liked_papers')),
    sa.UniqueConstraint('subscriber_id', 'arxiv_id', name=op.f('uq_liked_papers_subscriber_id_arxiv_id'))
    )
    with op.batch_alter_table('liked_papers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_liked_papers_paper_id'), ['paper_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_liked_papers_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('liked_papers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_liked_papers_status'))
        batch_op.drop_index(batch_op.f('ix_liked_papers_paper_id'))
    op.drop_table('liked_papers')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_paper_id'))
    op.drop_table('ratings')
    op.drop_table('paper_embeddings')
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.drop_column('parts')
