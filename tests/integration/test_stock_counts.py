"""Stock counts through the API: the snapshot at opening, counting by scanning and by entering,
the differences, the head pharmacist's approval that posts them (adjustments, missing packs
decommissioned through trace, findings), stock moving during the count, and the findings list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from pharma.stock.counts_models import StockCount, StockCountFinding
from pharma.stock.models import StockMovement
from pharma.trace import movements as trace_svc
from pharma.trace.models import Pack, TraceEvent
from tests.factories import gtin13
from tests.integration.stock_helpers import (
    API,
    TODAY,
    assert_stock_in_step,
    issue,
    legacy_product,
    on_hand,
    receipt_line,
    receive,
)
from tests.integration.trace_helpers import licensed, stock, system_uow

COUNTS = f"{API}/counts"
GS = "\x1d"


@pytest.fixture()
def pharmacy(make):
    return licensed(make, make.org("pharmacy"))


@pytest.fixture()
def here(pharmacy):
    return pharmacy.locations[0].id


@pytest.fixture()
def pharmacist(make, pharmacy):
    return make.caller("pharmacist", org=pharmacy)


@pytest.fixture()
def head(make, pharmacy):
    return make.caller("head_pharmacist", org=pharmacy)


def pack_code(lot, serial: str) -> str:
    """A pack's GS1 data as a scanner sends it: 01, 17, 10, GS, 21."""
    return f"]d201{lot.gtin}17{(TODAY + timedelta(days=700)):%y%m%d}10{lot.batch}{GS}21{serial}"


def open_count(client, caller, location_id: int, **extra):
    return client.post(COUNTS, headers=caller.headers, json={"location_id": location_id, **extra})


def record(client, caller, count_id: int, lines=(), scans=()):
    return client.post(f"{COUNTS}/{count_id}/lines", headers=caller.headers,
                       json={"lines": list(lines), "scans": [s if isinstance(s, dict) else {"raw": s} for s in scans]})


def act(client, caller, count_id: int, what: str, **body):
    return client.post(f"{COUNTS}/{count_id}/{what}", headers=caller.headers, json=body)


def lines_of(client, caller, count_id: int) -> dict:
    body = client.get(f"{COUNTS}/{count_id}?per_page=1000", headers=caller.headers).json
    return {(line["gtin"], line["batch"]): (line["expected"], line["counted"], line["difference"])
            for line in body["lines"]["items"]}


def count_movements(db_session, number: str) -> list[tuple]:
    db_session.expire_all()
    return sorted((m.gtin, m.batch, m.kind, m.reason, m.quantity) for m in db_session.scalars(
        select(StockMovement).where(StockMovement.document_type == "count", StockMovement.document_id == number)))


def findings(db_session, count_id: int) -> list[tuple]:
    db_session.expire_all()
    return sorted((f.kind, f.gtin, f.batch, f.serial, f.quantity, f.detail) for f in db_session.scalars(
        select(StockCountFinding).where(StockCountFinding.count_id == count_id)))


def test_opening_a_count_snapshots_every_batch_on_hand_and_every_pack_in_custody(
        client, make, db_session, pharmacist, here, pharmacy):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 10), receipt_line(gtin, "B", 2))
    issue(client, pharmacist, here, {"gtin": gtin, "quantity": 2, "batch": "B"})  # B is empty: not counted
    lot = stock(make, pharmacy, packs=3)
    res = open_count(client, pharmacist, here, note="monthly")
    assert res.status_code == 201, res.json
    assert res.json["status"] == "OPEN" and res.json["number"].startswith("CNT-")
    assert res.json["summary"] | {} == {**res.json["summary"], "lines": 2, "units_expected": 13, "packs_expected": 3,
                                        "lines_uncounted": 1, "packs_scanned": 0}
    assert lines_of(client, pharmacist, res.json["id"]) == {(gtin, "A"): (10, None, None),
                                                            (lot.gtin, lot.batch): (3, 0, -3)}
    body = client.get(f"{COUNTS}/{res.json['id']}", headers=pharmacist.headers).json
    assert sorted(p["serial"] for p in body["missing_packs"]) == sorted(lot.serials)


