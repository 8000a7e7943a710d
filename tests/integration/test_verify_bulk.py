"""Bulk verification, a constant number of queries, idempotent replays, the scanning location,
photos."""

from __future__ import annotations

import io

from sqlalchemy import event, func, select

from pharma.barcodes.draw import pack_label
from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.verify import keyboard
from pharma.verify import services as svc
from pharma.verify.models import Alert, Verification
from tests.factories import gln, gtin13
from tests.integration.verify_helpers import GS, VERIFY, counter, element_string, verify


def bulk(client, caller, scans: list[str], status: int = 200, **body):
    res = client.post(f"{VERIFY}/bulk", json={"scans": [{"scan": s} for s in scans], **body}, headers=caller.headers)
    assert res.status_code == status, res.get_json()
    return res.get_json()


def test_a_bulk_answers_each_scan_in_order(client, make, db_session):
    c = counter(make)
    scans = [c.scan("P1"), "junk", c.scan("NOPE"), c.scan("P2", batch="X9")]
    results = bulk(client, c.pharmacist, scans)["results"]
    assert [r["verdict"] for r in results] == ["OK", "INVALID_CODE", "UNKNOWN_PACK", "BATCH_MISMATCH"]
    assert [r["scan"]["raw"] for r in results] == scans
    assert db_session.scalar(select(func.count()).select_from(Verification)) == 4
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 2


def test_a_bulk_holds_1_to_1000_scans(client, make):
    c = counter(make)
    res = bulk(client, c.pharmacist, [], status=422)
    assert res["errors"] == {"scans": ["Length must be between 1 and 1000."]}
    res = bulk(client, c.pharmacist, ["x"] * 1001, status=422)
    assert res["errors"] == {"scans": ["Length must be between 1 and 1000."]}


def test_a_bulk_reads_the_records_in_a_constant_number_of_queries(app, make, db_session):
    c = counter(make, serials=tuple(f"Q{i}" for i in range(60)))
    scans = (*(svc.Scan(c.scan(s)) for s in c.lot.serials), svc.Scan(c.scan("NOPE")))
    actor = make.uow(c.pharmacist.user).actor
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        results = svc.verify_bulk(UnitOfWork(db_session, actor), svc.VerifyScans(scans))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [r.verdict.value for r in results] == ["OK"] * 60 + ["UNKNOWN_PACK"]
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # the scanning location; the GTINs once; the packs once; the location's region for the alert
    assert len(selects) == 4, selects


def test_mangled_scans_in_a_bulk_are_repaired_from_the_records_in_one_more_query(app, make, db_session):
    c = counter(make, serials=("ab12", "cd34"))
    caps = keyboard.typed(c.scan("ab12"), "US", caps=True)  # "]D2...": Caps Lock on at the till
    lost_gs = element_string(c.lot.gtin, "cd34", c.lot.batch, c.expiry, gs="")
    actor = make.uow(c.pharmacist.user).actor
    results = svc.verify_bulk(UnitOfWork(db_session, actor), svc.VerifyScans((svc.Scan(caps), svc.Scan(lost_gs))))
    assert [(r.verdict.value, r.scan.serial) for r in results] == [("OK", "ab12"), ("OK", "cd34")]
    assert {rep.code for r in results for rep in r.scan.repairs} >= {"CAPS_LOCK", "GS_RECOVERED"}


