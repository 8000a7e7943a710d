"""Tables out as files: CSV by RFC 4180 with a BOM, XLSX with real dates and numbers, read back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest

from pharma.shared import tabular as t

COLUMNS = [t.Column("name", "Product"), t.Column("n", "Quantity", "int"), t.Column("on", "Expiry", "date"),
           t.Column("at", "Time (UTC)", "datetime"), t.Column("value", "Value", "money"),
           t.Column("avg", "Average", "decimal")]
ROWS = [
    {"name": "Paracetamol, 500 mg \"forte\"", "n": 3, "on": date(2027, 1, 31),
     "at": datetime(2026, 12, 2, 21, 5, tzinfo=UTC), "value": 123450, "avg": 1.5},
    {"name": "Ağrıkəsən\nikinci sətir", "n": -2, "on": None, "at": None, "value": -5, "avg": Decimal("0.333")},
    {"name": "=HYPERLINK(\"http://x\")", "n": 0, "on": date(2026, 1, 1), "at": None, "value": 0, "avg": 0},
]


def test_money_in_minor_units_is_written_as_exact_major_units():
    assert [t.money_text(v) for v in (123450, -5, 0, 7, 100, -123456789012)] == [
        "1234.50", "-0.05", "0.00", "0.07", "1.00", "-1234567890.12"]


def test_csv_has_a_bom_crlf_lines_and_rfc_4180_quoting():
    data = b"".join(t.csv_chunks(COLUMNS, iter(ROWS)))
    assert data.startswith(b"\xef\xbb\xbfProduct,Quantity,Expiry,Time (UTC),Value,Average\r\n")
    text = data.decode("utf-8-sig")
    assert '"Paracetamol, 500 mg ""forte""",3,2027-01-31,2026-12-02T21:05:00Z,1234.50,1.50\r\n' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[2] == ["Ağrıkəsən\nikinci sətir", "-2", "", "", "-0.05", "0.33"]


def test_csv_cells_that_look_like_formulas_are_neutralised():
    text = b"".join(t.csv_chunks(COLUMNS, iter(ROWS))).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[3][0] == "'=HYPERLINK(\"http://x\")"
    assert rows[2][1] == "-2"  # numbers keep their sign


def test_csv_streams_in_chunks_without_reading_all_rows_first():
    seen = []

    def rows():
        for i in range(t.CSV_FLUSH_ROWS * 3):
            seen.append(i)
            yield {"name": f"p{i}", "n": i, "on": None, "at": None, "value": i, "avg": 0}

    chunks = t.csv_chunks(COLUMNS, rows())
    next(chunks)  # the header
    next(chunks)
    assert len(seen) == t.CSV_FLUSH_ROWS


def test_xlsx_has_real_dates_numbers_and_money_in_major_units(tmp_path):
    path = tmp_path / "r.xlsx"
    assert t.write_xlsx(str(path), COLUMNS, iter(ROWS), sheet="Stock on hand") == 3
    book = openpyxl.load_workbook(path)
    ws = book["Stock on hand"]
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[0] == ["Product", "Quantity", "Expiry", "Time (UTC)", "Value", "Average"]
    assert values[1] == ["Paracetamol, 500 mg \"forte\"", 3, datetime(2027, 1, 31), datetime(2026, 12, 2, 21, 5),
                         1234.5, 1.5]
    assert values[2][:5] == ["Ağrıkəsən\nikinci sətir", -2, None, None, -0.05]
    assert values[3][0] == "=HYPERLINK(\"http://x\")"  # a string, not a formula
    assert ws.cell(2, 3).number_format == "yyyy-mm-dd" and ws.cell(2, 5).number_format == "#,##0.00"
    assert ws.cell(4, 1).data_type == "s"


def test_xlsx_rows_past_a_sheets_limit_go_on_in_a_new_sheet(tmp_path):
    path = tmp_path / "r.xlsx"
    rows = ({"name": f"p{i}", "n": i, "on": None, "at": None, "value": 0, "avg": 0} for i in range(7))
    assert t.write_xlsx(str(path), COLUMNS, rows, sheet="Big", max_rows=4) == 7
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Big", "Big 2", "Big 3"]
    counts = [[r[1] for r in book[name].iter_rows(min_row=2, values_only=True)] for name in book.sheetnames]
    assert counts == [[0, 1, 2], [3, 4, 5], [6]]
    assert book["Big 2"].cell(1, 1).value == "Product"


def test_file_names_carry_the_report_and_the_date_in_safe_characters():
    assert t.filename("stock-on-hand", "xlsx", date(2026, 12, 2), "4760000000017") == \
        "stock-on-hand_4760000000017_2026-12-02.xlsx"
    assert t.filename("stock-card", "csv", date(2026, 12, 2), "A/B 1", "") == "stock-card_A-B-1_2026-12-02.csv"


def test_an_unknown_kind_or_format_is_refused():
    with pytest.raises(ValueError):
        t.Column("x", "X", "float")
    with pytest.raises(ValueError):
        t.download("pdf", "x.pdf", COLUMNS, [])
