"""The one scan parser: raw text or bytes from a scanner or a decoded image -> one ``ParsedScan``.

It takes what scanners really send (BARCODES.md): an AIM symbology identifier or none, GS or a
configured substitute or nothing between fields, Caps Lock and foreign keyboard layouts on the
host, GS1 Digital Link URIs, plain GTINs and SSCCs. It refuses, with a stable code and an exact
message, what cannot be read for sure: ``]d1`` data, the human-readable "(01)..." text, wrong
check digits, impossible dates, and scans that read several ways.

Element strings are read with biip's table of application identifiers (formats, patterns, data
titles) and biip reads Digital Link URIs. The common case, a clean element string, is read by the
small reader here rather than ``biip.parse``: biip spends 100 to 170 microseconds a scan, too
much for bulk verification at 20,000 codes a second; tests check both agree. The commonest of all,
a pack's 01, 17, 10 and 21 with its GS and nothing to repair, is read in one pass (``_clean_pack``),
which gives exactly what the general reader gives (a differential test over the parser's corpus).

Repairs, each reported on the result: a GS substitute; a lost GS, restored only when exactly one
reading is valid (or, with ``known``, exactly one matches the records); Caps Lock and a Russian
or Azerbaijani layout undone only when that gives exactly one known pack. The as-is reading
wins whenever it is itself known.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import NamedTuple, Protocol

from biip import ParseConfig, ParseError
from biip.gs1_application_identifiers import _GS1_APPLICATION_IDENTIFIERS  # biip's table, pinned to biip 5.x
from biip.gs1_digital_link_uris import GS1DigitalLinkURI

from pharma.shared.errors import InvalidIdentifier
from pharma.shared.identifiers import CSET82, Batch, Expiry, Gtin, Serial, Sscc, gs1_check_digit
from pharma.shared.text import Text
from pharma.verify import keyboard

GS = "\x1d"

# GS itself, and printable stand-ins that cannot occur in GS1 data (none of their characters is in
# GS1 character set 82): "~" (the usual scanner setting), "^]" (caret notation of Ctrl+]), "{GS}",
# "␝" (U+241D, the symbol for GS) and "↔" (what Alt+029 types on a code page 437 host).
# "<GS>" is not a default: "<", "G", "S" and ">" are all set-82 characters a serial may hold.
DEFAULT_GS_SUBSTITUTES: tuple[str, ...] = (GS, "~", "^]", "{GS}", "\u241d", "\u2194")
_DEFAULT_STAND_INS = DEFAULT_GS_SUBSTITUTES[1:]


@dataclass(frozen=True)
class Repair:
    code: str
    message: str


@dataclass(frozen=True)
class ParsedScan:
    raw: str  # what was received, unchanged
    symbology: str | None  # "]d2", "]Q3", "]C1", "]E0" (or another GS1 identifier), None when absent
    gtin: str | None  # 14 digits, check digit verified
    serial: str | None
    batch: str | None
    expiry: Expiry | None
    sscc: str | None
    repairs: tuple[Repair, ...] = ()

    @property
    def kind(self) -> str:
        """CASE (an SSCC), PACK (GTIN and serial) or GTIN (a product without a serial)."""
        if self.sscc is not None:
            return "CASE"
        return "PACK" if self.serial is not None else "GTIN"

    @property
    def key(self) -> tuple:
        """What the scan identifies, whatever repairs led there."""
        return self.gtin, self.serial, self.batch, self.expiry and self.expiry.raw, self.sscc


class ScanRefused(InvalidIdentifier):
    """A scan the parser will not read; ``code`` says why, the message what to do."""

    code = "UNPARSEABLE"
    title = "The scan cannot be read"

    def __init__(self, code: str, message: str, readings: Sequence[ParsedScan] = ()) -> None:
        super().__init__("scan", message)
        self.code = code
        self.readings = tuple(readings)  # the candidate readings of an ambiguous scan


class KnownPacks(Protocol):
    def known(self, readings: Sequence[ParsedScan]) -> Sequence[ParsedScan]:
        """The readings that match records: GTIN registered and, for a PACK, (gtin, serial)
        commissioned with the same batch/expiry when the reading carries them."""
        ...


# ---------------------------------------------------------------- refusals and repairs

def _gs_recovered() -> Repair:
    return Repair("GS_RECOVERED", Text("The scanner dropped the group separator (GS) between fields; the scan "
                                       "was split where the only valid reading puts it."))


def _gs_substitute(used: list[str]) -> Repair:
    shown = " and ".join(repr(s) for s in used)
    return Repair("GS_SUBSTITUTE", Text("The scanner sent %(shown)s in place of the group separator (GS).",
                                        shown=shown))


_CAPS_LOCK = Repair("CAPS_LOCK", Text("Letter case was inverted (Caps Lock on at the computer the scanner types "
                                      "into) and has been restored."))
# one whole sentence per layout, so that each translates as a sentence (keyboard.NAMES lists the layouts)
_LAYOUT = {
    "RU": Repair("LAYOUT_RU", Text("The scan was typed through a Russian keyboard layout and has been converted "
                                   "back to the characters of the code.")),
    "AZ": Repair("LAYOUT_AZ", Text("The scan was typed through an Azerbaijani keyboard layout and has been "
                                   "converted back to the characters of the code.")),
}
assert _LAYOUT.keys() == keyboard.NAMES.keys()


def _layout_refusal(layout: str, letters: list[str]) -> ScanRefused:
    shown = ", ".join(letters[:6])
    if layout == "RU":
        message = Text("The scan contains Cyrillic letters (%(shown)s): the scanner is typing through a Russian "
                       "keyboard layout. Switch the computer's keyboard layout to English (US), or set the scanner "
                       "to serial (virtual COM) or HID-POS mode, and scan again.", shown=shown)
    else:
        message = Text("The scan contains Azerbaijani letters (%(shown)s): the scanner is typing through an "
                       "Azerbaijani keyboard layout. Switch the computer's keyboard layout to English (US), or set "
                       "the scanner to serial (virtual COM) or HID-POS mode, and scan again.", shown=shown)
    return ScanRefused("KEYBOARD_LAYOUT", message)


def _ambiguous(readings: Sequence[ParsedScan]) -> ScanRefused:
    return ScanRefused(
        "AMBIGUOUS_SEPARATOR",
        Text("The scan can be read %(n)s ways because the group separator (GS) between fields is missing: the "
             "scanner drops it. Set the scanner to send GS (ASCII 29) or a substitute such as ~, and scan again.",
             n=len(readings)), readings)


# ---------------------------------------------------------------- application identifiers

_LABELS = {"00": "SSCC", "01": "GTIN", "02": Text("Contained GTIN"), "10": Text("Batch"),
           "11": Text("Production date"), "17": Text("Expiry date"), "21": Text("Serial number")}
_DATES = {"11", "12", "13", "15", "16", "17"}
_CHECKED = {"00": "SSCC", "01": "GTIN", "02": "GTIN", "03": "GTIN", "410": "GLN", "411": "GLN", "412": "GLN",
            "413": "GLN", "414": "GLN", "415": "GLN", "416": "GLN", "417": "GLN"}
# AIs a pharmaceutical pack carries after a variable-length field: where a lost GS may have been
# (71x: national healthcare reimbursement numbers; 91/92: the national verification tails)
_SPLIT_AIS = frozenset({"01", "10", "11", "17", "21", "240", "241", "710", "711", "712", "713", "714", "715",
                        "91", "92"})
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class _Ai:
    code: str
    label: str
    fixed: int | None  # digits of a predefined-length AI; None when a GS or the end closes it
    longest: int
    charset: frozenset[str] | None  # allowed characters when the field is plain N or X
    value: re.Pattern  # biip's pattern of the data field
    format: str
    name: Text  # "Batch (10)", for messages


def _ai(entry) -> _Ai:
    parts = entry.format.split("+", 1)[1]
    longest = sum(int(n) for n in re.findall(r"\d+", parts))
    plain = re.fullmatch(r"([NX])(?:\.\.)?\d+", parts)
    charset = (_DIGITS if plain.group(1) == "N" else CSET82) if plain else None
    label = _LABELS.get(entry.ai, entry.data_title)
    return _Ai(entry.ai, label, None if entry.separator_required else longest, longest, charset,
               re.compile(entry.pattern[1 + len(entry.ai):-1]), entry.format,
               Text("%(label)s (%(ai)s)", label=label, ai=entry.ai))


_AIS = {code: _ai(entry) for code, entry in _GS1_APPLICATION_IDENTIFIERS.items()}


def _ai_at(body: str, pos: int) -> _Ai | None:
    # GS1 application identifiers are prefix-free: at most one of these matches
    return _AIS.get(body[pos:pos + 2]) or _AIS.get(body[pos:pos + 3]) or _AIS.get(body[pos:pos + 4])


def _problem(ai: _Ai, value: str, today: date) -> tuple[str, str] | None:
    """The refusal (code, message) for a field value, or None when it is valid."""
    name = ai.name
    if not value:
        return "BAD_FIELD", Text("%(name)s is empty.", name=name)
    if ai.fixed is None and len(value) > ai.longest:
        return "BAD_FIELD", Text("%(name)s has %(n)s characters; at most %(most)s are allowed.", name=name,
                                 n=len(value), most=ai.longest)
    if ai.charset is not None and not ai.charset.issuperset(value):
        if ai.charset is _DIGITS:
            return "BAD_FIELD", Text("%(name)s must be digits, not %(value)r.", name=name, value=value)
        shown = ", ".join(repr(ch) for ch in dict.fromkeys(ch for ch in value if ch not in CSET82))
        return "BAD_FIELD", Text("%(name)s has characters outside the GS1 character set 82: %(shown)s.", name=name,
                                 shown=shown)
    if ai.code in _DATES:
        return _date_problem(name, value, today)
    if not ai.value.fullmatch(value):
        return "BAD_FIELD", Text("%(name)s %(value)r does not match the GS1 format %(format)s.", name=name,
                                 value=value, format=ai.format)
    if ai.code in _CHECKED:
        expected = _check_digit(value[:-1])
        if expected != int(value[-1]):
            return "CHECK_DIGIT", _check_digit_message(_CHECKED[ai.code], value, expected)
    return None


# bulk verification sees the same few GTINs and expiries over and over
@lru_cache(maxsize=4096)
def _check_digit(body: str) -> int:
    return gs1_check_digit(body)


@lru_cache(maxsize=4096)
def _gtin14(value: str) -> str:
    return Gtin.parse(value).value


@lru_cache(maxsize=4096)
def _expiry(raw: str, today: date) -> Expiry:
    return Expiry.parse(raw, today=today)


def _check_digit_message(label: str, value: str, expected: int) -> str:
    return Text("%(label)s %(value)s has check digit %(digit)s; the correct check digit is %(expected)s.",
                label=label, value=value, digit=value[-1], expected=expected)


def _date_problem(name: str, value: str, today: date) -> tuple[str, str] | None:
    month, day = int(value[2:4]), int(value[4:])
    if not 1 <= month <= 12:
        return "INVALID_DATE", Text("%(name)s %(value)s is not a date: there is no month %(month)s.", name=name,
                                    value=value, month=value[2:4])
    if day <= 28:
        return None
    last = _expiry(value[:4] + "00", today).date  # the month's last day, in GS1's century
    if day > last.day:
        return "INVALID_DATE", Text("%(name)s %(value)s is not a date: %(month)s has no day %(day)s.", name=name,
                                    value=value, month=f"{last:%Y-%m}", day=value[4:])
    return None


# ---------------------------------------------------------------- symbology identifiers and forms

_ELEMENTS = frozenset({"]d2", "]Q3", "]C1", "]e0", "]J1"})  # GS1 element strings
_URI_ONLY = frozenset({"]d1", "]Q1"})  # plain Data Matrix / QR: a GS1 Digital Link URI at most
_URI_TOO = frozenset({"]d2", "]Q3", "]d1", "]Q1"})
_GTIN_ONLY = frozenset({"]E0", "]E4", "]I1"})  # EAN-13/UPC-A, EAN-8, ITF-14
_NAMES = {"]d1": Text("a plain Data Matrix"), "]Q1": Text("a plain QR code"), "]C0": Text("a plain Code 128"),
          "]A0": Text("a Code 39")}
_HRI = re.compile(r"\(\d{2,4}\)")
_PREFIX = re.compile(r"\][A-Za-z][0-9]")


@dataclass(frozen=True, slots=True)
class _Text:
    """One way to take the scan: its data with the symbology identifier split off."""

    raw: str
    symbology: str | None
    form: str  # "elements", "uri", "gtin" or "sscc"
    body: str
    repairs: tuple[Repair, ...]


def _prepare(raw: str, text: str, repairs: tuple[Repair, ...], opts: _Options) -> _Text:
    text = text.strip(" \t\r\n" + GS)
    symbology = None
    if _PREFIX.match(text):
        symbology, text = text[:3], text[3:]
        if opts.symbology and opts.symbology != symbology:
            raise ScanRefused("SYMBOLOGY_CONFLICT", Text("The data starts with the symbology identifier %(data)s, "
                                                         "but the scanner reported %(scanner)s.", data=symbology,
                                                         scanner=opts.symbology))
    symbology = symbology or opts.symbology
    if _HRI.match(text):
        raise ScanRefused("HUMAN_READABLE", Text("The scan is the human-readable text printed beside the code, "
                                                 "such as (01)…(21)…: it is never taken as data, because brackets "
                                                 "in a serial or batch cannot be told from those around an AI. Scan "
                                                 "the Data Matrix itself."))
    form = _form(symbology, text)
    if form == "elements":
        text, used = _substitute(text, opts.substitutes)
        if used:
            repairs = (*repairs, _gs_substitute(used))
    if not text:
        raise ScanRefused("EMPTY_SCAN", Text("The scan is empty."))
    return _Text(raw, symbology, form, text, repairs)


def _form(symbology: str | None, text: str) -> str:
    if text[:8].lower().startswith(("http://", "https://")) and (symbology is None or symbology in _URI_TOO):
        return "uri"
    if symbology == "]e0" and _gtin_digits(text) and not text.startswith("01"):
        raise _caps_lock(symbology)  # a GS1 DataBar starts with (01): this is ]E0 under Caps Lock
    if symbology in _ELEMENTS:
        return "elements"
    if symbology in _GTIN_ONLY:
        return "gtin"
    if symbology is not None:
        raise _symbology_refusal(symbology)
    if len(text) == 18 and text.isascii() and text.isdigit():
        return "sscc"
    return "gtin" if _gtin_digits(text) else "elements"


def _gtin_digits(text: str) -> bool:
    return len(text) in (8, 12, 13, 14) and text.isascii() and text.isdigit()


def _caps_lock(symbology: str) -> ScanRefused:
    return ScanRefused("CAPS_LOCK", Text("The scan starts with %(sent)s instead of %(meant)s: Caps Lock is on at the "
                                         "computer the scanner types into. Turn Caps Lock off and scan again.",
                                         sent=symbology, meant=symbology.swapcase()))


def _symbology_refusal(symbology: str) -> ScanRefused:
    if symbology.swapcase() in _ELEMENTS | _GTIN_ONLY | _URI_ONLY:
        return _caps_lock(symbology)
    if symbology in _NAMES:
        return ScanRefused("NOT_GS1_DATA", Text("The code is %(what)s (symbology identifier %(symbology)s): its data "
                                                "cannot identify a pack. Scan the GS1 Data Matrix on the pack.",
                                                what=_NAMES[symbology], symbology=symbology))
    return ScanRefused("NOT_GS1_DATA", Text("The code is not a GS1 symbol (symbology identifier %(symbology)s): its "
                                            "data cannot identify a pack. Scan the GS1 Data Matrix on the pack.",
                                            symbology=symbology))


def _substitute(text: str, substitutes: tuple[str, ...]) -> tuple[str, list[str]]:
    used = []
    for sub in substitutes:
        if sub in text:
            text = text.replace(sub, GS)
            used.append(sub)
    return text.strip(GS), used


# ---------------------------------------------------------------- reading one form

def _strict(t: _Text, opts: _Options) -> tuple[ParsedScan, list]:
    """The reading GS1 prescribes: each variable-length field ends at a GS or the end."""
    if t.form == "uri":
        return _from_uri(t, opts), []
    if t.form != "elements":
        return _plain(t, opts), []
    elements = list(_elements(t.body, opts.today))
    return _build(elements, t, t.repairs, opts.today), elements


def _plain(t: _Text, opts: _Options) -> ParsedScan:
    if t.symbology in _GTIN_ONLY and not _gtin_digits(t.body):
        raise ScanRefused("UNPARSEABLE", Text("A linear code (symbology identifier %(symbology)s) carries a GTIN of "
                                              "8, 12, 13 or 14 digits, not %(body)r.", symbology=t.symbology,
                                              body=t.body))
    label = "SSCC" if t.form == "sscc" else "GTIN"
    expected = _check_digit(t.body[:-1])
    if expected != int(t.body[-1]):
        raise ScanRefused("CHECK_DIGIT", _check_digit_message(label, t.body, expected))
    if t.form == "sscc":
        return ParsedScan(t.raw, t.symbology, None, None, None, None, Sscc.parse(t.body).value, t.repairs)
    return ParsedScan(t.raw, t.symbology, _gtin14(t.body), None, None, None, None, t.repairs)


def _elements(body: str, today: date) -> Iterator[tuple[_Ai, str]]:
    pos, end_of_data = 0, len(body)
    while pos < end_of_data:
        ai = _ai_at(body, pos)
        if ai is None:
            raise ScanRefused("UNKNOWN_AI", Text("No GS1 application identifier starts at character %(n)s of the "
                                                 "data: %(data)r.", n=pos + 1, data=body[pos:pos + 6]))
        start = pos + len(ai.code)
        if ai.fixed is not None:
            pos = start + ai.fixed
            value = body[start:pos].split(GS, 1)[0]
            if len(value) < ai.fixed:
                raise ScanRefused("TRUNCATED", Text("%(name)s needs %(n)s digits, but only %(got)s follow.",
                                                    name=ai.name, n=ai.fixed, got=len(value)))
        else:
            pos = body.find(GS, start)
            pos = end_of_data if pos < 0 else pos
            value = body[start:pos]
        problem = _problem(ai, value, today)
        if problem:
            raise ScanRefused(*problem)
        yield ai, value
        while pos < end_of_data and body[pos] == GS:
            pos += 1


def _from_uri(t: _Text, opts: _Options) -> ParsedScan:
    try:
        uri = GS1DigitalLinkURI.parse(t.body, config=_URI_CONFIG)
    except ParseError as exc:
        raise ScanRefused("UNPARSEABLE", Text("The GS1 Digital Link URI cannot be read: %(error)s",
                                              error=str(exc))) from None
    elements = []
    for es in uri.element_strings:
        ai = _AIS[es.ai.ai]
        problem = _problem(ai, es.value, opts.today)  # biip only notes a wrong check digit (gtin_error)
        if problem:
            raise ScanRefused(*problem)
        elements.append((ai, es.value))
    return _build(elements, t, t.repairs, opts.today)


_URI_CONFIG = ParseConfig(gs1_element_strings_verify_date=False)  # dates are checked here, with our messages


def _build(elements: list[tuple[_Ai, str]], t: _Text, repairs: tuple[Repair, ...], today: date) -> ParsedScan:
    fields: dict[str, str] = {}
    for ai, value in elements:
        if fields.setdefault(ai.code, value) != value:
            raise ScanRefused("DUPLICATE_AI", Text("(%(ai)s) appears twice with different values: %(first)r and "
                                                   "%(second)r.", ai=ai.code, first=fields[ai.code], second=value))
    gtin, sscc, serial, batch, expiry = (fields.get(code) for code in ("01", "00", "21", "10", "17"))
    if gtin is None and sscc is None:
        raise ScanRefused("NO_IDENTIFIER", Text("The code carries neither a GTIN (01) nor an SSCC (00)."))
    return ParsedScan(t.raw, t.symbology, gtin and _gtin14(gtin), serial and Serial.parse(serial).value,
                      batch and Batch.parse(batch).value, _expiry(expiry, today) if expiry else None,
                      sscc and Sscc.parse(sscc).value, repairs)


# ---------------------------------------------------------------- every reading: lost separators

_BUDGET = 1000  # steps of the search for splits; real pack codes take under 50


class _Splitter:
    """Every way to read data whose GS may be lost as element strings, each AI at most once.
    Refuses data that reads too many ways, rather than searching on."""

    def __init__(self, body: str, today: date) -> None:
        self.body, self.today, self.left = body, today, _BUDGET

    def readings(self) -> list[list[tuple[_Ai, str]]]:
        found = []
        for elements in self._from(0, frozenset(), False):
            found.append(elements)
            if len(found) > _MOST_READINGS:
                raise _too_many()
        return found

    def _from(self, pos: int, used: frozenset[str], inside: bool) -> Iterator[list]:
        """Readings of body[pos:]. ``inside``: pos is within a GS-less run right after a
        variable-length field, where only a pack's AIs may start."""
        self.left -= 1
        if self.left < 0:
            raise _too_many()
        body = self.body
        while pos < len(body) and body[pos] == GS:
            pos, inside = pos + 1, False
        if pos == len(body):
            yield []
            return
        ai = _ai_at(body, pos)
        if ai is None or ai.code in used or (inside and ai.code not in _SPLIT_AIS):
            return
        start, used = pos + len(ai.code), used | {ai.code}
        for end in self._ends(ai, start):
            after_variable = ai.fixed is None and end < len(body) and body[end] != GS
            for rest in self._from(end, used, after_variable):
                yield [(ai, body[start:end]), *rest]

    def _ends(self, ai: _Ai, start: int) -> Iterator[int]:
        """Where the field starting at ``start`` may end: its fixed length, or before a GS, the end,
        or a pack's AI."""
        body = self.body
        if ai.fixed is not None:
            end = start + ai.fixed
            if end <= len(body) and _problem(ai, body[start:end], self.today) is None:
                yield end
            return
        run_end = body.find(GS, start)
        run_end = len(body) if run_end < 0 else run_end
        for end in range(start + 1, min(run_end, start + ai.longest) + 1):
            if ai.charset is not None and body[end - 1] not in ai.charset:
                return
            if (end == run_end or body[end:end + 2] in _SPLIT_AIS or body[end:end + 3] in _SPLIT_AIS) \
                    and _problem(ai, body[start:end], self.today) is None:
                yield end


