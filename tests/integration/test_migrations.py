"""Alembic migrations build exactly the schema the models describe, and unwind cleanly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from pharma import migrate
from pharma.extensions import make_engine
from pharma.models import metadata
from tests.conftest import BACKEND, create_pg_database, drop_pg_database


@pytest.fixture()
def empty_database(tmp_path):
    if BACKEND == "postgresql":
        url = create_pg_database("pharma_mig")
        yield url
        drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"


def test_the_migrated_schema_equals_the_models(empty_database):
    migrate.upgrade(empty_database)
    engine = make_engine(empty_database)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_downgrading_to_base_removes_every_table(empty_database):
    migrate.upgrade(empty_database)
    migrate.downgrade(empty_database, "base")
    engine = make_engine(empty_database)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables <= {"alembic_version"}
