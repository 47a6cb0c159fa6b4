"""idempotency keys stored as SHA-256 hashes (key_hash), like invitation tokens

Revision ID: 0005_idempotency_key_hashes
Revises: 0004_team_requests
Create Date: 2026-12-01 10:00:00.000000

"""
import hashlib

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_idempotency_key_hashes'
down_revision = '0004_team_requests'
branch_labels = None
depends_on = None

idempotent_requests = sa.table(
    'idempotent_requests',
    sa.column('id', sa.Integer()),
    sa.column('key', sa.String()),
    sa.column('key_hash', sa.String()),
)


def _key_hash(key: str) -> str:
    """The same hash as webapp/api/idempotency.py, written out here: a migration must not change with the app."""
    return hashlib.sha256(key.encode()).hexdigest()


def upgrade():
    with op.batch_alter_table('idempotent_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_hash', sa.String(length=64), nullable=True))

    # Hashed in Python, the same on SQLite and PostgreSQL, so a retry of a request remembered before
    # the upgrade still finds it. The rows are only kept for 24 hours: they fit in memory.
    connection = op.get_bind()
    rows = connection.execute(sa.select(idempotent_requests.c.id, idempotent_requests.c.key)).all()
    if rows:
        connection.execute(
            idempotent_requests.update()
            .where(idempotent_requests.c.id == sa.bindparam('row_id'))
            .values(key_hash=sa.bindparam('hashed')),
            [{'row_id': row_id, 'hashed': _key_hash(key)} for row_id, key in rows],
        )

    with op.batch_alter_table('idempotent_requests', schema=None) as batch_op:
        batch_op.alter_column('key_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint('uq_idempotent_requests_user_key', type_='unique')
        batch_op.drop_column('key')
        batch_op.create_unique_constraint('uq_idempotent_requests_user_key_hash', ['user_id', 'key_hash'])


def downgrade():
    # A hash gives no key back, so remembered requests cannot be kept; they only matter for 24 hours.
    op.execute(idempotent_requests.delete())
    with op.batch_alter_table('idempotent_requests', schema=None) as batch_op:
        batch_op.drop_constraint('uq_idempotent_requests_user_key_hash', type_='unique')
        batch_op.drop_column('key_hash')
        batch_op.add_column(sa.Column('key', sa.String(length=255), nullable=False))
        batch_op.create_unique_constraint('uq_idempotent_requests_user_key', ['user_id', 'key'])