_MOST_READINGS = 64


def _too_many() -> ScanRefused:
    return ScanRefused("AMBIGUOUS_SEPARATOR", Text("The scan can be read too many ways because the group separator "
                                                   "(GS) between fields is missing: the scanner drops it. Set the "
                                                   "scanner to send GS (ASCII 29) or a substitute such as ~, and scan "
                                                   "again."))


def _readings(t: _Text, opts: _Options, exhaustive: bool) -> tuple[list[ParsedScan], ScanRefused | None]:
    """The valid readings of one form of the scan, the strict one first, and the strict reading's
    refusal when it has none. Lost separators are looked for when the data has no GS at all or
    its strict reading fails (always when ``exhaustive``)."""
    try:
        strict, strict_elements = _strict(t, opts)
    except ScanRefused as refusal:
        strict, strict_elements, failure = None, None, refusal
    else:
        failure = None
        if t.form != "elements" or (GS in t.body and not exhaustive):
            return [strict], None
    if t.form != "elements":
        return [], failure
    readings = [strict] if strict else []
    for elements in _Splitter(t.body, opts.today).readings():
        if elements == strict_elements:
            continue
        try:
            readings.append(_build(elements, t, (*t.repairs, _gs_recovered()), opts.today))
        except ScanRefused:
            continue
    return readings, failure


