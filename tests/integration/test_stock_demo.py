"""The demo shows stock: serialized packs in the ledger through their events, legacy batches by quantity."""

from __future__ import annotations

from sqlalchemy import select

from pharma import fixtures
from pharma.parties.models import Location, User
from pharma.stock.models import StockBalance
from tests.integration.stock_helpers import assert_stock_in_step


def test_the_demo_pharmacy_has_serialized_and_legacy_stock_in_step_with_custody(app, db_session):
    with app.app_context():
        fixtures.load_all()
    assert_stock_in_step(db_session)
    pharmacist = db_session.scalars(select(User).where(User.username == "pharmacist")).one()
    here = set(db_session.scalars(select(Location.id).where(Location.organisation_id == pharmacist.organisation_id)))
    mine = db_session.scalars(select(StockBalance).where(StockBalance.quantity > 0,
                                                         StockBalance.location_id.in_(here))).all()
    assert {b.serialized for b in mine} == {True, False}
    assert sum(b.value for b in mine) > 0
