"""Every verdict of DESIGN.md through POST /api/v1/verify, with real packs, and what each caller
may see of a pack that is not theirs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from pharma.register import services as reg
from pharma.register.models import Certificate
from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.trace import movements
from pharma.verify.models import Alert, Verification
from tests.factories import gtin13
from tests.integration.history_helpers import TODAY, commission, recall, ship, withdraw
from tests.integration.verify_helpers import counter, element_string, findings, set_state, verify


def system(make) -> UnitOfWork:
    return UnitOfWork(make.session, Actor.system("test"))


def certificate_id(make, product_id: int) -> int:
    return make.session.scalar(select(Certificate.id).where(Certificate.product_id == product_id))


def test_a_genuine_pack_on_the_pharmacys_shelf_is_ok_with_its_product_and_pack_facts(client, make):
    c = counter(make)
    body = verify(client, c.pharmacist, c.scan("P1"))
    assert (body["verdict"], body["findings"], body["alert"], body["alert_id"]) == ("OK", [], False, None)
    assert body["scan"] == {"raw": c.scan("P1"), "symbology": "]d2", "kind": "PACK", "gtin": c.lot.gtin,
                            "serial": "P1", "batch": c.lot.batch, "expiry": c.expiry,
                            "expiry_date": c.lot_expiry.isoformat(), "sscc": None, "repairs": []}
    assert body["product"]["trade_name"] == "Paracetamol Test"
    assert body["product"]["substances"] == [{"inn": "paracetamol", "strength": "500 mg"}]
    assert body["product"]["certificate"]["status"] == "active"
    assert body["pack"] == {"state": "ACTIVE", "custody": "HERE", "batch": c.lot.batch, "expiry": c.expiry,
                            "expiry_date": c.lot_expiry.isoformat(), "stored_state": "ACTIVE",
                            "custodian_location": c.pharmacy.locations[0].name, "in_transit": False}


def test_a_scan_that_cannot_be_parsed_is_answered_200_invalid_code(client, make):
    c = counter(make)
    body = verify(client, c.pharmacist, "(01)04030096123457(21)AB")
    assert body["verdict"] == "INVALID_CODE" and body["alert"] is False
    assert body["findings"][0]["reason"] == "HUMAN_READABLE"
    assert body["scan"]["raw"] == "(01)04030096123457(21)AB" and body["scan"]["gtin"] is None
    assert body["product"] is None and body["pack"] is None


def test_a_gtin_not_in_the_register_is_unregistered_and_opens_an_alert(client, make, db_session):
    c = counter(make)
    stranger = gtin13(4242, prefix="469").zfill(14)
    body = verify(client, c.pharmacist, element_string(stranger, "X1"))
    assert findings(body) == [("UNREGISTERED_PRODUCT", f"GTIN {stranger} is not in the product register.")]
    assert body["alert"] is True and body["product"] is None
    alert = db_session.get(Alert, body["alert_id"])
    assert (alert.verdict, alert.gtin, alert.serial, alert.location_id) == (
        "UNREGISTERED_PRODUCT", stranger, "X1", c.location_id)


@pytest.mark.parametrize(("act", "code", "alert"), [
    (reg.suspend_certificate, "REGISTRATION_SUSPENDED", False),
    (reg.revoke_certificate, "REGISTRATION_REVOKED", True),
])
def test_a_suspended_or_revoked_registration_is_named(client, make, act, code, alert):
    c = counter(make)
    act(system(make), certificate_id(make, c.lot.product_id), "inspection findings")
    body = verify(client, c.pharmacist, c.scan("P1"))
    assert body["verdict"] == code and body["alert"] is alert
    assert body["product"]["certificate"]["status"] == code.removeprefix("REGISTRATION_").lower()


def test_a_registration_past_its_validity_is_expired(client, make):
    c = counter(make)
    make.session.execute(update(Certificate).where(Certificate.product_id == c.lot.product_id)
                         .values(valid_until=TODAY - timedelta(days=1)))
    make.session.commit()
    body = verify(client, c.pharmacist, c.scan("P1"))
    number = make.session.scalar(select(Certificate.number).where(Certificate.product_id == c.lot.product_id))
    assert findings(body) == [("REGISTRATION_EXPIRED",
                               f"Registration certificate {number} expired on {TODAY - timedelta(days=1)}.")]
    assert body["alert"] is False


def test_a_serial_never_commissioned_is_an_unknown_pack(client, make):
    c = counter(make)
    body = verify(client, c.pharmacist, c.scan("NEVER1"))
    assert findings(body) == [("UNKNOWN_PACK",
                               f"No pack with serial NEVER1 was ever commissioned for GTIN {c.lot.gtin}.")]
    assert body["alert"] is True and body["pack"] is None and body["product"]["trade_name"] == "Paracetamol Test"


def test_a_copied_serial_with_another_batch_or_expiry_is_a_mismatch(client, make):
    c = counter(make)
    body = verify(client, c.pharmacist, c.scan("P1", batch="FAKE1"))
    assert findings(body) == [("BATCH_MISMATCH",
                               "The printed batch FAKE1 differs from the batch recorded for this pack.")]
    other = (c.lot_expiry + timedelta(days=40)).strftime("%y%m%d")
    body = verify(client, c.pharmacist, c.scan("P2", expiry=other))
    assert findings(body) == [("EXPIRY_MISMATCH",
                               f"The printed expiry {other} differs from the expiry recorded for this pack.")]
    assert body["alert"] is True


def test_a_dispensed_pack_seen_again_is_already_dispensed(client, make):
    c = counter(make)
    set_state(make, c.lot, "P1", "DISPENSED")  # issue 6 dispenses; until then the state is set directly
    body = verify(client, c.pharmacist, c.scan("P1"))
    assert findings(body) == [("ALREADY_DISPENSED", "The pack was already dispensed or sold.")]
    assert body["alert"] is True and body["pack"]["state"] == "DISPENSED"


def test_a_recalled_batch_and_a_withdrawn_product_stop_the_sale(client, make):
    regulator = make.caller("regulator")
    c = counter(make)
    recall(make, regulator.user, c.lot.batch_id)
    body = verify(client, c.pharmacist, c.scan("P1"))
    assert findings(body) == [("RECALLED", "The pack's batch has been recalled.")]
    assert body["alert"] is False and body["pack"]["state"] == "RECALLED"
    withdraw(make, regulator.user, c.lot.product_id)
    body = verify(client, c.pharmacist, c.scan("P2"))
    assert [f[0] for f in findings(body)] == ["WITHDRAWN", "RECALLED"]
    assert body["verdict"] == "WITHDRAWN" and body["product"]["withdrawn"] is True


def test_a_pack_past_its_expiry_is_expired(client, make):
    c = counter(make, expiry=TODAY - timedelta(days=1))
    body = verify(client, c.pharmacist, c.scan("P1"))
    assert findings(body) == [("EXPIRED", "The pack is past its expiry date.")]
    assert body["pack"]["state"] == "EXPIRED"


@pytest.mark.parametrize(("state", "alert"), [("DESTROYED", False), ("STOLEN", True)])
def test_a_decommissioned_pack_is_inactive_and_alerts_when_stolen(client, make, state, alert):
    c = counter(make)
    movements.decommission(system(make), movements.Decommission(
        c.location_id, (movements.PackRef(c.lot.gtin, "P1"),), state))
    body = verify(client, c.pharmacist, c.scan("P1"))
    assert [(f["code"], f["reason"], f["message"]) for f in body["findings"]] == [
        ("INACTIVE", state, f"The pack is out of circulation: {state.lower()}.")]
    assert body["alert"] is alert


def test_a_pack_held_by_another_pharmacy_is_not_in_custody_and_its_details_stay_hidden(client, make):
    c = counter(make)
    elsewhere = make.org("pharmacy")
    other = make.caller("pharmacist", org=elsewhere)
    body = verify(client, other, c.scan("P1"))
    assert findings(body) == [("NOT_IN_CUSTODY", "The pack is held by another location.")]
    assert body["alert"] is True
    assert body["pack"] == {"state": "ACTIVE", "custody": "ELSEWHERE", "batch": None, "expiry": None,
                            "expiry_date": None, "stored_state": None, "custodian_location": None,
                            "in_transit": None}
    assert c.pharmacy.name not in str(body) and c.pharmacy.locations[0].name not in str(body)


def test_the_agency_sees_where_a_pack_is_held(client, make):
    c = counter(make)
    elsewhere = make.org("pharmacy")
    inspector = make.caller("inspector")
    body = verify(client, inspector, c.scan("P1"), location_gln=elsewhere.locations[0].gln)
    assert body["verdict"] == "NOT_IN_CUSTODY"
    assert body["pack"]["custodian_location"] == c.pharmacy.locations[0].name
    assert body["pack"]["batch"] == c.lot.batch


def test_a_pack_in_transit_to_the_pharmacy_is_ok_there_and_not_in_custody_elsewhere(client, make):
    lot = commission(make, serials=("T1",))
    pharmacy, elsewhere = make.org("pharmacy"), make.org("pharmacy")
    ship(make, lot.importer_user, [lot.pack_id("T1")], lot.location_id, pharmacy.locations[0].id)
    scan = element_string(lot.gtin, "T1")
    body = verify(client, make.caller("pharmacist", org=pharmacy), scan)
    assert body["verdict"] == "OK" and body["pack"]["custody"] == "HERE" and body["pack"]["in_transit"] is True
    body = verify(client, make.caller("pharmacist", org=elsewhere), scan)
    assert findings(body) == [("NOT_IN_CUSTODY", "The pack is in transit to another location.")]


def test_a_pack_its_importer_never_shipped_is_not_released(client, make):
    lot = commission(make, serials=("U1",))
    scan = element_string(lot.gtin, "U1", lot.batch)
    body = verify(client, make.caller("pharmacist", org=make.org("pharmacy")), scan)
    assert findings(body) == [("NOT_RELEASED",
                               "The pack has not been released into circulation: its importer has never shipped it.")]
    assert body["alert"] is True
    importer = type("Caller", (), {"headers": {"Authorization": f"Bearer {make.token(lot.importer_user)}"}})()
    assert verify(client, importer, scan)["verdict"] == "OK"


def test_a_plain_ean13_of_a_registered_product_is_judged_by_the_register(client, make, db_session):
    c = counter(make)
    body = verify(client, c.pharmacist, c.lot.gtin[1:])
    assert (body["verdict"], body["scan"]["kind"], body["pack"]) == ("OK", "GTIN", None)
    assert body["product"]["gtin"] == c.lot.gtin
    stranger = gtin13(777, prefix="469")
    body = verify(client, c.pharmacist, "]E0" + stranger)
    assert body["verdict"] == "UNREGISTERED_PRODUCT" and body["alert"] is True
    assert db_session.get(Alert, body["alert_id"]).serial == ""


def test_a_case_label_is_not_a_pack(client, make):
    c = counter(make)
    body = verify(client, c.pharmacist, "]C100" + c.lot.case_sscc)
    assert [(f["code"], f["reason"]) for f in body["findings"]] == [("INVALID_CODE", "NOT_A_PACK")]
    assert body["scan"]["kind"] == "CASE" and body["scan"]["sscc"] == c.lot.case_sscc


def test_verification_is_read_only_for_the_pack_and_records_one_row(client, make, db_session):
    c = counter(make)
    verify(client, c.pharmacist, c.scan("NOPE"))
    verify(client, c.pharmacist, "garbage")
    rows = db_session.scalars(select(Verification).order_by(Verification.id)).all()
    assert [(r.verdict, r.gtin, r.serial, r.location_id, r.user_id) for r in rows] == [
        ("UNKNOWN_PACK", c.lot.gtin, "NOPE", c.location_id, c.pharmacist.user.id),
        ("INVALID_CODE", None, None, c.location_id, c.pharmacist.user.id)]
    assert rows[0].alert_id is not None and rows[1].alert_id is None
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 1


def test_a_pack_scanned_as_extra_at_someone_elses_receipt_is_still_not_released(client, make):
    lot = commission(make, serials=("E1", "E2"))
    pharmacy = make.org("pharmacy")
    shipment = movements.ship(system(make), movements.ShipPacks(
        lot.location_id, pharmacy.locations[0].id, packs=(movements.PackRef(lot.gtin, "E1"),)))
    done = movements.receive(system(make), shipment.id, movements.Receipt(
        packs=(movements.PackRef(lot.gtin, "E1"), movements.PackRef(lot.gtin, "E2"))))
    assert done.discrepancies["extra"] == 1
    pharmacist = make.caller("pharmacist", org=pharmacy)
    assert verify(client, pharmacist, element_string(lot.gtin, "E2"))["verdict"] == "NOT_RELEASED"
    assert verify(client, pharmacist, element_string(lot.gtin, "E1"))["verdict"] == "OK"


def test_a_combination_products_substances_come_in_label_order_for_one_scan_and_for_many(client, make):
    """One scan reads the product and the pack in a single statement, several scans in two: both
    keep the label's order of substances, whatever order their rows were stored in."""
    from decimal import Decimal

    from pharma.register.models import ProductSubstance, Substance
    from tests.integration.test_verify_bulk import bulk

    c = counter(make)
    s = make.session
    first = s.scalars(select(ProductSubstance).where(ProductSubstance.product_id == c.lot.product_id)).one()
    first.position = 5  # stored first, printed second
    caffeine = Substance(inn="caffeine")
    s.add(caffeine)
    s.flush()
    s.add(ProductSubstance(product_id=c.lot.product_id, position=1, substance_id=caffeine.id,
                           strength_value=Decimal("65"), strength_unit="mg"))
    s.commit()
    expected = [{"inn": "caffeine", "strength": "65 mg"}, {"inn": "paracetamol", "strength": "500 mg"}]
    assert verify(client, c.pharmacist, c.scan("P1"))["product"]["substances"] == expected
    results = bulk(client, c.pharmacist, [c.scan("P2"), c.scan("P3")])["results"]
    assert [r["product"]["substances"] for r in results] == [expected, expected]
    unknown = verify(client, c.pharmacist, c.scan("NOPE"))
    assert unknown["verdict"] == "UNKNOWN_PACK" and unknown["product"]["substances"] == expected
