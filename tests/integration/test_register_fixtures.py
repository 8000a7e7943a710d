"""Loading the register's reference data, the daily expiry task, and the GTIN hot path."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update

from pharma.auditlog.models import AuditEntry
from pharma.register import fixtures, services, tasks
from pharma.register.models import Certificate, CertificateStatusChange, Icd10Code, PriceRecord, Product, Substance
from pharma.shared.actor import Actor
from pharma.shared.errors import Forbidden
from pharma.shared.uow import UnitOfWork
from tests.integration.register_helpers import API, register

REAL = Path(__file__).resolve().parents[2] / "fixtures"


def sample(n: int, **overrides) -> dict:
    from tests.factories import gtin13

    row = {
        "trade_name": f"Sample {n}", "substances": [{"inn": "Paracetamol", "strength": "500 mg"}],
        "atc_code": "N02BE01", "dosage_form": "TABLET", "route": "ORAL", "pack_size": 20, "pack_unit": "tablet",
        "gtins": [gtin13(5000 + n)], "rx": False, "controlled_schedule": None,
        "certificate": {"number": f"AZ-T-{n:04d}", "holder": "Holder", "manufacturer": "Maker", "country": "TR",
                        "issued": "2022-01-01", "valid_until": "2030-01-01", "status": "active"},
        "prices": [{"max_retail_price": 250, "effective_from": "2024-01-01"},
                   {"max_retail_price": 300, "effective_from": "2025-01-01"}],
    }
    row.update(overrides)
    return row


def write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "products.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_loading_products_enters_substances_gtins_certificates_and_price_periods(tmp_path, db_session):
    rows = [sample(1), sample(2, substances=[{"inn": "paracetamol", "strength": "1 g"},
                                             {"inn": "caffeine", "strength": "65 mg"}])]
    counts = fixtures.load_register(db_session, write(tmp_path, rows))
    db_session.commit()
    assert counts == {"products": 2, "gtins": 2, "certificates": 2, "prices": 4, "substances": 2}
    assert sorted(db_session.scalars(select(Substance.inn))) == ["caffeine", "paracetamol"]
    periods = db_session.execute(select(PriceRecord.effective_from, PriceRecord.effective_to)
                                 .order_by(PriceRecord.product_id, PriceRecord.effective_from)).all()
    assert periods[:2] == [(date(2024, 1, 1), date(2024, 12, 31)), (date(2025, 1, 1), None)]


def test_loading_marks_past_certificates_expired_and_records_why_others_are_not_active(tmp_path, db_session):
    old = sample(1)
    old["certificate"] = {**old["certificate"], "issued": "2015-01-01", "valid_until": "2020-01-01"}
    suspended = sample(2)
    suspended["certificate"] = {**suspended["certificate"], "status": "suspended"}
    revoked = sample(3)
    revoked["certificate"] = {**revoked["certificate"], "status": "revoked"}
    fixtures.load_register(db_session, write(tmp_path, [old, suspended, revoked]))
    db_session.commit()
    statuses = dict(db_session.execute(select(Certificate.number, Certificate.status)).all())
    assert statuses == {"AZ-T-0001": "expired", "AZ-T-0002": "suspended", "AZ-T-0003": "revoked"}
    last = dict(db_session.execute(
        select(Certificate.number, CertificateStatusChange.to_status).join(Certificate.history)
        .where(CertificateStatusChange.action != "register")).all())
    assert last == statuses
    reasons = db_session.scalars(select(CertificateStatusChange.reason)
                                 .where(CertificateStatusChange.action != "register")).all()
    assert all(len(r) > 3 for r in reasons)


def test_loading_refuses_a_wrong_gtin_and_writes_nothing(tmp_path, db_session):
    bad = sample(2, gtins=["4030096123450"])
    with pytest.raises(ValueError, match="check digit"):
        fixtures.load_register(db_session, write(tmp_path, [sample(1), bad]))
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Product)) == 0


def test_loading_icd10_codes(tmp_path, db_session):
    path = tmp_path / "icd10.csv"
    path.write_text('code,title\nJ06.9,"Acute upper respiratory infection, unspecified"\nI10,Essential hypertension\n',
                    encoding="utf-8")
    assert fixtures.load_icd10(db_session, path) == {"icd10_codes": 2}
    db_session.commit()
    assert db_session.get(Icd10Code, "I10").title == "Essential hypertension"


def test_icd10_codes_are_searched_by_code_prefix_or_title(client, make, tmp_path, db_session):
    path = tmp_path / "icd10.csv"
    path.write_text("code,title\nI10,Essential hypertension\nI11.9,Hypertensive heart disease\nJ45,Asthma\n",
                    encoding="utf-8")
    fixtures.load_icd10(db_session, path)
    db_session.commit()
    physician = make.caller("physician")
    codes = client.get(f"{API}/icd10", headers=physician.headers, query_string={"q": "i1"}).json
    assert [c["code"] for c in codes] == ["I10", "I11.9"]
    codes = client.get(f"{API}/icd10", headers=physician.headers, query_string={"q": "asth"}).json
    assert codes == [{"code": "J45", "title": "Asthma"}]


def test_the_real_reference_files_load(db_session):
    products, icd10 = REAL / "register" / "products.json", REAL / "icd10.csv"
    if not products.exists() or not icd10.exists():
        pytest.skip("the reference fixture files are not there")
    counts = fixtures.load_register(db_session, products)
    counts.update(fixtures.load_icd10(db_session, icd10))
    db_session.commit()
    assert counts["products"] == len(json.loads(products.read_text(encoding="utf-8")))
    assert counts["icd10_codes"] > 0
    assert db_session.scalar(select(func.count()).select_from(Certificate)) == counts["certificates"]


# ---------------------------------------------------------------- the daily expiry


def test_the_expiry_task_expires_active_certificates_past_their_date_once(client, make, db_session):
    regulator = make.caller("regulator")
    old = register(client, regulator)["certificate"]["id"]
    suspended = register(client, regulator)["certificate"]["id"]
    current = register(client, regulator)["certificate"]["id"]
    client.post(f"{API}/certificates/{suspended}/suspend", headers=regulator.headers, json={"reason": "Hold"})
    yesterday = date.today() - timedelta(days=1)
    db_session.execute(update(Certificate).where(Certificate.id.in_([old, suspended]))
                       .values(valid_until=yesterday, issued_on=yesterday - timedelta(days=10)))
    db_session.commit()

    assert tasks.expire_certificates.delay().get() == 1
    assert tasks.expire_certificates.delay().get() == 0  # safe to run twice
    statuses = dict(db_session.execute(select(Certificate.id, Certificate.status)).all())
    assert statuses == {old: "expired", suspended: "suspended", current: "active"}
    expiring = select(CertificateStatusChange).where(CertificateStatusChange.action == "expire")
    history = db_session.scalars(expiring).all()
    assert [(h.certificate_id, h.from_status, h.to_status) for h in history] == [(old, "active", "expired")]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "certificate.expire")).one()
    assert entry.count == 1 and entry.user_id is None
    assert tasks.expire_certificates.name == "pharma.register.expire_certificates"


def test_only_the_regulator_or_the_system_expires_certificates(make, db_session):
    pharmacist = make.user("pharmacist")
    with pytest.raises(Forbidden):
        services.expire_certificates(make.uow(pharmacist))
    assert services.expire_certificates(UnitOfWork(db_session, Actor.system())) == 0


# ---------------------------------------------------------------- the GTIN hot path


def test_a_gtin_lookup_is_one_query(client, make, db_session):
    from pharma.extensions import db

    regulator = make.caller("regulator")
    register(client, regulator, gtins=["4030096123457"], max_retail_price=990, price_from="2025-01-01")
    work = make.uow(regulator.user)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        found = services.product_by_gtin(work, "4030096123457")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert (found.gtin, found.certificate_status, found.max_retail_price, found.in_force) == (
        "04030096123457", "active", 990, True)