def test_a_retried_verification_with_the_same_key_counts_once(client, make, db_session):
    c = counter(make)
    headers = {**c.pharmacist.headers, "Idempotency-Key": "till-7-scan-1"}
    first = client.post(VERIFY, json={"scan": c.scan("NOPE")}, headers=headers)
    again = client.post(VERIFY, json={"scan": c.scan("NOPE")}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    rows = db_session.scalars(select(Verification)).all()
    assert [(r.verdict, r.idempotency_key) for r in rows] == [("UNKNOWN_PACK", "till-7-scan-1")]
    assert db_session.scalar(select(Alert.sightings)) == 1


def test_a_cash_register_verifies_at_its_own_location(client, make, db_session):
    c = counter(make)
    device, token = make.device(c.pharmacy)
    res = client.post(VERIFY, json={"scan": c.scan("P1")}, headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200 and res.json["verdict"] == "OK"
    row = db_session.scalar(select(Verification))
    assert (row.device_id, row.user_id, row.location_id) == (device.id, None, c.location_id)


def test_a_caller_with_several_locations_names_the_scanning_one(client, make):
    c = counter(make)
    chain = make.org("pharmacy", locations=2)
    caller = make.caller("pharmacist", org=chain)
    body = verify(client, caller, c.scan("P1"), status=422)
    assert body["code"] == "LOCATION_REQUIRED"
    assert body["errors"] == {"location_gln": [
        "Your organisation has several locations: send the scanning location's GLN (location_gln)."]}
    body = verify(client, caller, c.scan("P1"), location_gln=chain.locations[1].gln)
    assert body["verdict"] == "NOT_IN_CUSTODY"


def test_a_pharmacist_cannot_scan_in_another_organisations_name(client, make):
    c = counter(make)
    other = make.org("pharmacy")
    body = verify(client, c.pharmacist, c.scan("P1"), status=403, location_gln=other.locations[0].gln)
    assert body["code"] == "FORBIDDEN"


def test_an_unknown_scanning_location_is_refused(client, make):
    c = counter(make)
    body = verify(client, make.caller("regulator"), c.scan("P1"), status=404, location_gln=gln(999_999))
    assert (body["code"], body["detail"]) == ("LOCATION_NOT_FOUND", f"No location with GLN {gln(999_999)}.")


def test_a_photo_of_a_pack_label_is_decoded_and_verified(client, make):
    c = counter(make)
    png = pack_label(c.lot.gtin, "P1", c.lot.batch, c.expiry, kind="png")
    res = client.post(f"{VERIFY}/photo", data={"photo": (io.BytesIO(png), "label.png")},
                      headers=c.pharmacist.headers, content_type="multipart/form-data")
    assert res.status_code == 200, res.json
    [result] = res.json["results"]
    assert (result["verdict"], result["scan"]["serial"], result["scan"]["symbology"]) == ("OK", "P1", "]d2")


def test_a_photo_that_is_not_an_image_is_refused(client, make):
    c = counter(make)
    res = client.post(f"{VERIFY}/photo", data={"photo": (io.BytesIO(b"not an image"), "x.png")},
                      headers=c.pharmacist.headers, content_type="multipart/form-data")
    assert res.status_code == 422 and res.json["code"] == "BAD_IMAGE"


def test_raw_scans_are_kept_truncated_with_their_separators(make, db_session):
    c = counter(make)
    long_scan = c.scan("P1") + GS + "91" + "A" * 300
    actor = make.uow(c.pharmacist.user).actor
    svc.verify_scan(UnitOfWork(db_session, actor), svc.Scan(long_scan))
    svc.verify_scan(UnitOfWork(db_session, Actor.system("t")), svc.Scan("a\x00b"), c.pharmacy.locations[0].gln)
    assert list(db_session.scalars(select(Verification.raw).order_by(Verification.id))) == [long_scan[:200], "a\\0b"]


def test_every_answer_is_exactly_what_the_documented_schema_describes(client, make):
    from pharma.verify.schemas import VerificationOut

    c = counter(make)
    elsewhere = make.caller("pharmacist", org=make.org("pharmacy"))
    scans = [c.scan("P1"), c.scan("P2").replace(GS, "~"), "junk", c.scan("NOPE"), "]E0" + c.lot.gtin[1:],
             element_string(gtin13(5150, prefix="469").zfill(14), "X1"), "]C100" + c.lot.case_sscc]
    answers = bulk(client, c.pharmacist, scans)["results"] + bulk(client, elsewhere, [c.scan("P3")])["results"]
    assert {a["verdict"] for a in answers} == {"OK", "INVALID_CODE", "UNKNOWN_PACK", "UNREGISTERED_PRODUCT",
                                               "NOT_IN_CUSTODY"}
    schema = VerificationOut()
    for answer in answers:
        assert schema.dump(schema.load(answer)) == answer
