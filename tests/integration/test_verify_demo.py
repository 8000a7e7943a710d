"""The demo's verifications: genuine scans at the demo pharmacy and the cases they raised."""

from __future__ import annotations

from sqlalchemy import select

from pharma import fixtures
from pharma.verify.models import Alert, Verification


def test_the_demo_pharmacy_has_verified_packs_and_the_regulator_has_cases_to_work(app, db_session):
    with app.app_context():
        report = fixtures.load_all()
    assert (report.counts["demo_verifications"], report.counts["demo_alerts"]) == (9, 3)
    verdicts = list(db_session.scalars(select(Verification.verdict).order_by(Verification.id)))
    assert verdicts == ["OK"] * 5 + ["UNKNOWN_PACK", "UNKNOWN_PACK", "BATCH_MISMATCH", "NOT_RELEASED"]
    cases = db_session.execute(select(Alert.verdict, Alert.status, Alert.sightings).order_by(Alert.id)).all()
    assert [tuple(c) for c in cases] == [("UNKNOWN_PACK", "INVESTIGATING", 2), ("BATCH_MISMATCH", "NEW", 1),
                                         ("NOT_RELEASED", "NEW", 1)]
