"""users announce changes to their caller fields on the plate_users channel (PostgreSQL)

Revision ID: 0006_users_notify
Revises: 0005_idempotency_key_hashes
Create Date: 2026-12-01 22:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006_users_notify'
down_revision = '0005_idempotency_key_hashes'
branch_labels = None
depends_on = None

# Written out, as webapp/models/people.py has them today: a migration must not change with the app.
FUNCTION = """
CREATE OR REPLACE FUNCTION plate_notify_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('plate_users', OLD.id::text);
    RETURN NULL;
END $$"""
TRIGGER = """
CREATE TRIGGER users_notify_change AFTER UPDATE OF organization_id, manager_id, is_admin, session_epoch, time_zone, plate_version OR DELETE ON users
FOR EACH ROW EXECUTE FUNCTION plate_notify_user_change()"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":  # SQLite has no LISTEN: nothing there listens
        op.execute(FUNCTION)
        op.execute(TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS users_notify_change ON users")
        op.execute("DROP FUNCTION IF EXISTS plate_notify_user_change()")
