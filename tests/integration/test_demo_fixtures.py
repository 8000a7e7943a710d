"""`pharma fixtures load`: the whole demo loads once, every role can sign in, nothing half-loaded."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import func, select

from pharma import fixtures
from pharma.auditlog.models import AuditEntry
from pharma.parties.fixtures import DEMO_DEVICE_TOKEN, DEMO_PASSWORD, DEMO_USERS
from pharma.parties.models import Location, Organisation, User
from pharma.register.models import Certificate, Icd10Code, Product
from tests.integration.test_signin import sign_in


@pytest.fixture()
def loaded(app, db_session):
    with app.app_context():
        report = fixtures.load_all()
    return report


def test_the_demo_has_the_register_the_parties_and_every_role(loaded, db_session):
    count = lambda model: db_session.scalar(select(func.count()).select_from(model))  # noqa: E731
    assert count(Product) >= 200
    assert count(Icd10Code) >= 300
    assert db_session.scalar(select(func.count()).where(Organisation.type == "pharmacy")) >= 30
    regions = db_session.scalars(
        select(Location.region).join(Organisation).where(Organisation.type == "pharmacy").distinct()).all()
    assert len(regions) >= 8
    statuses = set(db_session.scalars(select(Certificate.status).distinct()))
    assert {"active", "suspended", "revoked", "expired"} <= statuses
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "fixtures.load")).one()
    assert entry.change["products"] == count(Product)
    roles = {r for u in db_session.scalars(select(User)) for r in u.roles}
    assert roles == {"admin", "regulator", "inspector", "importer", "pharmacist", "head_pharmacist",
                     "physician", "patient"}


def test_every_demo_user_signs_in_with_the_printed_password(loaded, app):
    for username, *_ in DEMO_USERS:
        res = sign_in(app.test_client(), username, DEMO_PASSWORD)
        assert res.status_code == 302, username


def test_the_demo_cash_register_token_works(loaded, client):
    res = client.get("/api/v1/parties/me", headers={"Authorization": f"Bearer {DEMO_DEVICE_TOKEN}"})
    assert res.status_code == 200
    assert res.json["roles"] == ["cash_register"]


def test_loading_twice_with_if_empty_changes_nothing(loaded, app, db_session):
    before = db_session.scalar(select(func.count()).select_from(Product))
    with app.app_context():
        again = fixtures.load_all(if_empty=True)
    assert again.skipped
    assert db_session.scalar(select(func.count()).select_from(Product)) == before


def test_a_broken_fixture_file_loads_nothing_at_all(app, db_session, tmp_path):
    shutil.copytree(fixtures.FIXTURES, tmp_path / "fx")
    products = tmp_path / "fx" / "register" / "products.json"
    rows = json.loads(products.read_text(encoding="utf-8"))
    rows[-1]["gtins"] = ["4006381333932"]  # wrong check digit in the last product
    products.write_text(json.dumps(rows), encoding="utf-8")
    with app.app_context(), pytest.raises(Exception, match="check digit"):
        fixtures.load_all(directory=tmp_path / "fx")
    assert db_session.scalar(select(func.count()).select_from(Organisation)) == 0
    assert db_session.scalar(select(func.count()).select_from(Product)) == 0


def test_the_demo_has_packs_with_a_history_a_pharmacist_can_follow(loaded, client, db_session):
    from pharma.trace.models import Batch, Declaration, Pack
    from tests.integration.test_signin import sign_in

    packs = db_session.scalars(select(Pack).order_by(Pack.id)).all()
    assert len(packs) == 120
    warehouse = db_session.scalars(select(Declaration.location_id)).one()
    pharmacy_packs = [p for p in packs if p.location_id != warehouse]
    assert len(pharmacy_packs) == 40
    assert [p.state for p in packs].count("DESTROYED") == 1
    assert db_session.scalar(select(func.count()).select_from(Batch).where(Batch.recalled_at.is_not(None))) == 1
    sign_in(client, "pharmacist", DEMO_PASSWORD)
    first = pharmacy_packs[0]
    page = client.get(f"/api/v1/packs/{first.gtin}/{first.serial}/history")
    assert page.status_code == 200, page.json
    assert [e["type"] for e in page.json["events"]] == ["COMMISSION", "SHIP", "RECEIVE"]


def test_the_register_alone_loads_without_any_demo_data(app, db_session):
    from pharma.parties.models import Organisation
    from pharma.trace.models import Pack

    with app.app_context():
        report = fixtures.load_all(register_only=True)
    assert report.counts["products"] >= 200
    assert db_session.scalar(select(func.count()).select_from(Organisation)) == 0
    assert db_session.scalar(select(func.count()).select_from(Pack)) == 0