def test_a_second_count_at_a_location_is_refused_while_one_is_in_progress(client, make, pharmacist, here):
    first = open_count(client, pharmacist, here).json
    again = open_count(client, pharmacist, here)
    assert again.status_code == 409 and again.json["code"] == "COUNT_ALREADY_OPEN"
    assert act(client, pharmacist, first["id"], "submit", uncounted_as_zero=True).status_code == 200
    assert open_count(client, pharmacist, here).json["code"] == "COUNT_ALREADY_OPEN"
    assert act(client, pharmacist, first["id"], "cancel", note="wrong day").json["status"] == "CANCELLED"
    assert open_count(client, pharmacist, here).status_code == 201


def test_a_count_of_some_products_covers_only_them(client, make, pharmacist, here):
    gtin, other = legacy_product(make), legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 4), receipt_line(other, "O", 6))
    count = open_count(client, pharmacist, here, gtins=[gtin[1:]]).json
    assert count["gtins"] == [gtin] and count["summary"]["units_expected"] == 4
    res = record(client, pharmacist, count["id"], lines=[{"gtin": other, "batch": "O", "counted": 6}])
    assert res.status_code == 409 and res.json["code"] == "COUNT_OUT_OF_SCOPE"


def test_a_pack_scanned_twice_counts_once_and_ean13_scans_add_a_unit_each(client, make, pharmacist, here, pharmacy):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 5))
    lot = stock(make, pharmacy, packs=3)
    count = open_count(client, pharmacist, here).json
    res = record(client, pharmacist, count["id"], scans=[
        pack_code(lot, lot.serials[0]), pack_code(lot, lot.serials[0]), gtin[1:], gtin[1:], "]E0" + gtin[1:]])
    assert res.status_code == 200, res.json
    assert [(o["kind"], o["outcome"], o["counted"]) for o in res.json["outcomes"]] == [
        ("PACK", "COUNTED", None), ("PACK", "ALREADY_COUNTED", None), ("UNIT", "COUNTED", 1), ("UNIT", "COUNTED", 2),
        ("UNIT", "COUNTED", 3)]
    record(client, pharmacist, count["id"], scans=[pack_code(lot, lot.serials[0]), pack_code(lot, lot.serials[1])])
    assert lines_of(client, pharmacist, count["id"]) == {(gtin, "A"): (5, 3, -2), (lot.gtin, lot.batch): (3, 2, -1)}
    # an entered quantity replaces what the scans counted
    record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "A", "counted": 6}])
    assert lines_of(client, pharmacist, count["id"])[(gtin, "A")] == (5, 6, 1)


def test_an_ean13_scan_of_a_product_kept_in_several_batches_must_name_the_batch(client, make, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 1), receipt_line(gtin, "B", 1))
    count = open_count(client, pharmacist, here).json
    res = record(client, pharmacist, count["id"], scans=[gtin[1:]])
    assert res.status_code == 422 and res.json["code"] == "BATCH_REQUIRED"
    assert record(client, pharmacist, count["id"], scans=[{"raw": gtin[1:], "batch": "B"}]).status_code == 200
    assert lines_of(client, pharmacist, count["id"]) == {(gtin, "A"): (1, None, None), (gtin, "B"): (1, 1, 0)}


def test_an_unreadable_scan_refuses_the_whole_request_and_records_nothing(client, make, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 2))
    count = open_count(client, pharmacist, here).json
    res = record(client, pharmacist, count["id"], scans=[gtin[1:], "12345"])
    assert res.status_code == 422
    assert list(res.json["errors"]) == ["scans.1"]
    assert lines_of(client, pharmacist, count["id"]) == {(gtin, "A"): (2, None, None)}


def test_a_serialized_batch_is_counted_by_scanning_not_by_entering_a_quantity(client, make, pharmacist, here,
                                                                                  pharmacy):
    lot = stock(make, pharmacy, packs=2)
    count = open_count(client, pharmacist, here).json
    res = record(client, pharmacist, count["id"], lines=[{"gtin": lot.gtin, "batch": lot.batch, "counted": 2}])
    assert res.status_code == 409 and res.json["code"] == "SERIALIZED_STOCK"