# ---------------------------------------------------------------- the parser

class _Options(NamedTuple):  # a tuple: built for every scan, in a fraction of a dataclass's time
    symbology: str | None
    substitutes: tuple[str, ...]
    today: date


def parse_scan(raw: str | bytes, *, symbology: str | None = None,
               gs_substitutes: Sequence[str] = DEFAULT_GS_SUBSTITUTES, known: KnownPacks | None = None,
               today: date | None = None) -> ParsedScan:
    """Read one scan. Bytes (from images or serial ports) are latin-1 and may carry the symbology
    identifier; ``known`` (the register and the pack records) settles what the data alone cannot.
    Raises ScanRefused."""
    text, opts = _setup(raw, symbology, gs_substitutes, today)
    if known is None:
        fast = _clean_pack(text, opts)
        if fast is not None:
            return fast
    return _read(text, opts, known)


def _setup(raw: str | bytes, symbology: str | None, gs_substitutes: Sequence[str],
           today: date | None) -> tuple[str, _Options]:
    text = raw if type(raw) is str else bytes(raw).decode("latin-1") if isinstance(raw, _BYTES) else raw
    if not text.strip(" \t\r\n"):
        raise ScanRefused("EMPTY_SCAN", Text("The scan is empty."))
    substitutes = _DEFAULT_STAND_INS if gs_substitutes is DEFAULT_GS_SUBSTITUTES else \
        tuple(s for s in gs_substitutes if s and s != GS)
    return text, _Options(_symbology(symbology), substitutes, today or date.today())


