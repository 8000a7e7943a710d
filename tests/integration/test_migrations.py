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


def test_the_migrated_schema_has_every_check_constraint_of_the_models(empty_database):
    """Alembic's comparison leaves CHECK constraints out, so their names are compared here."""
    migrate.upgrade(empty_database)
    engine = make_engine(empty_database)
    try:
        inspector = inspect(engine)
        migrated = {(table, check["name"]) for table in inspector.get_table_names()
                    for check in inspector.get_check_constraints(table)}
    finally:
        engine.dispose()
    expected = {(table.name, constraint.name) for table in metadata.tables.values()
                for constraint in table.constraints if constraint.__class__.__name__ == "CheckConstraint"}
    assert ("shipment_packs", "ck_shipment_packs_resolution_of_missing") in expected
    assert expected - migrated == set()
