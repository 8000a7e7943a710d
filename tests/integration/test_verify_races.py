"""Alert cases under concurrency on PostgreSQL, with real threads and sessions: scans of one pack
at one place racing each other leave one case with every sighting counted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pharma.shared.uow import UnitOfWork
from pharma.verify import services as svc
from pharma.verify.models import Alert, Verification
from tests.integration.test_movements_races import race
from tests.integration.verify_helpers import counter

pytestmark = pytest.mark.postgres_only


def test_one_unknown_pack_scanned_at_once_at_one_counter_opens_one_case(make, db_session):
    c = counter(make)
    actor = make.uow(c.pharmacist.user).actor
    scan = svc.Scan(c.scan("FAKE1"))
    results = race([lambda session: svc.verify_scan(UnitOfWork(session, actor), scan) for _ in range(8)])
    assert all(isinstance(r, svc.VerificationResult) for r in results), results
    assert len({r.alert_id for r in results}) == 1
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 1
    assert db_session.scalar(select(Alert.sightings)) == 8
    assert db_session.scalar(select(func.count()).select_from(Verification)
                             .where(Verification.alert_id.is_not(None))) == 8


def test_bulks_of_the_same_counterfeits_in_different_orders_neither_deadlock_nor_split_cases(make, db_session):
    c = counter(make)
    actor = make.uow(c.pharmacist.user).actor
    scans = [svc.Scan(c.scan(f"FAKE{i}")) for i in range(30)]
    orders = [tuple(scans), tuple(reversed(scans)), tuple(scans[15:] + scans[:15]), tuple(scans[::2] + scans[1::2])]
    results = race([lambda session, o=o: svc.verify_bulk(UnitOfWork(session, actor), svc.VerifyScans(o))
                    for o in orders])
    assert all(isinstance(r, list) for r in results), results
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 30
    assert set(db_session.scalars(select(Alert.sightings))) == {4}
