"""Expiry: the scan's bands at their boundaries and its idempotence, the expiry list and its
acknowledgements, the page, the Celery task and the CLI; and that expired stock is never sold."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.stock import expiry as exp
from pharma.stock.expiry_models import StockExpiryNotice
from tests.integration.stock_helpers import API, TODAY, issue, legacy_product, on_hand, receipt_line, receive
from tests.integration.test_movements_pages import page
from tests.integration.test_signin import sign_in

# days to expiry -> the band the scan gives (None: no notice)
BOUNDARIES = {-1: "EXPIRED", 0: "D30", 29: "D30", 30: "D30", 31: "D60", 60: "D60", 61: "D90", 90: "D90", 91: None}


@pytest.fixture()
def pharmacy(make):
    return make.org("pharmacy")


@pytest.fixture()
def pharmacist(make, pharmacy):
    return make.caller("pharmacist", org=pharmacy)


@pytest.fixture()
def here(pharmacy):
    return pharmacy.locations[0].id


def scan(session, on=None) -> exp.ScanResult:
    return exp.scan_expiry(UnitOfWork(session, Actor.system("test")), on)


def notices(session) -> dict[tuple[str, str], tuple[str, int]]:
    session.expire_all()
    return {(n.gtin, n.batch): (n.band, n.quantity) for n in session.scalars(select(StockExpiryNotice))}


def stocked(client, make, pharmacist, here, days: dict[str, int], quantity: int = 5) -> str:
    gtin = legacy_product(make)
    res = receive(client, pharmacist, here, *[receipt_line(gtin, batch, quantity, unit_cost=100, days=d)
                                              for batch, d in days.items()])
    assert res.status_code == 201, res.json
    return gtin


def test_bands_are_cut_at_0_30_60_and_90_days_left():
    for days, band in BOUNDARIES.items():
        assert exp.band_of(TODAY + timedelta(days=days), TODAY) == band, days


def test_the_scan_marks_each_batch_in_its_band_at_the_boundaries(client, make, db_session, pharmacist, here):
    gtin = stocked(client, make, pharmacist, here, {f"B{d}": d for d in BOUNDARIES})
    result = scan(db_session)
    expected = {(gtin, f"B{d}"): (band, 5) for d, band in BOUNDARIES.items() if band}
    assert notices(db_session) == expected
    assert result.bands == {"EXPIRED": 1, "D30": 3, "D60": 2, "D90": 2}
    assert result.changed == 8 and result.removed == 0


def test_running_the_scan_twice_changes_nothing(client, make, db_session, pharmacist, here):
    stocked(client, make, pharmacist, here, {"A": -3, "B": 10, "C": 70})
    scan(db_session)
    first = {(n.batch, n.band, n.quantity, n.marked_at) for n in db_session.scalars(select(StockExpiryNotice))}
    again = scan(db_session)
    assert (again.changed, again.removed) == (0, 0)
    db_session.expire_all()
    assert {(n.batch, n.band, n.quantity, n.marked_at)
            for n in db_session.scalars(select(StockExpiryNotice))} == first


def test_a_later_scan_moves_the_band_updates_the_quantity_and_drops_emptied_batches(
        client, make, db_session, pharmacist, here):
    gtin = stocked(client, make, pharmacist, here, {"MOVE": 31, "SOLD": 20, "GONE": 40})
    scan(db_session)
    assert issue(client, pharmacist, here, {"gtin": gtin, "quantity": 2, "batch": "SOLD"}).status_code == 201
    assert issue(client, pharmacist, here, {"gtin": gtin, "quantity": 5, "batch": "GONE"}).status_code == 201
    result = scan(db_session, TODAY + timedelta(days=1))  # tomorrow MOVE has 30 days left
    assert notices(db_session) == {(gtin, "MOVE"): ("D30", 5), (gtin, "SOLD"): ("D30", 3)}
    assert (result.changed, result.removed) == (2, 1)


def test_a_new_band_asks_for_a_new_acknowledgement(client, make, db_session, pharmacist, here):
    gtin = stocked(client, make, pharmacist, here, {"A": 31, "B": 50})
    scan(db_session)
    for batch in ("A", "B"):
        res = client.post(f"{API}/expiry/acknowledge", headers=pharmacist.headers,
                          json={"location_id": here, "gtin": gtin, "batch": batch})
        assert res.status_code == 200, res.json
        assert res.json["band"] == "D60" and res.json["acknowledged_at"]
    scan(db_session, TODAY + timedelta(days=1))
    db_session.expire_all()
    acked = {n.batch: n.acknowledged_at is not None for n in db_session.scalars(select(StockExpiryNotice))}
    assert acked == {"A": False, "B": True}


def test_acknowledging_twice_keeps_the_first_and_works_before_any_scan(client, make, db_session, pharmacist, here):
    gtin = stocked(client, make, pharmacist, here, {"A": 5})
    body = {"location_id": here, "gtin": gtin, "batch": "A"}
    first = client.post(f"{API}/expiry/acknowledge", headers=pharmacist.headers, json=body)
    assert first.status_code == 200, first.json
    assert first.json["band"] == "D30" and first.json["acknowledged_by"] is not None
    second = client.post(f"{API}/expiry/acknowledge", headers=pharmacist.headers, json=body)
    assert second.json["acknowledged_at"] == first.json["acknowledged_at"]


def test_acknowledging_a_batch_that_is_not_expiring_is_not_found(client, make, db_session, pharmacist, here):
    gtin = stocked(client, make, pharmacist, here, {"FAR": 200})
    res = client.post(f"{API}/expiry/acknowledge", headers=pharmacist.headers,
                      json={"location_id": here, "gtin": gtin, "batch": "FAR"})
    assert res.status_code == 404 and res.json["code"] == "NOT_FOUND"
    assert notices(db_session) == {}


def test_the_expiry_list_shows_bands_earliest_first_with_quantity_and_value(
        client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "D90", 4, unit_cost=250, days=80),
            receipt_line(gtin, "OLD", 2, unit_cost=100, days=-5), receipt_line(gtin, "SOON", 3, unit_cost=120, days=0),
            receipt_line(gtin, "FAR", 9, days=300))
    res = client.get(f"{API}/expiry?location_id={here}", headers=pharmacist.headers)
    assert res.status_code == 200, res.json
    assert [(i["batch"], i["band"], i["days_left"], i["quantity"], i["value"]) for i in res.json["items"]] == [
        ("OLD", "EXPIRED", -5, 2, 200), ("SOON", "D30", 0, 3, 360), ("D90", "D90", 80, 4, 1000)]
    assert {b["band"]: (b["lines"], b["units"], b["value"]) for b in res.json["bands"]} == {
        "EXPIRED": (1, 2, 200), "D30": (1, 3, 360), "D60": (0, 0, 0), "D90": (1, 4, 1000)}
    only = client.get(f"{API}/expiry?location_id={here}&band=D30", headers=pharmacist.headers).json
    assert [i["batch"] for i in only["items"]] == ["SOON"] and only["total"] == 1


def test_another_pharmacys_expiry_list_is_forbidden(client, make, db_session, here):
    stranger = make.caller("pharmacist", org=make.org("pharmacy"))
    res = client.get(f"{API}/expiry?location_id={here}", headers=stranger.headers)
    assert res.status_code == 403 and res.json["code"] == "FORBIDDEN"


def test_an_expired_batch_is_never_sold_whether_or_not_the_scan_ran(client, make, db_session, pharmacist, here):
    gtin = stocked(client, make, pharmacist, here, {"YESTERDAY": -1, "TODAY": 0}, quantity=2)
    named = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 1, "batch": "YESTERDAY"})
    assert named.status_code == 409 and named.json["code"] == "BATCH_NOT_SELLABLE"
    fefo = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 3})
    assert fefo.status_code == 409 and fefo.json["code"] == "INSUFFICIENT_STOCK"
    scan(db_session)
    again = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 1, "batch": "YESTERDAY"})
    assert again.status_code == 409 and again.json["code"] == "BATCH_NOT_SELLABLE"
    # a batch expiring today may still be sold today
    sold = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 2})
    assert sold.status_code == 201, sold.json
    assert [m["batch"] for m in sold.json["movements"]] == ["TODAY"]
    assert on_hand(db_session, here) == {(gtin, "YESTERDAY"): 2}


def test_the_daily_task_and_the_cli_run_the_scan(app, client, make, db_session, pharmacist, here):
    from pharma.stock.tasks import scan_expiry
    from pharma.tasks import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["stock-expiry-scan"]["task"] == scan_expiry.name
    gtin = stocked(client, make, pharmacist, here, {"A": -2, "B": 45})
    with app.app_context():
        result = scan_expiry.delay().get()
    assert result["bands"] == {"EXPIRED": 1, "D30": 0, "D60": 1, "D90": 0}
    out = app.test_cli_runner().invoke(args=["stock", "expiry-scan", "--on", (TODAY + timedelta(days=20)).isoformat()])
    assert out.exit_code == 0, out.output
    assert "0 removed" in out.output and "D30 1" in out.output
    assert notices(db_session) == {(gtin, "A"): ("EXPIRED", 5), (gtin, "B"): ("D30", 5)}


def test_the_pharmacist_acknowledges_on_the_expiry_page(client, make, db_session, pharmacy, here):
    pharmacist = make.user("pharmacist", org=pharmacy)
    gtin = legacy_product(make)
    caller = make.caller("pharmacist", org=pharmacy)
    receive(client, caller, here, receipt_line(gtin, "OLD", 2, days=-3), receipt_line(gtin, "SOON", 1, days=10))
    sign_in(client, pharmacist.username)
    html, token = page(client, f"/stock/expiry?location_id={here}")
    assert html.index("OLD") < html.index("SOON")
    assert "Export XLSX" in html and "/stock/write-off?" in html and "reason=EXPIRED" in html
    res = client.post("/stock/expiry/acknowledge",
                      data={"csrf_token": token, "location_id": here, "gtin": gtin, "batch": "OLD"})
    assert res.status_code == 302
    db_session.expire_all()
    acked = db_session.scalars(select(StockExpiryNotice)).one()
    assert (acked.batch, acked.band, acked.acknowledged_by) == ("OLD", "EXPIRED", pharmacist.id)
    html, _ = page(client, f"/stock/expiry?location_id={here}&band=EXPIRED")
    assert "SOON" not in html and pharmacist.username in html


def test_the_demo_pharmacy_has_expiring_stock(app, db_session):
    from pharma import fixtures

    with app.app_context():
        report = fixtures.load_all()
    assert report.counts["demo_expiry_notices"] >= 3
    db_session.expire_all()
    bands = {n.band for n in db_session.scalars(select(StockExpiryNotice))}
    assert {"EXPIRED", "D30", "D60"} <= bands


@pytest.mark.postgres_only
def test_two_scans_at_once_queue_up_and_agree(app, client, make, db_session, pharmacist, here):
    from pharma.extensions import db

    days = {f"B{i}": i for i in range(-5, 95, 3)}
    stocked(client, make, pharmacist, here, days)
    marked = sum(1 for d in days.values() if d <= 90)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        session = db.session_factory()
        try:
            barrier.wait()
            results.append(scan(session))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.changed for r in results) == [0, marked]
    assert results[0].bands == results[1].bands
    assert len(notices(db_session)) == marked