def test_a_batch_not_on_the_books_is_added_with_its_expiry(client, make, pharmacist, here):
    gtin = legacy_product(make)
    count = open_count(client, pharmacist, here).json
    res = record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "FOUND", "counted": 2}])
    assert res.status_code == 422 and res.json["code"] == "EXPIRY_REQUIRED"
    expiry = (TODAY + timedelta(days=300)).isoformat()
    res = record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "FOUND", "counted": 2,
                                                          "expiry": expiry}])
    assert res.status_code == 200, res.json
    assert lines_of(client, pharmacist, count["id"]) == {(gtin, "FOUND"): (0, 2, 2)}
    unregistered = record(client, pharmacist, count["id"], lines=[{"gtin": gtin13(999_991), "batch": "X",
                                                                   "counted": 1, "expiry": expiry}])
    assert unregistered.json["code"] == "UNREGISTERED_PRODUCT"


def test_submitting_with_uncounted_batches_is_refused_unless_they_count_as_not_found(client, make, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 3), receipt_line(gtin, "B", 4))
    count = open_count(client, pharmacist, here).json
    record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "A", "counted": 3}])
    res = act(client, pharmacist, count["id"], "submit")
    assert res.status_code == 409 and res.json["code"] == "COUNT_INCOMPLETE"
    assert res.json["batches"] == [{"gtin": gtin, "batch": "B"}]
    res = act(client, pharmacist, count["id"], "submit", uncounted_as_zero=True)
    assert res.json["status"] == "SUBMITTED"
    assert lines_of(client, pharmacist, count["id"])[(gtin, "B")] == (4, 0, -4)
    late = record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "B", "counted": 4}])
    assert late.status_code == 409 and late.json["code"] == "COUNT_NOT_OPEN"


def test_approval_posts_shortages_and_surpluses_as_count_adjustments_and_records_findings(
        client, make, db_session, pharmacist, head, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 10, unit_cost=200), receipt_line(gtin, "B", 4),
            receipt_line(gtin, "C", 7))
    count = open_count(client, pharmacist, here).json
    record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "A", "counted": 12},
                                                   {"gtin": gtin, "batch": "B", "counted": 1},
                                                   {"gtin": gtin, "batch": "C", "counted": 7}])
    act(client, pharmacist, count["id"], "submit")
    assert act(client, pharmacist, count["id"], "approve").status_code == 403  # the head pharmacist approves
    res = act(client, head, count["id"], "approve")
    assert res.status_code == 200, res.json
    assert res.json["status"] == "APPROVED"
    assert res.json["result"] | {} == {**res.json["result"], "movements": 2, "surplus_units": 2, "shortage_units": 3,
                                       "findings": 2}
    assert count_movements(db_session, count["number"]) == [(gtin, "A", "ADJUSTMENT", "SURPLUS", 2),
                                                            (gtin, "B", "ADJUSTMENT", "SHORTAGE", -3)]
    assert on_hand(db_session, here) == {(gtin, "A"): 12, (gtin, "B"): 1, (gtin, "C"): 7}
    assert findings(db_session, count["id"]) == [("SHORTAGE", gtin, "B", None, 3, None),
                                                 ("SURPLUS", gtin, "A", None, 2, None)]
    # the surplus came in at the batch's average cost: its unit value did not change
    card = client.get(f"{API}/balances?location_id={here}&gtin={gtin}", headers=pharmacist.headers).json
    assert {i["batch"]: i["value"] for i in card["items"]}["A"] == 2400
    again = act(client, head, count["id"], "approve")
    assert again.status_code == 409 and again.json["code"] == "COUNT_CLOSED"
    assert_stock_in_step(db_session)


