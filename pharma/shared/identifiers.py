"""GS1 identifiers as the design card fixes them.

GTINs are stored as 14 digits; GLNs have 13 digits and SSCCs 18, each with its check digit.
Serials and batches are 1 to 20 characters of GS1 character set 82, case kept. An expiry keeps
the six digits as printed and the date they resolve to (day ``00`` is the month's last day).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from pharma.shared.errors import InvalidIdentifier

# GS1 General Specifications, figure 7.11-1: character set 82
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_DIGITS = re.compile(r"^[0-9]+$")


def gs1_check_digit(body: str) -> int:
    """Mod-10 check digit of the digits before it (weights 3,1,3,... from the right)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def _numeric(field: str, label: str, value: str, lengths: tuple[int, ...]) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifier(field, f"{label} must be a string of digits")
    value = value.strip()
    if not _DIGITS.match(value):
        raise InvalidIdentifier(field, f"{label} must contain digits only")
    if len(value) not in lengths:
        allowed = " or ".join(str(n) for n in lengths)
        raise InvalidIdentifier(field, f"{label} must have {allowed} digits, not {len(value)}")
    if gs1_check_digit(value[:-1]) != int(value[-1]):
        raise InvalidIdentifier(
            field,
            f"{label} check digit is {value[-1]}, expected {gs1_check_digit(value[:-1])}",
        )
    return value


@dataclass(frozen=True, slots=True)
class Gtin:
    """A GTIN-8/12/13/14, kept as GTIN-14."""

    value: str

    @classmethod
    def parse(cls, raw: str, field: str = "gtin") -> Gtin:
        digits = _numeric(field, "GTIN", raw, (8, 12, 13, 14))
        return cls(digits.zfill(14))

    @property
    def gtin13(self) -> str | None:
        return self.value[1:] if self.value.startswith("0") else None

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Gln:
    value: str

    @classmethod
    def parse(cls, raw: str, field: str = "gln") -> Gln:
        return cls(_numeric(field, "GLN", raw, (13,)))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Sscc:
    value: str

    @classmethod
    def parse(cls, raw: str, field: str = "sscc") -> Sscc:
        return cls(_numeric(field, "SSCC", raw, (18,)))

    def __str__(self) -> str:
        return self.value


def _cset82(field: str, label: str, raw: str) -> str:
    if not isinstance(raw, str) or raw == "":
        raise InvalidIdentifier(field, f"{label} must have 1 to 20 characters")
    if len(raw) > 20:
        raise InvalidIdentifier(field, f"{label} must have 1 to 20 characters, not {len(raw)}")
    bad = sorted({ch for ch in raw if ch not in CSET82})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        raise InvalidIdentifier(field, f"{label} has characters outside GS1 set 82: {shown}")
    return raw


@dataclass(frozen=True, slots=True)
class Serial:
    value: str

    @classmethod
    def parse(cls, raw: str, field: str = "serial") -> Serial:
        return cls(_cset82(field, "Serial", raw))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Batch:
    value: str

    @classmethod
    def parse(cls, raw: str, field: str = "batch") -> Batch:
        return cls(_cset82(field, "Batch", raw))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Expiry:
    """AI 17: YYMMDD as printed, resolved to a date. The century follows GS1's sliding window."""

    raw: str
    date: date

    @classmethod
    def parse(cls, raw: str, field: str = "expiry", today: date | None = None) -> Expiry:
        if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{6}", raw):
            raise InvalidIdentifier(field, "Expiry must be six digits YYMMDD")
        yy, mm, dd = int(raw[:2]), int(raw[2:4]), int(raw[4:])
        if not 1 <= mm <= 12:
            raise InvalidIdentifier(field, f"Expiry month {raw[2:4]} is not 01 to 12")
        year = _gs1_century(yy, today or date.today())
        last = calendar.monthrange(year, mm)[1]
        if dd == 0:
            dd = last
        elif dd > last:
            raise InvalidIdentifier(field, f"Expiry day {raw[4:]} does not exist in {year}-{mm:02d}")
        return cls(raw, date(year, mm, dd))

    @classmethod
    def from_date(cls, value: date) -> Expiry:
        return cls(value.strftime("%y%m%d"), value)

    def matches(self, other: Expiry) -> bool:
        return self.raw == other.raw or self.date == other.date

    def __str__(self) -> str:
        return self.raw


def _gs1_century(yy: int, today: date) -> int:
    # GS1 General Specifications 7.12: within 49 years back and 50 years forward of now
    current = today.year % 100
    century = today.year - current
    diff = yy - current
    if 51 <= diff <= 99:
        century -= 100
    elif -99 <= diff <= -50:
        century += 100
    return century + yy
