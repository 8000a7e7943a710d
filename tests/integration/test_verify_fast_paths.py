"""The shortcuts that make verification cheap answer exactly what the plain ways answer: statements
run on the driver connection (pharma.shared.prepared), pack records filled in directly, a bulk's
answer written with each product and pack part encoded once, a bulk's items read in a tight loop."""

from __future__ import annotations

import dataclasses
import json

from sqlalchemy import event, select

from pharma.parties import auth
from pharma.parties.auth import token_hash
from pharma.shared.uow import UnitOfWork
from pharma.verify import lookup as lk
from pharma.verify import schemas as s
from pharma.verify import services as svc
from pharma.verify.models import Verification
from tests.conftest import BACKEND
from tests.factories import gtin13
from tests.integration.verify_helpers import GS, counter, element_string, set_state


def _plain(prepared, connection, params) -> list[tuple]:
    return [tuple(row) for row in connection.execute(prepared.statement, params)]


def test_prepared_statements_read_the_same_rows_as_sqlalchemy(make, db_session):
    c = counter(make, serials=("P1", "P2", "P3"))
    unregistered = gtin13(7001, prefix="469").zfill(14)
    connection = db_session.connection()
    pg = BACKEND == "postgresql"
    assert lk.PRODUCT_AND_PACK._direct(connection) is pg  # the direct path is the one tested on PostgreSQL
    for gtin, serial in [(c.lot.gtin, "P1"), (c.lot.gtin, "NOPE"), (unregistered, "P1")]:
        params = {"gtin": gtin, "serial": serial}
        assert lk.PRODUCT_AND_PACK.rows(connection, params) == _plain(lk.PRODUCT_AND_PACK, connection, params)
        assert lk.PACK_BY_KEY.rows(connection, params) == _plain(lk.PACK_BY_KEY, connection, params)
        assert lk.PRODUCT_BY_GTIN.rows(connection, {"gtin": gtin}) == \
            _plain(lk.PRODUCT_BY_GTIN, connection, {"gtin": gtin})
    gtins = [c.lot.gtin, unregistered]
    assert sorted(lk.PRODUCTS_BY_GTINS.rows(connection, {"gtins": gtins})) == \
        sorted(_plain(lk.PRODUCTS_BY_GTINS, connection, {"gtins": gtins}))
    keys = [(c.lot.gtin, "P1"), (c.lot.gtin, "P3"), (c.lot.gtin, "NOPE")]
    statement, params = lk._packs_query(connection.dialect.name, keys)
    found = sorted(statement.rows(connection, params))
    assert found == sorted(_plain(lk.PACKS_BY_KEYS, connection, {"keys": keys}))
    assert [row[1] for row in found] == ["P1", "P3"]
    odd = [(c.lot.gtin, "P1"), (c.lot.gtin, f"P2{GS}P3")]  # a GS in a key (never parsed so): the portable form
    statement, params = lk._packs_query(connection.dialect.name, odd)
    assert statement is lk.PACKS_BY_KEYS and [row[1] for row in statement.rows(connection, params)] == ["P1"]
    hashed = {"hash": token_hash(c.pharmacist.token)}
    assert auth._TOKEN_ACTOR_BY_HASH.rows(connection, hashed) == _plain(auth._TOKEN_ACTOR_BY_HASH, connection, hashed)
    gln = {"gln": c.pharmacy.locations[0].gln}
    assert svc._BY_GLN.rows(connection, gln) == _plain(svc._BY_GLN, connection, gln) == [
        (c.location_id, c.pharmacy.id)]


def test_statements_go_through_sqlalchemy_while_someone_listens_to_the_engine(make, db_session):
    counter(make)
    connection = db_session.connection()
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", listen)
    try:
        assert not lk.PRODUCT_AND_PACK._direct(connection)
        lk.PRODUCT_AND_PACK.rows(connection, {"gtin": "0" * 14, "serial": "X"})
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(seen) == 1


def test_a_pack_record_filled_in_directly_is_the_dataclass_it_stands_for(make, db_session):
    c = counter(make, serials=("P1", "P2"))
    set_state(make, c.lot, "P2", "STOLEN")
    lookup = lk.Lookup(db_session, svc.utc_today())
    lookup.load([c.lot.gtin], [(c.lot.gtin, "P1"), (c.lot.gtin, "P2")])
    records = [lookup.packs[(c.lot.gtin, "P1")], lookup.packs[(c.lot.gtin, "P2")]]
    for record in records:
        rebuilt = dataclasses.replace(record)  # through the dataclass's own __init__
        assert record == rebuilt and hash(record) == hash(rebuilt) and repr(record) == repr(rebuilt)
        _assert_frozen(record)
    assert [r.state for r in records] == ["ACTIVE", "STOLEN"]
    assert records[0].expiry is records[1].expiry  # the packs of a batch share it


def _assert_frozen(record) -> None:
    try:
        record.state = "X"
    except dataclasses.FrozenInstanceError:
        return
    raise AssertionError("a pack record must stay frozen")