def test_sales_during_the_count_produce_no_false_difference(client, make, db_session, pharmacist, head, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 10), receipt_line(gtin, "B", 10, days=500))
    count = open_count(client, pharmacist, here).json
    record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "A", "counted": 10},
                                                   {"gtin": gtin, "batch": "B", "counted": 9}])
    issue(client, pharmacist, here, {"gtin": gtin, "quantity": 3, "batch": "A"}, document="FD-DURING-1")
    issue(client, pharmacist, here, {"gtin": gtin, "quantity": 2, "batch": "B"}, document="FD-DURING-2")
    detail = client.get(f"{COUNTS}/{count['id']}", headers=pharmacist.headers).json
    assert {line["batch"]: line["moved_since_open"] for line in detail["lines"]["items"]} == {"A": -3, "B": -2}
    act(client, pharmacist, count["id"], "submit")
    assert act(client, head, count["id"], "approve").status_code == 200
    assert count_movements(db_session, count["number"]) == [(gtin, "B", "ADJUSTMENT", "SHORTAGE", -1)]
    assert on_hand(db_session, here) == {(gtin, "A"): 7, (gtin, "B"): 7}


def test_a_shortage_larger_than_the_balance_now_refuses_approval_and_posts_nothing(
        client, make, db_session, pharmacist, head, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 5), receipt_line(gtin, "B", 5))
    count = open_count(client, pharmacist, here).json
    record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "A", "counted": 0},
                                                   {"gtin": gtin, "batch": "B", "counted": 6}])
    issue(client, pharmacist, here, {"gtin": gtin, "quantity": 2, "batch": "A"})
    act(client, pharmacist, count["id"], "submit")
    res = act(client, head, count["id"], "approve")
    assert res.status_code == 409 and res.json["code"] == "COUNT_BELOW_ZERO"
    assert res.json["lines"] == [{"gtin": gtin, "batch": "A", "expected": 5, "counted": 0, "on_hand": 3}]
    assert count_movements(db_session, count["number"]) == []
    assert findings(db_session, count["id"]) == []
    assert on_hand(db_session, here) == {(gtin, "A"): 3, (gtin, "B"): 5}
    assert db_session.get(StockCount, count["id"]).status == "SUBMITTED"
    returned = act(client, head, count["id"], "return", note="recount batch A")
    assert returned.json["status"] == "OPEN" and returned.json["decision_note"] == "recount batch A"
    record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "A", "counted": 2}])
    act(client, pharmacist, count["id"], "submit")
    assert act(client, head, count["id"], "approve").json["status"] == "APPROVED"
    assert on_hand(db_session, here) == {(gtin, "B"): 6}


def test_missing_serialized_packs_are_decommissioned_as_stolen_in_step_with_custody(
        client, make, db_session, pharmacist, head, here, pharmacy):
    lot = stock(make, pharmacy, packs=5)
    count = open_count(client, pharmacist, here).json
    record(client, pharmacist, count["id"], scans=[pack_code(lot, s) for s in lot.serials[:2]])
    # one pack leaves during the count (destroyed at the counter): it is not missing
    trace_svc.decommission(system_uow(make), trace_svc.Decommission(
        here, (trace_svc.PackRef(lot.gtin, lot.serials[4]),), "DESTROYED"))
    detail = client.get(f"{COUNTS}/{count['id']}", headers=pharmacist.headers).json
    assert [p["serial"] for p in detail["missing_packs"]] == lot.serials[2:4]
    act(client, pharmacist, count["id"], "submit")
    res = act(client, head, count["id"], "approve")
    assert res.status_code == 200, res.json
    assert res.json["result"]["missing_packs"] == 2
    db_session.expire_all()
    states = dict(db_session.execute(select(Pack.serial, Pack.state).where(Pack.batch_id == lot.batch_id)).all())
    assert states == {lot.serials[0]: "ACTIVE", lot.serials[1]: "ACTIVE", lot.serials[2]: "STOLEN",
                      lot.serials[3]: "STOLEN", lot.serials[4]: "DESTROYED"}
    event = db_session.scalars(select(TraceEvent).where(TraceEvent.type == "DECOMMISSION",
                                                        TraceEvent.to_state == "STOLEN")).one()
    assert count["number"] in event.reason and (event.document_type, event.document_id) == ("count", count["number"])
    assert on_hand(db_session, here) == {(lot.gtin, lot.batch): 2}
    assert count_movements(db_session, count["number"]) == [(lot.gtin, lot.batch, "WRITE_OFF", "STOLEN", -2)]
    detail = client.get(f"{COUNTS}/{count['id']}", headers=pharmacist.headers).json
    assert [p["serial"] for p in detail["missing_packs"]] == lot.serials[2:4]
    assert findings(db_session, count["id"]) == [("MISSING_PACK", lot.gtin, lot.batch, lot.serials[2], 1, None),
                                                 ("MISSING_PACK", lot.gtin, lot.batch, lot.serials[3], 1, None)]
    assert_stock_in_step(db_session)