def _read(text: str, opts: _Options, known: KnownPacks | None) -> ParsedScan:
    """The general reader: every form, refusal and repair."""
    as_is, strict, elements, failure = _as_is(text, opts)
    if strict is not None:
        settled = not _open_ended(as_is, elements)
        if known is None and settled:
            return strict
        # a GTIN-only reading of GS-less data may be a pack whose serial ran into the batch
        if known is not None and (settled or strict.kind != "GTIN") and known.known([strict]):
            return strict
    if known is not None:
        found = _known_reading(text, strict, opts, known)
        if found is not None:
            return found
    return _only_reading(text, as_is, failure, opts)


# ---------------------------------------------------------------- the common case in one pass

_BYTES = (bytes, bytearray, memoryview)

# the patterns biip gives batch and serial (set 82, 1 to 20 characters); the fast reading checks
# what the general one does, field by field (AI 01: _problem's digits and check digit; 17: _date_problem)
_X20 = {code: _AIS[code].value for code in ("10", "21")}
assert all(_AIS[code].longest == 20 and _AIS[code].charset is CSET82 and _AIS[code].fixed is None for code in _X20)
assert _AIS["01"].fixed == 14 and _AIS["17"].fixed == 6 and "17" in _DATES and _CHECKED["01"] == "GTIN"
_TRIMMED = " \t\r\n" + GS
_NOT_ELEMENTS = frozenset({8, 12, 13, 14, 18})  # lengths at which digits alone are a GTIN or an SSCC


