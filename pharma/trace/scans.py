"""Scans typed on a page or sent by a keyboard-wedge scanner into one: an SSCC, a pack's GS1 code,
or a plain "GTIN serial" pair. Scanner data is read by the one scan parser of verification
(pharma.verify.parser), so the receipt and history pages undo the same scanner faults as the
counter; every page that reads a pack or a case goes through here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from pharma.shared.errors import InvalidIdentifier
from pharma.shared.identifiers import Gtin, Serial, Sscc
from pharma.shared.text import Text
from pharma.verify.parser import ScanRefused
from pharma.verify.parser import parse_scan as read_scan


@dataclass(frozen=True)
class ScannedCase:
    sscc: str


@dataclass(frozen=True)
class ScannedPack:
    gtin: str
    serial: str


_BRACKETED = re.compile(r"\((\d{2,4})\)([^()]*)")


class CommissionedPacks:
    """The parser's ``KnownPacks`` for pages that take pack scans: a reading is known when its pack
    (GTIN, serial) was commissioned, with the printed batch when the reading carries one. A scanner
    that drops the GS turns "21M1017S0" into two readings (serial "M1017S0", or serial "M" and batch
    "17S0"); the records settle which one is a pack instead of asking for a rescan."""

    CHUNK = 500

    def __init__(self, session: Session) -> None:
        self.session = session

    def known(self, readings: Sequence) -> Sequence:
        from pharma.trace.models import Batch, Pack

        keys = sorted({(r.gtin, r.serial) for r in readings if r.kind == "PACK"})
        batches: dict[tuple[str, str], str] = {}
        for start in range(0, len(keys), self.CHUNK):
            rows = self.session.execute(
                select(Pack.gtin, Pack.serial, Batch.batch).join(Batch, Batch.id == Pack.batch_id)
                .where(tuple_(Pack.gtin, Pack.serial).in_(keys[start:start + self.CHUNK])))
            batches.update({(gtin, serial): lot for gtin, serial, lot in rows})
        return [r for r in readings if r.kind == "PACK" and (r.gtin, r.serial) in batches
                and r.batch in (None, batches[(r.gtin, r.serial)])]


def read_with_records(text: str, known: CommissionedPacks | None):
    """The parser's reading of a scan; the records (``known``) are asked only when the data alone
    does not give a pack (a refused or GTIN-only reading), so a clean scan costs no query.
    Raises ScanRefused (an InvalidIdentifier) with the parser's message."""
    try:
        scan = read_scan(text)
    except ScanRefused:
        if known is None:
            raise
        return read_scan(text, known=known)
    if known is not None and scan.kind == "GTIN":
        return read_scan(text, known=known)
    return scan


def parse_scan(line: str, known: CommissionedPacks | None = None) -> ScannedCase | ScannedPack:
    """One line from a keyboard-wedge scanner or typed: what a scanner sends goes through the
    verification parser (pharma.verify.parser: symbology identifiers, GS substitutes, lost
    separators, Caps Lock, keyboard layouts); a person may also type an SSCC, the bracketed
    element string printed under a code, or a "GTIN serial" pair."""
    text = line.strip()
    if not text:
        raise InvalidIdentifier("scan", "The line is empty")
    parts = text.split()
    if len(parts) == 2 and parts[0].isdigit():
        return ScannedPack(Gtin.parse(parts[0]).value, Serial.parse(parts[1]).value)
    if text.isdigit() and len(text) == 18:
        return ScannedCase(Sscc.parse(text).value)
    if text.startswith("("):
        return _typed(_element_string(text))
    scan = read_with_records(text, known)
    if scan.kind == "CASE":
        return ScannedCase(scan.sscc)
    if scan.kind == "PACK":
        return ScannedPack(scan.gtin, scan.serial)
    raise InvalidIdentifier("scan", "The code has a GTIN but no serial number (21)")


def _typed(fields: dict[str, str]) -> ScannedCase | ScannedPack:
    if "00" in fields and len(fields) == 1:
        return ScannedCase(Sscc.parse(fields["00"]).value)
    if "01" in fields and "21" in fields:
        return ScannedPack(Gtin.parse(fields["01"]).value, Serial.parse(fields["21"]).value)
    if "01" in fields:
        raise InvalidIdentifier("scan", "The code has a GTIN but no serial number (21)")
    raise InvalidIdentifier("scan", "Not an SSCC, a GS1 element string with (01) and (21), or a GTIN and serial")


def _element_string(text: str) -> dict[str, str]:
    """The fields of a bracketed element string typed by hand: (01)...(21)..."""
    pairs = _BRACKETED.findall(text)
    if "".join(f"({ai}){value}" for ai, value in pairs) != text:
        raise InvalidIdentifier("scan", "The bracketed element string is malformed")
    return dict(pairs)


def parse_scan_lines(text: str, known: CommissionedPacks | None = None
                     ) -> tuple[list[ScannedCase | ScannedPack], dict[str, list[str]]]:
    """Each non-empty line parsed; errors keyed by line number ("line 3")."""
    items: list[ScannedCase | ScannedPack] = []
    errors: dict[str, list[str]] = {}
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(parse_scan(line, known))
        except InvalidIdentifier as exc:
            errors[f"line {n}"] = [Text("%(scan)s: %(message)s", scan=line.strip(), message=exc.message)]
    return items, errors