def test_scanned_packs_that_are_not_ours_are_reported_and_not_put_on_the_books(
        client, make, db_session, pharmacist, head, here, pharmacy):
    lot = stock(make, pharmacy, packs=1)
    elsewhere = stock(make, licensed(make, make.org("pharmacy")), packs=1)
    count = open_count(client, pharmacist, here).json
    res = record(client, pharmacist, count["id"], scans=[
        pack_code(lot, lot.serials[0]), pack_code(elsewhere, elsewhere.serials[0]), pack_code(lot, "NEVER-MADE")])
    assert [(o["outcome"], o["problem"]) for o in res.json["outcomes"]] == [
        ("COUNTED", None), ("NOT_OURS", "NOT_IN_CUSTODY"), ("NOT_OURS", "UNKNOWN_PACK")]
    detail = client.get(f"{COUNTS}/{count['id']}", headers=pharmacist.headers).json
    assert sorted(p["problem"] for p in detail["surplus_packs"]) == ["NOT_IN_CUSTODY", "UNKNOWN_PACK"]
    act(client, pharmacist, count["id"], "submit")
    res = act(client, head, count["id"], "approve")
    assert res.json["result"] | {} == {**res.json["result"], "surplus_packs": 2, "missing_packs": 0, "movements": 0}
    assert findings(db_session, count["id"]) == [
        ("SURPLUS_PACK", lot.gtin, lot.batch, "NEVER-MADE", 1, "UNKNOWN_PACK"),
        ("SURPLUS_PACK", elsewhere.gtin, elsewhere.batch, elsewhere.serials[0], 1, "NOT_IN_CUSTODY")]
    assert on_hand(db_session, here) == {(lot.gtin, lot.batch): 1}
    assert on_hand(db_session, elsewhere.location_id) == {(elsewhere.gtin, elsewhere.batch): 1}
    assert_stock_in_step(db_session)


def test_another_pharmacys_staff_can_neither_see_nor_approve_the_count(client, make, pharmacist, here):
    count = open_count(client, pharmacist, here).json
    act(client, pharmacist, count["id"], "submit", uncounted_as_zero=True)
    other = make.org("pharmacy")
    their_head = make.caller("head_pharmacist", org=other)
    assert act(client, their_head, count["id"], "approve").status_code == 403
    assert client.get(f"{COUNTS}/{count['id']}", headers=their_head.headers).status_code == 403
    assert client.get(COUNTS, headers=their_head.headers).json["items"] == []
    assert act(client, make.caller("pharmacist", org=other), count["id"], "cancel", note="not mine").status_code == 403


