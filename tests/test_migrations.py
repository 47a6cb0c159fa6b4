"""`flask db upgrade` on an empty database builds exactly the schema the models describe."""
import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import BACKENDS, POSTGRES_URL
from webapp import create_app
from webapp.extensions import db

SCHEMA = "migration_check"  # PostgreSQL: a schema of its own inside the test database, dropped afterwards


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    request.getfixturevalue("postgres_schema")  # fails, never skips, when PostgreSQL is unreachable
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    yield make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={SCHEMA}"}).render_as_string(False)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
    engine.dispose()


@pytest.fixture
def migrated_app(empty_database_url):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        flask_migrate.upgrade()
        yield app
        db.engine.dispose()


def test_upgrade_builds_exactly_the_models_schema(migrated_app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, db.metadata)

    assert differences == []


def test_upgrade_creates_every_table_and_records_the_head_revision(migrated_app):
    tables = set(inspect(db.engine).get_table_names())

    assert tables == {*db.metadata.tables, "alembic_version"}
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    from alembic.script import ScriptDirectory
    heads = ScriptDirectory.from_config(migrated_app.extensions["migrate"].migrate.get_config()).get_heads()
    assert [version] == heads