def _clean_pack(text: str, opts: _Options) -> ParsedScan | None:
    """What nearly every scan is, read in one pass: a GS1 element string of AIs 01, 17, 10 and 21,
    each once, with or without ]d2, a GS after every variable-length field but the last, nothing
    to trim, substitute or repair, every field valid. Its ParsedScan is exactly what the general
    reader gives (tested over the parser's whole corpus); None sends anything else to it."""
    if not text or text[0] in _TRIMMED or text[-1] in _TRIMMED:
        return None
    symbology = opts.symbology
    body = text
    if text[0] == "]":
        if text[:3] != "]d2" or symbology not in (None, "]d2"):
            return None
        symbology, body = "]d2", text[3:]
    elif symbology not in (None, "]d2") or (symbology is None and len(body) in _NOT_ELEMENTS):
        return None
    for sub in opts.substitutes:
        if sub in body:
            return None
    today = opts.today
    fields: dict[str, str] = {}
    pos, end = 0, len(body)
    last_fixed = True
    while pos < end:
        code = body[pos:pos + 2]
        if code in fields:
            return None
        if code == "01":  # N14 with its check digit
            value = body[pos + 2:pos + 16]
            pos += 16
            if len(value) != 14 or not (value.isascii() and value.isdigit()) \
                    or _check_digit(value[:-1]) != int(value[-1]):
                return None
            last_fixed = True
        elif code == "17":  # N6, a date (day 00: the month's last)
            value = body[pos + 2:pos + 8]
            pos += 8
            if len(value) != 6 or not (value.isascii() and value.isdigit()) or not "01" <= value[2:4] <= "12" \
                    or (value[4:] > "28" and _date_problem("", value, today) is not None):
                return None
            last_fixed = True
        elif code == "10" or code == "21":  # X..20, up to a GS or the end
            start = pos + 2
            pos = body.find(GS, start)
            if pos < 0:
                pos = end
            value = body[start:pos]
            if not 0 < len(value) <= 20 or not CSET82.issuperset(value) or not _X20[code].fullmatch(value):
                return None
            last_fixed = False
        else:
            return None
        fields[code] = value
        while pos < end and body[pos] == GS:
            pos += 1
    gtin = fields.get("01")
    if gtin is None or (not last_fixed and GS not in body):  # no GTIN, or a lost GS may hide in the last field
        return None
    expiry = fields.get("17")
    # a valid 10 or 21 is 1 to 20 characters of set 82: what Batch.parse and Serial.parse accept as is.
    # Filled in directly: a frozen dataclass's __init__ sets each field through object.__setattr__,
    # a fifth of this whole reading's time.
    scan = object.__new__(ParsedScan)
    scan.__dict__.update(raw=text, symbology=symbology, gtin=_gtin14(gtin), serial=fields.get("21"),
                         batch=fields.get("10"), expiry=_expiry(expiry, today) if expiry else None, sscc=None,
                         repairs=())
    return scan


