"""Test databases: SQLite by default, PostgreSQL with PHARMA_TEST_DB=postgresql.

Each run gets a fresh database (on PostgreSQL a new one, dropped at the end); tables are
emptied after every test that used them, so no test depends on another's data.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from pharma.config import Settings

BACKEND = os.environ.get("PHARMA_TEST_DB", "sqlite")
PG_SERVER = os.environ.get("PHARMA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def pytest_report_header(config):
    return f"pharma test database: {BACKEND}"


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (PHARMA_TEST_DB=postgresql)")
    for item in items:
        if "postgres_only" in item.keywords and BACKEND != "postgresql":
            item.add_marker(skip_pg)


def create_pg_database(prefix: str = "pharma_t") -> str:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if BACKEND == "postgresql":
        url = create_pg_database()
        yield url
        from pharma.extensions import db

        if db.engine is not None:
            db.session.remove()
            db.engine.dispose()
        drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'pharma-test.sqlite3'}"


def test_settings(database_url: str, **overrides) -> Settings:
    values = dict(
        env="testing",
        database_url=database_url,
        secret_key="test-secret-" + "x" * 32,
        password_time_cost=1,
        password_memory_kib=1024,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def app(database_url):
    from pharma import create_app
    from pharma.extensions import db
    from pharma.models import metadata

    app = create_app(test_settings(database_url))
    metadata.create_all(db.engine)
    return app


@pytest.fixture()
def db_session(app):
    from pharma.extensions import db
    from pharma.models import metadata

    # no app context stays pushed during the test: each request gets its own, as in production
    yield db.session
    db.session.remove()
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            # TRUNCATE makes new files for every table and index it names (~0.35 s for all of them),
            # while a test leaves a few rows in a few tables: find those in one query, DELETE their
            # rows (children first), and restart the sequences that moved on
            used = dict(conn.execute(text(" UNION ALL ".join(
                f"SELECT '{name}', EXISTS (SELECT FROM {name} OFFSET 5000) WHERE EXISTS (SELECT FROM {name})"
                for name in tables))).all())
            big = [name for name, many in used.items() if many]  # a bench-sized test: TRUNCATE is cheaper
            if big:
                conn.execute(text(f"TRUNCATE {', '.join(big)} CASCADE"))
            for name in tables:
                if name in used and name not in big:
                    conn.execute(text(f"DELETE FROM {name}"))
            for sequence in conn.execute(text(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences "
                    "WHERE last_value IS NOT NULL")).scalars():
                conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture()
def client(app, db_session):
    return app.test_client()


@pytest.fixture()
def make(app, db_session):
    """Builders for test data: ``make.org(...)``, ``make.user(...)``, ``make.token(...)``."""
    from tests.factories import Factory

    return Factory(db_session, app)
