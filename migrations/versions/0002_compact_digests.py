"""compact digests: a digest's papers packed in one column, no ledger row per paper

Each digest's rows of digest_items (in rank order) become its `paper_ids` (4-byte little-endian
unsigned ids, see digest.models.pack_ids); the table is then dropped, since windows that never
overlap and first_seen_at that never changes keep each paper in one digest. Downgrading rebuilds
digest_items from paper_ids, without the matched terms (the digest page re-matches them).

Revision ID: 0002_compact_digests
Revises: 0006_relevance
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db
from digest.models import pack_ids, unpack_ids

revision: str = '0002_compact_digests'
down_revision: str | None = '0006_relevance'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000  # digests converted per statement


def upgrade() -> None:
    # Added in place, never by recreating `digests` (SQLite's batch mode would): dropping the
    # old table would cascade to the outbox. The default fills existing rows, replaced below.
    empty = sa.text("X''") if op.get_bind().dialect.name == 'sqlite' else sa.text("'\\x'::bytea")
    op.add_column('digests', sa.Column('paper_ids', sa.LargeBinary(), nullable=False,
                                       server_default=empty))
    conn = op.get_bind()
    items = sa.table('digest_items', sa.column('digest_id'), sa.column('paper_id'),
                     sa.column('rank'), sa.column('id'))
    digests = sa.table('digests', sa.column('id'), sa.column('paper_ids'))
    rows = conn.execute(
        sa.select(items.c.digest_id, items.c.paper_id)
        .order_by(items.c.digest_id, items.c.rank, items.c.id)
    )
    update = (
        sa.update(digests).where(digests.c.id == sa.bindparam('did'))
        .values(paper_ids=sa.bindparam('packed'))
    )
    batch: list[dict] = []
    current, ids = None, []
    for digest_id, paper_id in rows:
        if digest_id != current and current is not None:
            batch.append({'did': current, 'packed': pack_ids(ids)})
            ids = []
        current = digest_id
        ids.append(paper_id)
        if len(batch) >= CHUNK:
            conn.execute(update, batch)
            batch = []
    if current is not None:
        batch.append({'did': current, 'packed': pack_ids(ids)})
    if batch:
        conn.execute(update, batch)
    with op.batch_alter_table('digest_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_items_paper_id'))
        batch_op.drop_index(batch_op.f('ix_digest_items_digest_id'))
    op.drop_table('digest_items')


def downgrade() -> None:
    conn = op.get_bind()
    digests = sa.table('digests', sa.column('id'), sa.column('subscriber_id'),
                       sa.column('paper_ids'))
    stored = list(conn.execute(
        sa.select(digests.c.id, digests.c.subscriber_id, digests.c.paper_ids)
    ))
    op.drop_column('digests', 'paper_ids')  # in place (SQLite >= 3.35): no cascade to the outbox
    op.create_table('digest_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('paper_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('matched_terms', digest.db.JSONList(), nullable=False),
    sa.Column('in_title', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['digest_id'], ['digests.id'], name=op.f('fk_digest_items_digest_id_digests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], name=op.f('fk_digest_items_paper_id_papers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_digest_items_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_items')),
    sa.UniqueConstraint('subscriber_id', 'paper_id', name=op.f('uq_digest_items_subscriber_id_paper_id'))
    )
    with op.batch_alter_table('digest_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_items_digest_id'), ['digest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_digest_items_paper_id'), ['paper_id'], unique=False)
    papers = {row[0] for row in conn.execute(sa.text('SELECT id FROM papers'))}
    items = sa.table('digest_items', sa.column('digest_id'), sa.column('subscriber_id'),
                     sa.column('paper_id'), sa.column('rank'),
                     sa.column('matched_terms', digest.db.JSONList()), sa.column('in_title'))
    rows = []
    for digest_id, subscriber_id, packed in stored:
        for rank, paper_id in enumerate(unpack_ids(packed), start=1):
            if paper_id in papers:  # a paper deleted since has no row to point at
                rows.append({'digest_id': digest_id, 'subscriber_id': subscriber_id,
                             'paper_id': paper_id, 'rank': rank, 'matched_terms': [],
                             'in_title': False})
    if rows:
        conn.execute(sa.insert(items), rows)
