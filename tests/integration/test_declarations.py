"""Arrival declarations: one file commissions its packs against a permit, all or nothing."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from pharma.auditlog.models import AuditEntry
from pharma.permits.models import PermitLine
from pharma.shared.identifiers import gs1_check_digit
from pharma.trace.models import Batch, Case, Declaration, Pack, TraceEvent
from tests.integration.declaration_helpers import EXPIRY, csv_file, importer_with_permit, upload


def sscc(n: int) -> str:
    body = f"1476000{n:010d}"
    return body + str(gs1_check_digit(body))


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_valid_csv_commissions_every_pack_in_the_importers_custody(client, make, db_session):
    imp = importer_with_permit(make)
    g1, g2 = imp.gtins
    rows = [(g1, "B1", EXPIRY, f"S{i:04d}", sscc(1), sscc(9)) for i in range(6)]
    rows += [(g2, "B2", EXPIRY, f"T{i:04d}", sscc(2), sscc(9)) for i in range(4)]
    res = upload(client, imp, csv_file(rows))
    assert res.status_code == 202, res.json
    body = res.json
    assert (body["status"], body["packs_done"], body["packs_total"], body["percent"]) == ("ACCEPTED", 10, 10, 100)
    assert body["number"].startswith("DCL-")
    packs = db_session.scalars(select(Pack).order_by(Pack.id)).all()
    assert len(packs) == 10
    assert {(p.state, p.location_id, p.shipment_id) for p in packs} == {("ACTIVE", imp.location_id, None)}
    assert packs[0].gtin == "0" + g1 and packs[0].serial == "S0000"
    cases = {c.sscc: c for c in db_session.scalars(select(Case))}
    assert set(cases) == {sscc(1), sscc(2), sscc(9)}
    assert cases[sscc(1)].parent_id == cases[sscc(9)].id and cases[sscc(9)].parent_id is None
    assert {p.case_id for p in packs[:6]} == {cases[sscc(1)].id}
    used = dict(db_session.execute(select(PermitLine.id, PermitLine.packs_used)).all())
    assert sorted(used.values()) == [4, 6]
    event = db_session.scalars(select(TraceEvent)).one()
    assert (event.type, event.declaration_id, event.count, event.location_id) == (
        "COMMISSION", body["id"], 10, imp.location_id)
    assert event.user_id == imp.caller.user.id
    assert count(db_session, AuditEntry, AuditEntry.action == "declaration.accept") == 1


def test_a_json_declaration_is_accepted_too(client, make, db_session):
    imp = importer_with_permit(make, products=1)
    doc = {"packs": [{"gtin": imp.gtins[0], "batch": "LOT-7", "expiry": EXPIRY, "serial": f"X{i}",
                      "manufactured": "250101"} for i in range(3)]}
    res = upload(client, imp, json.dumps(doc).encode(), filename="arrival.json")
    assert res.json["status"] == "ACCEPTED", res.json
    batch = db_session.scalars(select(Batch)).one()
    assert (batch.batch, batch.expiry_raw, batch.manufactured_on.isoformat()) == ("LOT-7", EXPIRY, "2025-01-01")


def test_one_bad_line_rejects_the_whole_file_and_writes_nothing(client, make, db_session):
    imp = importer_with_permit(make)
    g1, _ = imp.gtins
    bad_gtin = g1[:-1] + str((int(g1[-1]) + 1) % 10)
    rows = [
        (g1, "B1", EXPIRY, "OK1", "", ""),
        (bad_gtin, "B1", EXPIRY, "OK2", "", ""),          # line 3: wrong check digit
        (g1, "B1", EXPIRY, "OK1", "", ""),                # line 4: serial twice in the file
        (g1, "B1", "301231", "OK3", "", ""),              # line 5: batch B1 with a second expiry
        ("4006381333931", "B9", EXPIRY, "OK4", "", ""),   # line 6: not in the register
        (g1, "B2", EXPIRY, "BAD SERIAL", "", ""),         # line 7: space outside GS1 set 82
        (g1, "B3", "200101", "OK5", "", ""),              # line 8: expired
    ]
    res = upload(client, imp, csv_file(rows))
    assert res.status_code == 202
    assert res.json["status"] == "REJECTED"
    errors = [(e["line"], e["field"], e["code"]) for e in res.json["first_errors"]]
    assert errors == [
        (3, "gtin", "INVALID_GTIN"),
        (4, "serial", "DUPLICATE_SERIAL"),
        (5, "expiry", "BATCH_EXPIRY_CONFLICT"),
        (6, "gtin", "GTIN_NOT_REGISTERED"),
        (7, "serial", "INVALID_SERIAL"),
        (8, "expiry", "EXPIRED_BATCH"),
    ]
    messages = {e["line"]: e["message"] for e in res.json["first_errors"]}
    assert messages[4] == f"Serial OK1 of GTIN 0{g1} is also on line 2."
    assert messages[7] == "Serial has characters outside GS1 set 82: ' '"
    for model in (Pack, Batch, Case, TraceEvent):
        assert count(db_session, model) == 0
    assert db_session.scalars(select(PermitLine.packs_used)).all() == [0, 0]


def test_the_error_report_downloads_as_csv(client, make):
    imp = importer_with_permit(make)
    res = upload(client, imp, csv_file([(imp.gtins[0], "B1", "991399", "A1", "", "")]))
    report = client.get(f"/api/v1/declarations/{res.json['id']}/errors", headers=imp.caller.headers)
    assert report.status_code == 200
    assert report.mimetype == "text/csv"
    assert report.get_data(as_text=True).splitlines() == [
        "line,field,code,message", "2,expiry,INVALID_EXPIRY,Expiry month 13 is not 01 to 12"]


def test_a_serial_already_commissioned_is_named_by_line(client, make, db_session):
    imp = importer_with_permit(make, products=1)
    g = imp.gtins[0]
    assert upload(client, imp, csv_file([(g, "B1", EXPIRY, "A1", "", "")])).json["status"] == "ACCEPTED"
    res = upload(client, imp, csv_file([(g, "B1", EXPIRY, "A2", "", ""), (g, "B1", EXPIRY, "A1", "", "")]))
    assert res.json["status"] == "REJECTED"
    assert [(e["line"], e["code"]) for e in res.json["first_errors"]] == [(3, "SERIAL_ALREADY_COMMISSIONED")]
    assert count(db_session, Pack) == 1
    assert db_session.scalar(select(PermitLine.packs_used)) == 1


def test_more_packs_than_the_permit_has_left_are_refused(client, make, db_session):
    imp = importer_with_permit(make, packs=3, products=1)
    rows = [(imp.gtins[0], "B1", EXPIRY, f"Q{i}", "", "") for i in range(4)]
    res = upload(client, imp, csv_file(rows))
    assert res.json["status"] == "REJECTED"
    assert [e["code"] for e in res.json["first_errors"]] == ["PERMIT_QUANTITY_EXCEEDED"]
    assert count(db_session, Pack) == 0


def test_a_product_not_on_the_permit_is_refused(client, make):
    imp = importer_with_permit(make, products=1)
    other = importer_with_permit(make, products=1)
    res = upload(client, imp, csv_file([(other.gtins[0], "B1", EXPIRY, "Z1", "", "")]))
    assert [e["code"] for e in res.json["first_errors"]] == ["PRODUCT_NOT_ON_PERMIT"]


def test_a_header_that_is_not_ours_is_refused_with_the_columns_named(client, make):
    imp = importer_with_permit(make, products=1)
    res = upload(client, imp, b"gtin,lot,serial\n1,2,3\n")
    assert res.json["status"] == "REJECTED"
    assert res.json["first_errors"][0]["message"] == "Missing column(s): batch, expiry."


def test_a_revoked_permit_cannot_be_declared_against(client, make):
    imp = importer_with_permit(make, status="REVOKED")
    res = upload(client, imp, csv_file([(imp.gtins[0], "B1", EXPIRY, "R1", "", "")]))
    assert res.status_code == 409
    assert res.json["code"] == "PERMIT_REVOKED"


def test_an_importer_cannot_declare_at_another_organisations_location(client, make):
    imp = importer_with_permit(make)
    other = make.org("importer")
    res = upload(client, imp, csv_file([(imp.gtins[0], "B1", EXPIRY, "R1", "", "")]),
                 location_id=other.locations[0].id)
    assert res.status_code == 403


def test_a_file_that_is_neither_csv_nor_json_is_refused_at_once(client, make):
    imp = importer_with_permit(make)
    res = upload(client, imp, b"hello", filename="arrival.xlsx")
    assert res.status_code == 422
    assert res.json["code"] == "VALIDATION_FAILED"


def test_processing_a_declaration_twice_changes_nothing(client, make, db_session, app):
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace.declarations import process_declaration

    imp = importer_with_permit(make, products=1)
    res = upload(client, imp, csv_file([(imp.gtins[0], "B1", EXPIRY, "T1", "", "")]))
    again = process_declaration(UnitOfWork(db_session, Actor.system()), res.json["id"])
    assert again.status == "ACCEPTED"
    assert count(db_session, Pack) == 1
    assert count(db_session, TraceEvent) == 1


@pytest.mark.postgres_only
def test_two_declarations_racing_for_the_last_packs_of_a_permit_leave_one_winner(app, make, db_session):
    from pharma.extensions import db
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace.declarations import NewDeclaration, process_declaration, submit_declaration

    imp = importer_with_permit(make, packs=5, products=1)
    actor = Actor(user_id=imp.caller.user.id, org_id=imp.org_id, roles=frozenset({"importer"}), username="imp")
    ids = []
    for prefix in ("A", "B"):
        content = csv_file([(imp.gtins[0], "B1", EXPIRY, f"{prefix}{i}", "", "") for i in range(5)])
        with app.app_context():
            ids.append(submit_declaration(UnitOfWork(db.session, actor), NewDeclaration(
                imp.permit_id, imp.location_id, "csv", "race.csv", content)).id)
    barrier = threading.Barrier(2)

    def run(declaration_id):
        session = db.session_factory()
        try:
            barrier.wait()
            process_declaration(UnitOfWork(session, actor), declaration_id)
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(db_session.scalars(select(Declaration.status)).all())
    assert statuses == ["ACCEPTED", "REJECTED"]
    assert count(db_session, Pack) == 5
    assert db_session.scalar(select(PermitLine.packs_used)) == 5


def test_cases_and_pallets_must_nest_cleanly(client, make, db_session):
    imp = importer_with_permit(make, products=1)
    g = imp.gtins[0]
    bad_sscc = sscc(1)[:-1] + str((int(sscc(1)[-1]) + 1) % 10)
    rows = [
        (g, "B1", EXPIRY, "C1", sscc(1), sscc(8)),
        (g, "B1", EXPIRY, "C2", sscc(1), sscc(9)),   # line 3: case 1 on a second pallet
        (g, "B1", EXPIRY, "C3", bad_sscc, ""),       # line 4: wrong check digit
        (g, "B1", EXPIRY, "C4", "", sscc(9)),        # line 5: a pallet without a case
    ]
    res = upload(client, imp, csv_file(rows))
    assert res.json["status"] == "REJECTED"
    got = [(e["line"], e["field"], e["code"]) for e in res.json["first_errors"]]
    assert got == [(2, "parent_sscc", "CASE_PARENT_CONFLICT"), (3, "parent_sscc", "CASE_PARENT_CONFLICT"),
                   (4, "sscc", "INVALID_SSCC"), (5, "parent_sscc", "PALLET_WITHOUT_CASE")]
    assert count(db_session, Case) == 0


def test_a_case_scanned_with_its_ai_00_is_the_same_case(client, make, db_session):
    imp = importer_with_permit(make, products=1)
    g = imp.gtins[0]
    res = upload(client, imp, csv_file([(g, "B1", EXPIRY, "D1", "00" + sscc(3), ""),
                                        (g, "B1", EXPIRY, "D2", sscc(3), "")]))
    assert res.json["status"] == "ACCEPTED", res.json
    assert db_session.scalars(select(Case.sscc)).all() == [sscc(3)]


def test_quoted_semicolon_separated_csv_with_blank_lines_is_read_too(client, make, db_session):
    imp = importer_with_permit(make, products=1)
    g = imp.gtins[0]
    content = f'gtin;batch;expiry;serial\r\n"{g}";"B;1";{EXPIRY};"Q1"\r\n\r\n{g};"B;1";{EXPIRY};Q2\r\n'.encode()
    res = upload(client, imp, content)
    assert res.json["status"] == "ACCEPTED", res.json
    assert db_session.scalars(select(Pack.serial).order_by(Pack.serial)).all() == ["Q1", "Q2"]
    assert db_session.scalars(select(Batch.batch)).all() == ["B;1"]


def test_an_importer_uploads_a_declaration_on_the_page_and_sees_it_accepted(client, make):
    import io
    import re

    from tests.integration.test_signin import csrf_from, sign_in

    imp = importer_with_permit(make, products=1)
    sign_in(client, imp.caller.user.username)
    page = client.get("/declarations/").get_data(as_text=True)
    assert f'value="{imp.permit_id}"' in page and f'value="{imp.location_id}"' in page
    content = csv_file([(imp.gtins[0], "B1", EXPIRY, f"P{i}", "", "") for i in range(3)])
    res = client.post("/declarations/", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "permit_id": str(imp.permit_id), "location_id": str(imp.location_id),
        "file": (io.BytesIO(content), "arrival.csv")})
    assert res.status_code == 302
    shown = client.get(res.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="status">Accepted<', shown)
    assert "3 of 3 packs" in shown


def test_a_rejected_declaration_page_lists_the_errors_and_links_the_report(client, make):
    from tests.integration.test_signin import sign_in

    imp = importer_with_permit(make, products=1)
    res = upload(client, imp, csv_file([(imp.gtins[0], "B1", "991399", "E1", "", "")]))
    sign_in(client, imp.caller.user.username)
    shown = client.get(f"/declarations/{res.json['id']}").get_data(as_text=True)
    assert "Rejected: nothing was written" in shown
    assert "Expiry month 13 is not 01 to 12" in shown
    assert f"/declarations/{res.json['id']}/errors.csv" in shown


def _suspend_licences(session, org_id: int) -> None:
    from pharma.parties.models import Licence

    for lic in session.scalars(select(Licence).where(Licence.organisation_id == org_id)):
        lic.status = "suspended"
    session.commit()


def test_an_importer_whose_licence_is_suspended_cannot_declare_against_an_approved_permit(client, make, db_session):
    imp = importer_with_permit(make, products=1)
    _suspend_licences(db_session, imp.org_id)
    res = upload(client, imp, csv_file([(imp.gtins[0], "B1", EXPIRY, "L1", "", "")]))
    assert res.status_code == 409
    assert res.json["code"] == "NO_IMPORT_LICENCE"
    assert count(db_session, Declaration) == 0


def test_a_licence_suspended_while_the_file_waits_rejects_it_when_processed(make, db_session):
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace.declarations import NewDeclaration, process_declaration, submit_declaration

    imp = importer_with_permit(make, products=1)
    actor = Actor(user_id=imp.caller.user.id, org_id=imp.org_id, roles=frozenset({"importer"}), username="imp")
    d = submit_declaration(UnitOfWork(db_session, actor), NewDeclaration(
        imp.permit_id, imp.location_id, "csv", "a.csv", csv_file([(imp.gtins[0], "B1", EXPIRY, "L2", "", "")])))
    _suspend_licences(db_session, imp.org_id)
    done = process_declaration(UnitOfWork(db_session, Actor.system()), d.id)
    assert done.status == "REJECTED"
    assert [e["code"] for e in done.errors] == ["NO_IMPORT_LICENCE"]
    assert count(db_session, Pack) == 0
    assert db_session.scalar(select(PermitLine.packs_used)) == 0


@pytest.mark.parametrize("fault", ["bad serial on the last line", "serial known already", "two expiries"])
def test_a_fault_anywhere_in_a_file_written_in_many_chunks_leaves_nothing(client, make, db_session, monkeypatch,
                                                                          fault):
    from pharma.trace.declarations import _PackCopy

    monkeypatch.setattr(_PackCopy, "CHUNK", 7)  # PostgreSQL copies while checking: make it span many chunks
    imp = importer_with_permit(make, products=1)
    g = imp.gtins[0]
    assert upload(client, imp, csv_file([(g, "K0", EXPIRY, "KNOWN", "", "")])).json["status"] == "ACCEPTED"
    rows = [(g, f"K{i % 3 + 1}", EXPIRY, f"C{i:04d}", sscc(500 + i // 10), "") for i in range(60)]
    if fault == "bad serial on the last line":
        rows[-1] = (g, "K1", EXPIRY, "BAD SERIAL", "", "")
    elif fault == "serial known already":
        rows[40] = (g, "K2", EXPIRY, "KNOWN", sscc(504), "")
    else:
        rows[33] = (g, "K1", "291231", "C0033", sscc(503), "")
    res = upload(client, imp, csv_file(rows))
    assert res.json["status"] == "REJECTED"
    expected = {"bad serial on the last line": [(61, "INVALID_SERIAL")],
                "serial known already": [(42, "SERIAL_ALREADY_COMMISSIONED")],
                "two expiries": [(35, "BATCH_EXPIRY_CONFLICT")]}[fault]
    assert [(e["line"], e["code"]) for e in res.json["first_errors"]] == expected
    assert count(db_session, Pack) == 1
    assert count(db_session, Batch) == 1
    assert count(db_session, Case) == 0
    assert db_session.scalar(select(PermitLine.packs_used)) == 1


def test_a_file_written_in_many_chunks_commissions_every_pack_with_its_batch_and_case(client, make, db_session,
                                                                                       monkeypatch):
    from pharma.trace.declarations import _PackCopy

    monkeypatch.setattr(_PackCopy, "CHUNK", 7)
    imp = importer_with_permit(make, products=1)
    g = imp.gtins[0]
    rows = [(g, f"M{i % 3}", EXPIRY, f"M{i:04d}", sscc(700 + i // 10), sscc(799)) for i in range(60)]
    assert upload(client, imp, csv_file(rows)).json["status"] == "ACCEPTED"
    got = db_session.execute(select(Pack.serial, Batch.batch, Case.sscc).join(Batch, Batch.id == Pack.batch_id)
                             .join(Case, Case.id == Pack.case_id).order_by(Pack.serial)).all()
    assert got == [(f"M{i:04d}", f"M{i % 3}", sscc(700 + i // 10)) for i in range(60)]
    pallet = db_session.scalar(select(Case.id).where(Case.sscc == sscc(799)))
    assert set(db_session.scalars(select(Case.parent_id).where(Case.sscc != sscc(799)))) == {pallet}
