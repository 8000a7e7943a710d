"""Tables out as files: (columns, an iterator of rows) to a streamed CSV or XLSX download.

Any context can use it: describe the columns once, hand over rows as they come from the
database (a generator over a server-side cursor), and return ``download(...)`` from a view.

- **CSV**: RFC 4180 (comma, CRLF line ends, quotes doubled), UTF-8 with a byte-order mark so
  that Excel reads the accents right. Streamed: each chunk of rows goes out as it is written.
- **XLSX**: written by xlsxwriter in ``constant_memory`` mode (one row in memory at a time) into
  a temporary file, which is then streamed out in chunks; a workbook can only be sent once it
  is finished (it is a zip with its index at the end), so the first byte leaves after the last
  row is read. Past Excel's 1,048,576 rows a sheet, the rows go on in a new sheet.

Values by column ``kind``:

- ``text``: as is. In CSV a text cell starting with ``= + - @``, a tab or a carriage return gets a
  leading apostrophe, so a spreadsheet never runs it as a formula (OWASP "CSV injection"); XLSX
  cells are written as strings, never as formulas.
- ``int``: integers; numbers in XLSX.
- ``date`` / ``datetime``: ISO 8601 in CSV (datetimes in UTC, ``2026-12-02T21:43:59Z``); real
  dates in XLSX (datetimes in UTC, the zone dropped, formatted ``yyyy-mm-dd hh:mm``).
- ``money``: integers in minor units in, **decimal major units out**: ``1234.50`` in CSV (exact,
  dot as decimal separator, no grouping), and a number formatted ``#,##0.00`` in XLSX. The
  files are for people; the JSON API keeps minor units for machines. The title says the unit
  when the caller puts it there (e.g. "Value (AZN)").
- ``decimal``: a float or Decimal shown with two decimals (averages).
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote

from flask import Response

KINDS = ("text", "int", "date", "datetime", "money", "decimal")
FORMATS = ("csv", "xlsx")
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MINOR_PER_MAJOR = 100
XLSX_MAX_ROWS = 1_048_576
CSV_FLUSH_ROWS = 500
CHUNK = 64 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Column:
    """One column: the row key (or index) it reads, its title, its kind, an optional width (XLSX)."""

    key: str | int
    title: str
    kind: str = "text"
    width: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


Row = dict | Sequence


def _get(row: Row, key: str | int):
    if isinstance(row, dict):
        return row.get(key)  # a missing key is an empty cell
    if isinstance(key, int):
        return row[key]
    return getattr(row, key)  # a SQLAlchemy Row or any object


def money_text(minor: int) -> str:
    """Minor units as exact decimal major units: 123450 -> '1234.50', -5 -> '-0.05'."""
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(int(minor)), MINOR_PER_MAJOR)
    return f"{sign}{whole}.{part:02d}"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value


def csv_cell(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        return money_text(value)
    if kind == "decimal":
        return f"{Decimal(str(value)):.2f}"
    if kind == "datetime" and isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind == "int":
        return str(int(value))
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_chunks(columns: Sequence[Column], rows: Iterable[Row]) -> Iterator[bytes]:
    """The CSV file in chunks of bytes: BOM and header first, then rows a few hundred at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(c.title) for c in columns])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow([csv_cell(_get(row, c.key), c.kind) for c in columns])
        pending += 1
        if pending >= CSV_FLUSH_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


def write_xlsx(target, columns: Sequence[Column], rows: Iterable[Row], sheet: str = "Report",
               max_rows: int = XLSX_MAX_ROWS) -> int:
    """Write the workbook to ``target`` (a path or a binary file); returns the data rows written."""
    import xlsxwriter

    book = xlsxwriter.Workbook(target, {"constant_memory": True, "tmpdir": tempfile.gettempdir(),
                                        "strings_to_formulas": False, "strings_to_urls": False,
                                        "remove_timezone": True})
    header = book.add_format({"bold": True, "bottom": 1})
    formats = {"date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
               "money": book.add_format({"num_format": "#,##0.00"}),
               "decimal": book.add_format({"num_format": "0.00"})}
    title = (sheet or "Report")[:28].replace("/", "-")
    sheets = 0

    def new_sheet():
        nonlocal sheets
        sheets += 1
        ws = book.add_worksheet(title if sheets == 1 else f"{title[:24]} {sheets}")
        for i, c in enumerate(columns):
            ws.set_column(i, i, c.width or max(10, min(40, len(str(c.title)) + 2)))
            ws.write_string(0, i, str(c.title), header)
        ws.freeze_panes(1, 0)
        return ws

    ws = new_sheet()
    r = count = 0
    for row in rows:
        r += 1
        if r >= max_rows:
            ws, r = new_sheet(), 1
        for i, c in enumerate(columns):
            value = _get(row, c.key)
            if value is None:
                continue
            kind = c.kind
            if kind == "text":
                ws.write_string(r, i, str(value))
            elif kind == "int":
                ws.write_number(r, i, int(value))
            elif kind == "money":
                ws.write_number(r, i, int(value) / MINOR_PER_MAJOR, formats["money"])
            elif kind == "decimal":
                ws.write_number(r, i, float(value), formats["decimal"])
            elif kind in ("date", "datetime"):
                if isinstance(value, datetime):
                    ws.write_datetime(r, i, _utc(value).replace(tzinfo=None), formats[kind])
                else:
                    ws.write_datetime(r, i, value, formats[kind])
        count += 1
    book.close()
    return count


def xlsx_chunks(columns: Sequence[Column], rows: Iterable[Row], sheet: str = "Report") -> Iterator[bytes]:
    """The XLSX file in chunks, from a temporary file removed afterwards."""
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx(path, columns, rows, sheet)
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def filename(name: str, fmt: str, on: date | None = None, *parts: str) -> str:
    """``<name>[_<part>...]_<date>.<fmt>``, safe characters only."""
    stem = "_".join(_UNSAFE_NAME.sub("-", p).strip("-") for p in (name, *parts) if p)
    return f"{stem}_{(on or datetime.now(UTC).date()).isoformat()}.{fmt}"


def download(fmt: str, file_name: str, columns: Sequence[Column], rows: Iterable[Row] | Callable[[], Iterable[Row]],
             sheet: str | None = None) -> Response:
    """A streamed attachment response. ``rows`` may be a callable returning the rows: it is called
    only when the body is sent, so a database cursor opens (and closes) inside the stream."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    # titles may be lazy translations: resolve them now, in the request, not later in the stream
    columns = [Column(c.key, str(c.title), c.kind, c.width) for c in columns]

    def body() -> Iterator[bytes]:
        source = rows() if callable(rows) else rows
        try:
            if fmt == "csv":
                yield from csv_chunks(columns, source)
            else:
                yield from xlsx_chunks(columns, source, sheet or file_name.rsplit("_", 1)[0])
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    response = Response(body(), mimetype=MIME[fmt].split(";")[0], content_type=MIME[fmt])
    response.headers["Content-Disposition"] = (f"attachment; filename=\"{file_name}\"; "
                                               f"filename*=UTF-8''{quote(file_name)}")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