def test_the_agency_lists_findings_by_region_kind_and_date_and_reviews_them(client, make, db_session, pharmacist,
                                                                             head, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 4), receipt_line(gtin, "B", 4))
    count = open_count(client, pharmacist, here).json
    record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "A", "counted": 3},
                                                   {"gtin": gtin, "batch": "B", "counted": 5}])
    act(client, pharmacist, count["id"], "submit")
    act(client, head, count["id"], "approve")
    elsewhere = make.org("pharmacy", region="Ganja")
    other_pharmacist = make.caller("pharmacist", org=elsewhere)
    receive(client, other_pharmacist, elsewhere.locations[0].id, receipt_line(gtin, "G", 2))
    theirs = open_count(client, other_pharmacist, elsewhere.locations[0].id).json
    record(client, other_pharmacist, theirs["id"], lines=[{"gtin": gtin, "batch": "G", "counted": 1}])
    act(client, other_pharmacist, theirs["id"], "submit")
    act(client, make.caller("head_pharmacist", org=elsewhere), theirs["id"], "approve")

    regulator = make.caller("regulator")
    url = f"{API}/findings"
    everything = client.get(url, headers=regulator.headers).json
    assert everything["total"] == 3
    assert [f["batch"] for f in client.get(f"{url}?region=Ganja", headers=regulator.headers).json["items"]] == ["G"]
    shortages = client.get(f"{url}?kind=SHORTAGE&location_id={here}", headers=regulator.headers).json["items"]
    assert [(f["batch"], f["quantity"], f["count_number"], f["status"]) for f in shortages] == [
        ("A", 1, count["number"], "NEW")]
    assert client.get(f"{url}?date_from={TODAY + timedelta(days=1)}", headers=regulator.headers).json["total"] == 0
    assert client.get(f"{url}?date_to={TODAY}", headers=make.caller("inspector").headers).json["total"] == 3
    assert client.get(url, headers=head.headers).json["total"] == 2  # the head pharmacist: their own only
    assert client.get(url, headers=pharmacist.headers).status_code == 403
    reviewed = client.post(f"{url}/{shortages[0]['id']}/review", headers=regulator.headers)
    assert reviewed.status_code == 200 and reviewed.json["status"] == "REVIEWED"
    assert client.get(f"{url}?status=NEW", headers=regulator.headers).json["total"] == 2
    assert client.post(f"{url}/{shortages[0]['id']}/review", headers=head.headers).status_code == 403


def test_the_count_pages_open_scan_submit_and_approve(client, make, db_session, here, pharmacy):
    from tests.integration.test_movements_pages import labelled, page
    from tests.integration.test_signin import sign_in

    gtin = legacy_product(make)
    lot = stock(make, pharmacy, packs=2)
    pharmacist = make.user("pharmacist", org=pharmacy)
    caller = make.caller("pharmacist", org=pharmacy)
    receive(client, caller, here, receipt_line(gtin, "A", 2))
    sign_in(client, pharmacist.username)
    html, token = page(client, "/stock/counts")
    labelled(html, "location_id", "gtins", "note")
    res = client.post("/stock/counts", data={"csrf_token": token, "location_id": here, "gtins": "", "note": ""})
    assert res.status_code == 302, res.get_data(as_text=True)
    url = res.headers["Location"]
    html, token = page(client, url)
    labelled(html, "scans", "scan-batch", "gtin", "line-batch", "counted", "expiry")
    assert "Paracetamol EAN" in html  # the product's name beside its GTIN
    for scan in (pack_code(lot, lot.serials[0]), gtin[1:], gtin[1:], "12345"):
        client.post(f"{url}/lines", data={"csrf_token": token, "scans": scan, "batch": ""})
    html, token = page(client, url)
    assert "Packs: 1 scanned of 2 expected, 1 not scanned" in html
    assert lot.serials[1] in html  # listed as not scanned
    res = client.post(f"{url}/submit", data={"csrf_token": token})
    assert res.status_code == 302
    client.post("/sign-out", data={"csrf_token": token})
    head = make.user("head_pharmacist", org=pharmacy)
    sign_in(client, head.username)
    html, token = page(client, url)
    assert "Approve and post" in html
    client.post(f"{url}/approve", data={"csrf_token": token})
    html, _ = page(client, url)
    assert "Approved" in html and "packs decommissioned as missing: 1;" in html
    assert on_hand(db_session, here) == {(gtin, "A"): 2, (lot.gtin, lot.batch): 1}
    html, _ = page(client, "/stock/findings?kind=MISSING_PACK")
    assert lot.serials[1] in html
    assert_stock_in_step(db_session)