def _as_is(text: str, opts: _Options) -> tuple[_Text | None, ParsedScan | None, list, ScanRefused | None]:
    """The scan taken as it came: its form, its strict reading and elements, or the refusal."""
    try:
        as_is = _prepare(text, text, (), opts)
    except ScanRefused as refusal:
        return None, None, [], refusal
    try:
        strict, elements = _strict(as_is, opts)
    except ScanRefused as refusal:
        return as_is, None, [], refusal
    return as_is, strict, elements, None


def _symbology(symbology: str | None) -> str | None:
    if not symbology or not symbology.strip():
        return None
    symbology = symbology.strip()
    return symbology if symbology.startswith("]") else "]" + symbology


def _open_ended(t: _Text, elements: list) -> bool:
    """Whether a lost GS could hide in the strict reading: GS-less data ending in a variable field."""
    return t.form == "elements" and GS not in t.body and bool(elements) and elements[-1][0].fixed is None


def _only_reading(text: str, as_is: _Text | None, failure: ScanRefused | None, opts: _Options) -> ParsedScan:
    """The scan's one valid reading without the records, or the refusal that explains why not."""
    readings = []
    if as_is is not None:
        readings, failure = _readings(as_is, opts, exhaustive=False)
    if len(readings) == 1:
        return readings[0]
    if readings:
        raise _ambiguous(readings)
    foreign = keyboard.foreign_letters(text)
    if foreign:
        raise _layout_refusal(*foreign)
    assert failure is not None  # a form without readings always has its refusal
    raise failure


