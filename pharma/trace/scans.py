"""Scans typed on a page or sent by a keyboard-wedge scanner, in the simple forms the pages take:
an SSCC (18 digits, or 00 + SSCC), a GS1 element string with (01) and (21), bracketed or with GS
separators, or a plain "GTIN serial" pair. The full scan parser (biip, repairs, verdicts) comes
with verification; every page that reads a pack or a case uses this one meanwhile."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pharma.shared.errors import InvalidIdentifier
from pharma.shared.identifiers import Gtin, Serial, Sscc


@dataclass(frozen=True)
class ScannedCase:
    sscc: str


@dataclass(frozen=True)
class ScannedPack:
    gtin: str
    serial: str


GS = "\x1d"
_SYMBOLOGY = re.compile(r"^\][A-Za-z][0-9]")
_BRACKETED = re.compile(r"\((\d{2,4})\)([^()]*)")
_FIXED = {"00": 18, "01": 14, "11": 6, "17": 6}
_VARIABLE = {"10", "21"}


def parse_scan(line: str) -> ScannedCase | ScannedPack:
    """One line from a keyboard-wedge scanner or typed: an SSCC (18 digits, or 00 + SSCC), a GS1
    element string with (01) and (21), bracketed or not, or a plain "GTIN serial" pair."""
    text = _SYMBOLOGY.sub("", line.strip())
    if not text:
        raise InvalidIdentifier("scan", "The line is empty")
    parts = text.split()
    if len(parts) == 2 and parts[0].isdigit():
        return ScannedPack(Gtin.parse(parts[0]).value, Serial.parse(parts[1]).value)
    if text.isdigit() and len(text) == 18:
        return ScannedCase(Sscc.parse(text).value)
    fields = _element_string(text)
    if "00" in fields and len(fields) == 1:
        return ScannedCase(Sscc.parse(fields["00"]).value)
    if "01" in fields and "21" in fields:
        return ScannedPack(Gtin.parse(fields["01"]).value, Serial.parse(fields["21"]).value)
    if "01" in fields:
        raise InvalidIdentifier("scan", "The code has a GTIN but no serial number (21)")
    raise InvalidIdentifier("scan", "Not an SSCC, a GS1 element string with (01) and (21), or a GTIN and serial")


def _element_string(text: str) -> dict[str, str]:
    if text.startswith("("):
        pairs = _BRACKETED.findall(text)
        if "".join(f"({ai}){value}" for ai, value in pairs) != text:
            raise InvalidIdentifier("scan", "The bracketed element string is malformed")
        return dict(pairs)
    fields: dict[str, str] = {}
    rest = text
    while rest:
        ai = rest[:2]
        if ai in _FIXED:
            size = _FIXED[ai]
            value, rest = rest[2:2 + size], rest[2 + size:]
            if len(value) != size:
                raise InvalidIdentifier("scan", f"AI ({ai}) needs {size} digits")
        elif ai in _VARIABLE:
            body = rest[2:]
            end = body.find(GS)
            value, rest = (body, "") if end < 0 else (body[:end], body[end + 1:])
        else:
            raise InvalidIdentifier("scan", f"Unexpected application identifier {ai!r}")
        rest = rest.lstrip(GS)
        fields[ai] = value
    return fields


def parse_scan_lines(text: str) -> tuple[list[ScannedCase | ScannedPack], dict[str, list[str]]]:
    """Each non-empty line parsed; errors keyed by line number ("line 3")."""
    items: list[ScannedCase | ScannedPack] = []
    errors: dict[str, list[str]] = {}
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(parse_scan(line))
        except InvalidIdentifier as exc:
            errors[f"line {n}"] = [f"{line.strip()}: {exc.message}"]
    return items, errors