@pytest.mark.postgres_only
def test_two_head_pharmacists_approving_at_once_post_the_count_once(client, make, db_session, pharmacist, here,
                                                                     pharmacy):
    from pharma.stock import counts as svc
    from tests.integration.test_movements_races import _actor, _uow, race

    gtin = legacy_product(make)
    lot = stock(make, pharmacy, packs=2)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 10))
    count = open_count(client, pharmacist, here).json
    record(client, pharmacist, count["id"], lines=[{"gtin": gtin, "batch": "A", "counted": 8}],
           scans=[pack_code(lot, lot.serials[0])])
    act(client, pharmacist, count["id"], "submit")
    actors = [_actor(make, make.caller("head_pharmacist", org=pharmacy).user) for _ in range(2)]
    results = race([lambda session, a=a: svc.approve_count(_uow(a, session), count["id"]) for a in actors])
    assert sorted(r["status"] if isinstance(r, dict) else r.code for r in results) == ["APPROVED", "COUNT_CLOSED"]
    assert count_movements(db_session, count["number"]) == sorted([
        (gtin, "A", "ADJUSTMENT", "SHORTAGE", -2), (lot.gtin, lot.batch, "WRITE_OFF", "STOLEN", -1)])
    assert [f[0] for f in findings(db_session, count["id"])] == ["MISSING_PACK", "SHORTAGE"]
    assert on_hand(db_session, here) == {(gtin, "A"): 8, (lot.gtin, lot.batch): 1}
    assert_stock_in_step(db_session)


@pytest.mark.postgres_only
def test_two_counts_opened_at_once_at_one_location_leave_one(make, db_session, pharmacy, here):
    from pharma.stock import counts as svc
    from tests.integration.test_movements_races import _actor, _uow, race

    actors = [_actor(make, make.caller("pharmacist", org=pharmacy).user) for _ in range(3)]
    results = race([lambda session, a=a: svc.open_count(_uow(a, session), svc.OpenCount(here)) for a in actors])
    assert sorted(r["status"] if isinstance(r, dict) else r.code for r in results) == [
        "COUNT_ALREADY_OPEN", "COUNT_ALREADY_OPEN", "OPEN"]
    db_session.expire_all()
    assert [c.status for c in db_session.scalars(select(StockCount))] == ["OPEN"]


def test_the_demo_pharmacy_has_an_open_count_with_a_few_lines_counted(app, db_session):
    from pharma import fixtures
    from pharma.stock.counts_models import StockCountLine, StockCountPack

    with app.app_context():
        fixtures.load_all()
    count = db_session.scalars(select(StockCount)).one()
    assert count.status == "OPEN" and count.expected_packs > 0
    counted = db_session.scalars(select(StockCountLine).where(StockCountLine.count_id == count.id,
                                                              StockCountLine.serialized.is_(False),
                                                              StockCountLine.counted.is_not(None))).all()
    assert sorted(line.counted - line.expected for line in counted) == [-1, 0]
    assert db_session.scalars(select(StockCountPack).where(StockCountPack.scanned)).one().expected is True
    assert_stock_in_step(db_session)


def test_an_importer_counts_its_warehouse_and_approves_the_count_itself(client, make, db_session):
    importer = licensed(make, make.org("importer"))
    caller = make.caller("importer", org=importer)
    warehouse = importer.locations[0].id
    gtin = legacy_product(make)
    receive(client, caller, warehouse, receipt_line(gtin, "W1", 10))
    count = open_count(client, caller, warehouse).json
    assert record(client, caller, count["id"], lines=[{"gtin": gtin, "batch": "W1", "counted": 9}]).status_code == 200
    assert act(client, caller, count["id"], "submit").status_code == 200
    res = act(client, caller, count["id"], "approve")
    assert res.status_code == 200, res.json
    assert on_hand(db_session, warehouse) == {(gtin, "W1"): 9}
    findings = client.get(f"{API}/findings", headers=caller.headers).json
    assert [(f["kind"], f["quantity"]) for f in findings["items"]] == [("SHORTAGE", 1)]
    other = make.caller("importer", org=licensed(make, make.org("importer")))
    assert client.get(f"{API}/findings", headers=other.headers).json["items"] == []
