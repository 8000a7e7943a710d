"""``pharma fixtures synth``: synthetic packs for the benchmarks are real packs: known to verification,
with histories, in the stock ledger, and movable like any other."""

from __future__ import annotations

from sqlalchemy import func, select

from pharma import fixtures
from pharma.parties.models import Location, Organisation
from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.trace import movements
from pharma.trace.models import Batch, Pack
from pharma.trace.synth import synthesize
from tests.integration.stock_helpers import assert_stock_in_step


def test_synthetic_packs_are_in_stock_at_their_pharmacies_and_can_be_decommissioned(app, db_session):
    with app.app_context():
        fixtures.load_all()
    before = db_session.scalar(select(func.count()).select_from(Pack))
    assert synthesize(db_session, 2_500) == 2_500
    assert db_session.scalar(select(func.count()).select_from(Pack)) == before + 2_500
    assert_stock_in_step(db_session)

    pack = db_session.execute(
        select(Pack.gtin, Pack.serial, Pack.location_id).join(Batch, Batch.id == Pack.batch_id)
        .where(Batch.batch.like("SY%"), Pack.state == "ACTIVE", Pack.shipment_id.is_(None))
        .order_by(Pack.id)).first()
    org_id = db_session.scalar(select(Location.organisation_id).where(Location.id == pack.location_id))
    assert db_session.scalar(select(Organisation.type).where(Organisation.id == org_id)) == "pharmacy"
    pharmacist = Actor(user_id=None, org_id=org_id, roles=frozenset({"pharmacist"}), username="synth-test")
    movements.decommission(UnitOfWork(db_session, pharmacist), movements.Decommission(
        pack.location_id, (movements.PackRef(pack.gtin, pack.serial),), "DESTROYED", note="broken"))
    assert_stock_in_step(db_session)