def _mixed_scans(c) -> list[str]:
    return [c.scan("P1"), c.scan("P2").replace(GS, "~"), "junk", c.scan("NOPE"), "]E0" + c.lot.gtin[1:],
            element_string(gtin13(5150, prefix="469").zfill(14), "X1"), "]C100" + c.lot.case_sscc,
            c.scan("P3", batch="OTHER"), c.scan("P1") + GS + "91" + '"product":0' + '\\"pack\\":1',
            "əйЁ€ \"quoted\" back\\slash \x01\x1f\x7f\t\n", "\u2028\U0001F600"]


def test_a_bulk_answer_written_part_by_part_is_byte_for_byte_what_jsonify_writes(app, make, db_session):
    c = counter(make)
    set_state(make, c.lot, "P2", "STOLEN")  # a finding with a reason, an alert
    elsewhere = make.caller("pharmacist", org=make.org("pharmacy"))  # sees no pack details
    for caller in (c.pharmacist, elsewhere):
        actor = make.uow(caller.user).actor
        scans = tuple(svc.Scan(x) for x in _mixed_scans(c))
        results = svc.verify_bulk(UnitOfWork(db_session, actor), svc.VerifyScans(scans))
        assert len({r.verdict for r in results}) >= 5
        with app.app_context():
            expected = app.json.response({"results": [s.verification_json(r) for r in results]}
                                         ).get_data(as_text=True)
            written = s.results_text(results, lambda v: app.json.dumps(v, separators=(",", ":")))
        assert f"{written}\n" == expected


def test_a_bulk_answer_over_http_is_canonical_json(client, make):
    c = counter(make)
    res = client.post("/api/v1/verify/bulk", json={"scans": [{"scan": x} for x in _mixed_scans(c)]},
                      headers=c.pharmacist.headers)
    assert res.status_code == 200 and res.mimetype == "application/json"
    canonical = json.dumps(res.get_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"
    assert res.get_data(as_text=True) == canonical
    assert res.get_json()["results"][-3]["scan"]["raw"].endswith('"product":0\\"pack\\":1')


def test_single_verifications_write_their_rows_the_same_either_way(make, db_session):
    c = counter(make)
    actor = make.uow(c.pharmacist.user).actor
    svc.verify_scan(UnitOfWork(db_session, actor), svc.Scan(c.scan("P1")), idempotency_key="k-1")
    rows = db_session.execute(select(Verification.location_id, Verification.organisation_id, Verification.user_id,
                                     Verification.gtin, Verification.serial, Verification.verdict,
                                     Verification.idempotency_key, Verification.raw)).all()
    assert rows == [(c.location_id, c.pharmacy.id, c.pharmacist.user.id, c.lot.gtin, "P1", "OK", "k-1",
                     c.scan("P1"))]
    created = db_session.scalar(select(Verification.created_at))
    assert created.tzinfo is not None


def test_a_bulk_writes_every_raw_scan_exactly_whatever_it_holds(make, db_session):
    c = counter(make)
    actor = make.uow(c.pharmacist.user).actor
    odd = ["tab\there", "new\nline", "carriage\rreturn", "back\\slash", "nul\x00byte", "\\N", "\\.", "əйЁ€",
           "quote\"'", c.scan("P1"), c.scan("NOPE"), c.scan("P2") + GS + "91" + "X" * 300, "", "   "]
    raws = (odd * 3)[:30]
    assert len(raws) > svc.COPY_FROM  # the bulk goes by COPY on PostgreSQL
    results = svc.verify_bulk(UnitOfWork(db_session, actor),
                              svc.VerifyScans(tuple(svc.Scan(r) for r in raws), idempotency_key="key\\with\tescapes"))
    rows = db_session.execute(select(Verification.raw, Verification.gtin, Verification.serial, Verification.verdict,
                                     Verification.alert_id, Verification.idempotency_key, Verification.location_id,
                                     Verification.user_id, Verification.device_id, Verification.created_at)
                              .order_by(Verification.id)).all()
    expected = [(r[:200].replace("\x00", "\\0"), res.scan.gtin if res.scan else None,
                 res.scan.serial if res.scan else None, res.verdict.value, res.alert_id, "key\\with\tescapes",
                 c.location_id, c.pharmacist.user.id, None) for r, res in zip(raws, results, strict=True)]
    assert [tuple(row[:9]) for row in rows] == expected
    assert len({row.created_at for row in rows}) == 1 and rows[0].created_at.tzinfo is not None
    assert any(row.alert_id for row in rows)


def test_a_single_answer_is_byte_for_byte_what_jsonify_writes(client, make):
    c = counter(make)
    set_state(make, c.lot, "P2", "STOLEN")
    for scan in _mixed_scans(c):
        res = client.post("/api/v1/verify", json={"scan": scan}, headers=c.pharmacist.headers)
        assert res.status_code == 200 and res.mimetype == "application/json"
        answer = res.get_json()
        assert res.get_data(as_text=True) == json.dumps(answer, sort_keys=True, separators=(",", ":")) + "\n"
        assert answer["scan"]["raw"] == scan
