"""Migration 0004 starts the ledger from custody: an existing database gets each location's ACTIVE
packs (not travelling) as opening balances, so the first trace act after the upgrade finds them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from pharma import migrate
from pharma.extensions import make_engine
from tests.conftest import BACKEND, create_pg_database, drop_pg_database


@pytest.fixture()
def database(tmp_path):
    if BACKEND == "postgresql":
        url = create_pg_database("pharma_mig")
        yield url
        drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"


def test_upgrading_gives_each_location_its_active_packs_as_opening_balances(database):
    migrate.upgrade(database, "0003")
    engine = make_engine(database)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            # batches point to a product and a declaration this test does not need: key checks off here
            conn.execute(text("SET session_replication_role = replica" if BACKEND == "postgresql"
                              else "PRAGMA foreign_keys=OFF"))
            conn.execute(text("INSERT INTO organisations (id, key, type, name, country, active, created_at) "
                              "VALUES (1, 'ph', 'pharmacy', 'Pharmacy', 'AZ', :yes, :now)"), {"yes": True, "now": now})
            conn.execute(text("INSERT INTO locations (id, organisation_id, gln, name, region, city, address, active) "
                              "VALUES (7, 1, '4760000000007', 'Shop', 'Baku', 'Baku', 'Street 1', :yes)"),
                         {"yes": True})
            conn.execute(text("INSERT INTO batches (id, gtin, batch, expiry_raw, expiry, product_id, declaration_id) "
                              "VALUES (1, '04760000000011', 'L1', '301231', :expiry, 1, 1)"),
                         {"expiry": date(2030, 12, 31)})
            for i, (state, shipment) in enumerate([("ACTIVE", None), ("ACTIVE", None), ("DISPENSED", None),
                                                   ("ACTIVE", 5)]):
                conn.execute(text(
                    "INSERT INTO packs (id, gtin, serial, batch_id, declaration_id, location_id, shipment_id, state,"
                    " state_changed_at) VALUES (:id, '04760000000011', :serial, 1, 1, 7, :shipment, :state, :now)"),
                    {"id": i + 1, "serial": f"S{i}", "shipment": shipment, "state": state, "now": now})
        migrate.upgrade(database)
        with engine.connect() as conn:
            balances = conn.execute(text(
                "SELECT location_id, gtin, batch, quantity, value, serialized FROM stock_balances")).all()
            movements = conn.execute(text(
                "SELECT location_id, kind, reason, quantity, document_type FROM stock_movements")).all()
    finally:
        engine.dispose()
    assert [tuple(b) for b in balances] == [(7, "04760000000011", "L1", 2, 0, True)]
    assert [tuple(m) for m in movements] == [(7, "ADJUSTMENT", "OPENING", 2, "migration")]