# fewest repairs first: as-is, Caps Lock, a layout, a layout with Caps Lock
_VARIANTS = ((None, False), (None, True), ("RU", False), ("AZ", False), ("RU", True), ("AZ", True))


def _variants(text: str, opts: _Options) -> Iterator[_Text]:
    """The scan as-is, then as typed with Caps Lock and through the Russian and Azerbaijani layouts."""
    keep = frozenset(ch for sub in opts.substitutes for ch in sub if not "!" <= ch <= "~")  # sent as Alt codes
    seen = {text}
    for layout, caps in _VARIANTS:
        undone = text if not (layout or caps) else keyboard.untyped(text, layout or "US", caps, keep)
        if undone is None or (undone in seen and (layout or caps)):
            continue
        seen.add(undone)
        repairs = ((_LAYOUT[layout],) if layout else ()) + ((_CAPS_LOCK,) if caps else ())
        try:
            yield _prepare(text, undone, repairs, opts)
        except ScanRefused:
            continue


def _known_reading(text: str, strict: ParsedScan | None, opts: _Options, known: KnownPacks) -> ParsedScan | None:
    """The one reading, of every way the scan may have been mangled, that matches the records."""
    candidates: dict[tuple, ParsedScan] = {}
    for t in _variants(text, opts):
        try:
            readings = _readings(t, opts, exhaustive=True)[0]
        except ScanRefused:  # reads too many ways to tell
            continue
        for reading in readings:
            current = candidates.get(reading.key)
            if current is None or len(reading.repairs) < len(current.repairs):
                candidates[reading.key] = reading
    if not candidates:
        return None
    hits = list(known.known(list(candidates.values())))
    pool = [h for h in hits if h.kind != "GTIN"] or hits  # a known pack beats a merely registered product
    if strict is not None and strict in pool:
        return strict
    if len(pool) <= 1:
        return pool[0] if pool else None
    if len({_mangling(h) for h in pool}) == 1:
        raise _ambiguous(pool)
    raise ScanRefused("AMBIGUOUS_SCAN", Text("The scan matches %(n)s different known packs once letter case and "
                                             "keyboard layout are corrected. Switch the computer's keyboard layout "
                                             "to English (US), or set the scanner to serial (virtual COM) or HID-POS "
                                             "mode, and scan again.", n=len(pool)), pool)


def _mangling(reading: ParsedScan) -> tuple[str, ...]:
    return tuple(r.code for r in reading.repairs if r.code.startswith(("LAYOUT_", "CAPS_")))


__all__ = ["DEFAULT_GS_SUBSTITUTES", "GS", "KnownPacks", "ParsedScan", "Repair", "ScanRefused", "parse_scan"]
