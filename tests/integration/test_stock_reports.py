"""Stock reports: JSON pages, and CSV and XLSX files read back (csv module, openpyxl) and compared
with the ledger and the balances; the pages with their export links."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from pharma.shared.actor import Actor
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import Kind, Move, Reason, expiry_raw_of
from pharma.stock.ledger import post
from pharma.stock.models import StockBalance, StockMovement
from tests.integration.stock_helpers import TODAY, assert_stock_in_step, legacy_product
from tests.integration.test_movements_pages import page
from tests.integration.test_signin import sign_in

R = "/api/v1/stock/reports"
NOW = utcnow()


@pytest.fixture()
def pharmacy(make):
    return make.org("pharmacy")


@pytest.fixture()
def pharmacist(make, pharmacy):
    return make.caller("pharmacist", org=pharmacy)


@pytest.fixture()
def here(pharmacy):
    return pharmacy.locations[0].id


def move(session, here, gtin, batch, kind, quantity, days_ago: float, *, expiry_days=400, cost=None, reason=None,
         document="DOC"):
    """Post one movement ``days_ago`` days back (as the system)."""
    expiry = TODAY + timedelta(days=expiry_days)
    post(UnitOfWork(session, Actor.system("test")),
         [Move(here, gtin, batch, expiry, expiry_raw_of(expiry), kind, quantity, reason,
               cost if cost is not None else (100 if quantity > 0 else None))],
         ("bench", document), at=NOW - timedelta(days=days_ago))
    session.commit()


def read_csv(res) -> list[list[str]]:
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    assert res.mimetype == "text/csv"
    data = res.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(res) -> list[list]:
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    assert res.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(res.get_data()))
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def test_stock_on_hand_exports_read_back_equal_the_balances(client, make, db_session, pharmacist, here):
    a, b = legacy_product(make, "Alpha"), legacy_product(make, "Beta")
    move(db_session, here, a, "A1", Kind.RECEIPT, 10, 3, expiry_days=100, cost=250)
    move(db_session, here, a, "A2", Kind.RECEIPT, 4, 3, expiry_days=-2, cost=199)
    move(db_session, here, b, "B1", Kind.RECEIPT, 7, 3, expiry_days=50, cost=1001)
    move(db_session, here, a, "A1", Kind.SALE, -3, 1)
    move(db_session, here, b, "B1", Kind.SALE, -7, 1)  # empty: not on hand
    balances = db_session.scalars(select(StockBalance).where(StockBalance.quantity > 0)
                                  .order_by(StockBalance.expiry)).all()

    res = client.get(f"{R}/on-hand?location_id={here}&format=csv", headers=pharmacist.headers)
    assert res.is_streamed
    assert "stock-on-hand_" in res.headers["Content-Disposition"] and TODAY.isoformat() in \
        res.headers["Content-Disposition"]
    rows = read_csv(res)
    assert rows[0][:6] == ["Product", "GTIN", "Batch", "Expiry", "Quantity", "Value at cost"]
    assert [r[1:6] for r in rows[1:]] == [
        [x.gtin, x.batch, x.expiry.isoformat(), str(x.quantity), f"{x.value // 100}.{x.value % 100:02d}"]
        for x in balances]
    assert [r[0].split()[0] for r in rows[1:]] == ["Alpha", "Alpha"]
    assert [r[-1] for r in rows[1:]] == ["EXPIRED", "IN_DATE"]

    sheet = read_xlsx(client.get(f"{R}/on-hand?location_id={here}&format=xlsx", headers=pharmacist.headers))
    assert [r[1:6] for r in sheet[1:]] == [
        [x.gtin, x.batch, datetime.combine(x.expiry, datetime.min.time()), x.quantity, x.value / 100]
        for x in balances]

    body = client.get(f"{R}/on-hand?location_id={here}", headers=pharmacist.headers).json
    assert body["summary"]["units"] == sum(x.quantity for x in balances) == 11
    assert body["summary"]["value"] == sum(x.value for x in balances)
    assert [i["batch"] for i in body["items"]] == ["A2", "A1"] and body["has_more"] is False
    assert_stock_in_step(db_session)


def test_the_journal_export_lists_each_movement_of_the_period_oldest_first(
        client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    move(db_session, here, gtin, "J", Kind.RECEIPT, 20, 12, document="INV-OLD")
    move(db_session, here, gtin, "J", Kind.SALE, -2, 6, document="FD-1")
    move(db_session, here, gtin, "J", Kind.WRITE_OFF, -1, 2, reason=Reason.DAMAGED, document="ACT-1")
    move(db_session, here, gtin, "J", Kind.DISPENSE, -3, 0.01, document="RX-1")
    since = (TODAY - timedelta(days=7)).isoformat()
    ledger = db_session.execute(select(StockMovement).where(StockMovement.created_at >= NOW - timedelta(days=7))
                                .order_by(StockMovement.created_at)).scalars().all()

    sheet = read_xlsx(client.get(f"{R}/movements?location_id={here}&date_from={since}&format=xlsx",
                                 headers=pharmacist.headers))
    assert sheet[0][:3] == ["Time (UTC)", "Movement", "Reason"]
    assert [(r[1], r[2], r[7], r[9], r[11]) for r in sheet[1:]] == [
        (m.kind, m.reason, m.quantity, m.value / 100, m.document_id) for m in ledger]
    assert [r[11] for r in sheet[1:]] == ["FD-1", "ACT-1", "RX-1"]
    assert all(abs(r[0] - m.created_at.replace(tzinfo=None)) < timedelta(seconds=1)
               for r, m in zip(sheet[1:], ledger, strict=True))

    rows = read_csv(client.get(f"{R}/movements?location_id={here}&date_from={since}&kind=SALE&format=csv",
                               headers=pharmacist.headers))
    assert [(r[1], r[7], r[11]) for r in rows[1:]] == [("SALE", "-2", "FD-1")]
    assert rows[1][0].endswith("Z")


def test_the_stock_card_export_runs_from_the_opening_to_the_closing_balance(
        client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    move(db_session, here, gtin, "C", Kind.RECEIPT, 10, 20, cost=100)
    move(db_session, here, gtin, "C", Kind.SALE, -2, 5)
    move(db_session, here, gtin, "C", Kind.RECEIPT, 5, 3, cost=160)
    move(db_session, here, gtin, "C", Kind.SALE, -4, 1)
    since = (TODAY - timedelta(days=7)).isoformat()
    url = f"{R}/card?location_id={here}&gtin={gtin}&date_from={since}"

    body = client.get(url, headers=pharmacist.headers).json
    assert (body["summary"]["opening"], body["summary"]["opening_value"]) == (10, 1000)
    assert [(i["kind"], i["quantity"], i["balance"]) for i in body["items"]] == [
        ("SALE", -2, 8), ("RECEIPT", 5, 13), ("SALE", -4, 9)]
    balance = db_session.scalars(select(StockBalance).where(StockBalance.gtin == gtin)).one()
    assert (body["summary"]["closing"], body["summary"]["closing_value"]) == (balance.quantity, balance.value)
    assert body["items"][-1]["balance_value"] == balance.value

    sheet = read_xlsx(client.get(url + "&format=xlsx", headers=pharmacist.headers))
    kinds = [r[1] for r in sheet[1:]]
    assert kinds == ["OPENING", "SALE", "RECEIPT", "SALE", "CLOSING"]
    header = sheet[0]
    at = header.index("Balance")
    assert [r[at] for r in sheet[1:]] == [10, 8, 13, 9, 9]
    assert sheet[-1][header.index("Balance value")] == balance.value / 100

    page2 = client.get(url + "&per_page=2&page=2", headers=pharmacist.headers).json
    assert [i["balance"] for i in page2["items"]] == [9] and page2["has_more"] is False


def test_consumption_sums_sales_and_dispenses_per_product_with_the_average_per_day(
        client, make, db_session, pharmacist, here):
    a, b = legacy_product(make, "Alpha"), legacy_product(make, "Beta")
    for gtin in (a, b):
        move(db_session, here, gtin, "K", Kind.RECEIPT, 50, 30)
    move(db_session, here, a, "K", Kind.SALE, -3, 4)
    move(db_session, here, a, "K", Kind.DISPENSE, -2, 2)
    move(db_session, here, b, "K", Kind.SALE, -1, 1)
    move(db_session, here, a, "K", Kind.WRITE_OFF, -5, 1, reason=Reason.DAMAGED)  # not consumption
    move(db_session, here, b, "K", Kind.SALE, -9, 20)  # before the period
    period = f"date_from={(TODAY - timedelta(days=9)).isoformat()}&date_to={TODAY.isoformat()}"

    body = client.get(f"{R}/consumption?location_id={here}&{period}", headers=pharmacist.headers).json
    assert [(i["gtin"], i["sold"], i["dispensed"], i["units"], i["per_day"], i["value"]) for i in body["items"]] == [
        (a, 3, 2, 5, 0.5, 500), (b, 1, 0, 1, 0.1, 100)]
    assert (body["summary"]["days"], body["summary"]["units"], body["summary"]["products"]) == (10, 6, 2)

    rows = read_csv(client.get(f"{R}/consumption?location_id={here}&{period}&format=csv", headers=pharmacist.headers))
    assert rows[0] == ["Product", "GTIN", "Sold", "Dispensed", "Units out", "Average per day", "Value at cost"]
    assert [r[1:] for r in rows[1:]] == [[a, "3", "2", "5", "0.50", "5.00"], [b, "1", "0", "1", "0.10", "1.00"]]


def test_the_expiry_report_lists_bands_earliest_first(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    move(db_session, here, gtin, "LATE", Kind.RECEIPT, 2, 1, expiry_days=75)
    move(db_session, here, gtin, "GONE", Kind.RECEIPT, 1, 1, expiry_days=-1)
    move(db_session, here, gtin, "FAR", Kind.RECEIPT, 1, 1, expiry_days=200)
    rows = read_csv(client.get(f"{R}/expiry?location_id={here}&format=csv", headers=pharmacist.headers))
    assert [(r[0], r[1], r[4], r[6]) for r in rows[1:]] == [("EXPIRED", "-1", "GONE", "1"), ("D90", "75", "LATE", "2")]


def test_a_large_export_streams_every_line(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    expiry = TODAY + timedelta(days=300)
    post(UnitOfWork(db_session, Actor.system("test")),
         [Move(here, gtin, f"L{i:05d}", expiry, expiry_raw_of(expiry), Kind.RECEIPT, 1 + i % 3, unit_cost=7)
          for i in range(3000)], ("bench", "BULK"))
    db_session.commit()
    res = client.get(f"{R}/on-hand?location_id={here}&format=csv", headers=pharmacist.headers)
    chunks = list(res.response)
    assert len(chunks) > 3  # written as it is read, not in one piece
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    assert len(rows) == 3001
    assert sum(int(r[4]) for r in rows[1:]) == sum(1 + i % 3 for i in range(3000))


def test_bad_report_arguments_are_refused_as_problems(client, make, db_session, pharmacist, here):
    res = client.get(f"{R}/movements?location_id={here}&date_from={TODAY.isoformat()}"
                     f"&date_to={(TODAY - timedelta(days=1)).isoformat()}&format=csv", headers=pharmacist.headers)
    assert res.status_code == 422 and res.json["code"] == "VALIDATION_FAILED"
    assert res.content_type == "application/problem+json"
    res = client.get(f"{R}/on-hand?location_id={here}&format=pdf", headers=pharmacist.headers)
    assert res.status_code == 422 and "format" in res.json["errors"]
    res = client.get(f"{R}/card?location_id={here}", headers=pharmacist.headers)
    assert res.status_code == 422 and "gtin" in res.json["errors"]
    stranger = make.caller("pharmacist", org=make.org("pharmacy"))
    res = client.get(f"{R}/on-hand?location_id={here}&format=xlsx", headers=stranger.headers)
    assert res.status_code == 403 and res.json["code"] == "FORBIDDEN"


def test_the_report_pages_show_the_first_lines_and_export_the_whole_report(client, make, db_session, pharmacy, here):
    gtin = legacy_product(make, "Gamma")
    move(db_session, here, gtin, "P1", Kind.RECEIPT, 6, 2, cost=150)
    move(db_session, here, gtin, "P1", Kind.SALE, -1, 1)
    user = make.user("pharmacist", org=pharmacy)
    sign_in(client, user.username)
    html, _ = page(client, "/stock/reports")
    for name in ("on-hand", "movements", "card", "expiry", "consumption"):
        assert f"/stock/reports/{name}" in html
    html, _ = page(client, f"/stock/reports/on-hand?location_id={here}")
    assert "Gamma" in html and "P1" in html and "7.50" in html
    assert f"/stock/reports/on-hand?location_id={here}&amp;format=csv" in html or "format=csv" in html
    sheet = read_xlsx(client.get(f"/stock/reports/on-hand?location_id={here}&format=xlsx"))
    assert sheet[1][2:5] == ["P1", datetime.combine(TODAY + timedelta(days=400), datetime.min.time()), 5]
    rows = read_csv(client.get(f"/stock/reports/consumption?location_id={here}&format=csv"))
    assert rows[1][2:5] == ["1", "0", "1"]
    html, _ = page(client, f"/stock/reports/card?location_id={here}&gtin={gtin}")
    assert "Opening balance" in html and "Closing balance" in html
    assert client.get("/stock/reports/nothing").status_code == 404
