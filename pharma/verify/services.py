"""Verifying scans at the counter: one scan, a bulk of up to 1,000, or every code in a photo.

Each goes through the one parser (pharma.verify.parser), the register and the pack records
(pharma.verify.lookup: one query for all GTINs and one for all packs of a batch), and the verdict
rules (pharma.verify.domain). Verification is read-only for the pack: it writes one
``verifications`` row per scan and, for an alerting verdict, opens an alert case or adds a
sighting to the open one (services_alerts.record_alerts), all in one transaction.

The scanning location ("verify.scan"): the ``location_gln`` sent (it must be the caller's own
organisation's unless the caller is the agency's regulator or inspector), else the device's
location (a cash register), else the caller organisation's only active location.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

from pharma.parties.models import Location
from pharma.parties.policy import POLICY, authorize
from pharma.shared.errors import NotFound, ValidationFailed
from pharma.shared.identifiers import Gln
from pharma.shared.prepared import Prepared
from pharma.shared.time import today as utc_today
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.verify import domain as d
from pharma.verify.lookup import Lookup
from pharma.verify.models import RAW_KEPT, Verification
from pharma.verify.parser import ParsedScan, ScanRefused, parse_scan
from pharma.verify.services_alerts import record_alerts

SCAN = "verify.scan"
MAX_BULK = 1000


class LocationNotFound(NotFound):
    code = "LOCATION_NOT_FOUND"
    title = "No such location"


class LocationRequired(ValidationFailed):
    code = "LOCATION_REQUIRED"
    title = "Name the scanning location"


class TooManyScans(ValidationFailed):
    code = "TOO_MANY_SCANS"
    title = "Too many scans in one request"


@dataclass(frozen=True)
class Scan:
    raw: str | bytes
    symbology: str | None = None


@dataclass(frozen=True)
class VerifyScans:
    scans: tuple[Scan, ...]
    location_gln: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PackSight:
    """What the caller may see of a pack's record: its state and where it is relative to the
    caller always; batch, expiry and custodian only for the agency and for the pack's own holder."""

    state: str  # effective
    custody: str  # HERE (held at or travelling to the scanning location), ORGANISATION, ELSEWHERE
    record: d.PackRecord | None  # None when the caller may not see the details

    @property
    def in_transit(self) -> bool | None:
        return None if self.record is None else self.record.transit_to is not None


@dataclass
class VerificationResult:
    raw: str
    symbology: str | None
    scan: ParsedScan | None  # None when the parser refused the scan
    findings: list[d.Finding]
    product: d.ProductFacts | None = None
    pack: PackSight | None = None
    alert_id: int | None = None
    verdict: d.Verdict = field(init=False)

    def __post_init__(self) -> None:
        self.verdict = d.verdict_of(self.findings)

    @property
    def alert(self) -> bool:
        return d.alerts(self.findings)

    @property
    def case_key(self) -> tuple[str, str]:
        """(GTIN, serial or "") of the alert case this scan belongs to."""
        return self.scan.gtin, self.scan.serial or ""


# ---------------------------------------------------------------- use cases


def verify_scan(uow: UnitOfWork, scan: Scan, location_gln: str | None = None,
                idempotency_key: str | None = None) -> VerificationResult:
    """Verify one scan (DESIGN.md "Verdicts"): its verdict, findings, product and pack facts."""
    return verify_bulk(uow, VerifyScans((scan,), location_gln, idempotency_key))[0]


def verify_bulk(uow: UnitOfWork, cmd: VerifyScans) -> list[VerificationResult]:
    """Verify up to 1,000 scans in one transaction, with a constant number of queries for scans
    that parse: the GTINs in one, the packs in one; mangled scans add one for their candidates."""
    authorize(uow.actor, SCAN)
    if not 1 <= len(cmd.scans) <= MAX_BULK:
        raise TooManyScans({"scans": [f"Send 1 to {MAX_BULK} scans."]}, detail=f"Send 1 to {MAX_BULK} scans.")
    with uow:
        place, results = _judge_all(uow, cmd)
        alerting = [r for r in results if r.alert]
        if alerting:
            with uow.atomic():
                record_alerts(uow, place, alerting)
                _record(uow, place, results, cmd.idempotency_key)
        else:  # one statement: atomic by itself, also when the API reads in autocommit mode
            _record(uow, place, results, cmd.idempotency_key)
        uow.commit()
    return results


def record_verifications(uow: UnitOfWork, cmd: VerifyScans) -> list[VerificationResult]:
    """The verdicts of the scans, written with their alerts in the caller's transaction (the caller commits)."""
    place, results = _judge_all(uow, cmd)
    record_alerts(uow, place, [r for r in results if r.alert])
    _record(uow, place, results, cmd.idempotency_key)
    return results


def _judge_all(uow: UnitOfWork, cmd: VerifyScans) -> tuple[d.Place, list[VerificationResult]]:
    """The place and each scan's verdict: reading only."""
    connection = uow.session.connection()  # the same until the act commits
    place = scanning_place(uow, cmd.location_gln, connection)
    today = utc_today()
    lookup = Lookup(uow.session, today, connection)
    parsed = _parse_all(cmd.scans, lookup, today)
    return place, [_judge(uow, scan, outcome, lookup, place, today)
                   for scan, outcome in zip(cmd.scans, parsed, strict=True)]


def verify_photo(uow: UnitOfWork, content: bytes, location_gln: str | None = None,
                 idempotency_key: str | None = None) -> list[VerificationResult]:
    """Decode every code in a PNG or JPEG photo and verify each like a scanner's scan."""
    from pharma.barcodes.decode import decode_image

    authorize(uow.actor, SCAN)
    codes = decode_image(content)
    if not codes:
        return []
    return verify_bulk(uow, VerifyScans(tuple(Scan(c.data, c.symbology) for c in codes[:MAX_BULK]),
                                        location_gln, idempotency_key))


# ---------------------------------------------------------------- the scanning location


_PLACE = select(Location.id, Location.organisation_id)
_BY_GLN = Prepared(_PLACE.where(Location.gln == bindparam("gln")))
_OF_ORGANISATION = Prepared(_PLACE.where(Location.organisation_id == bindparam("org"), Location.active.is_(True))
                            .limit(2))


def scanning_place(uow: UnitOfWork, gln: str | None, connection: Connection | None = None) -> d.Place:
    """The location the scan is made at (see the module's docstring)."""
    actor, connection = uow.actor, connection if connection is not None else uow.session.connection()
    if gln:
        value = Gln.parse(gln.strip(), "location_gln").value
        rows = _BY_GLN.rows(connection, {"gln": value})
        if not rows:
            raise LocationNotFound(f"No location with GLN {value}.")
        location_id, organisation_id = rows[0]
        authorize(actor, SCAN, organisation_id)
        return d.Place(location_id, organisation_id)
    if actor.location_id is not None:
        return d.Place(actor.location_id, actor.org_id)
    rows = _OF_ORGANISATION.rows(connection, {"org": actor.org_id})
    if len(rows) != 1:
        message = "Your organisation has several locations: send the scanning location's GLN (location_gln)." \
            if rows else "Your organisation has no active location: send the scanning location's GLN (location_gln)."
        raise LocationRequired({"location_gln": [message]}, detail=message)
    return d.Place(rows[0][0], rows[0][1])


# ---------------------------------------------------------------- parsing in batches


def _parse(scan: Scan, known, today: date) -> ParsedScan | ScanRefused:
    try:
        return parse_scan(scan.raw, symbology=scan.symbology, known=known, today=today)
    except ScanRefused as exc:
        return exc


def _parse_all(scans: Sequence[Scan], lookup: Lookup, today: date) -> list[ParsedScan | ScanRefused]:
    """Parse every scan without the records first (nearly every scan parses alone), load what the
    readings name, and parse again with the records only the scans that did not come out as a
    known pack. That second pass runs twice: once collecting every candidate reading the parser
    asks about, and, after loading them all in one go, once more for the answers."""
    parsed = [_parse(scan, None, today) for scan in scans]
    lookup.load_readings(p for p in parsed if isinstance(p, ParsedScan))
    again = [i for i, p in enumerate(parsed) if not (isinstance(p, ParsedScan) and lookup.matches(p))]
    if again:
        lookup.collecting = (set(), set())
        for i in again:
            _parse(scans[i], lookup, today)
        gtins, keys = lookup.collecting
        lookup.collecting = None
        lookup.load(gtins, keys)
        for i in again:
            parsed[i] = _parse(scans[i], lookup, today)
        lookup.load_readings(parsed[i] for i in again if isinstance(parsed[i], ParsedScan))
    return parsed


# ---------------------------------------------------------------- verdicts and what the caller sees


def _judge(uow: UnitOfWork, scan: Scan, outcome: ParsedScan | ScanRefused, lookup: Lookup, place: d.Place,
           today: date) -> VerificationResult:
    if isinstance(outcome, ScanRefused):
        return VerificationResult(_raw_text(scan.raw), scan.symbology, None, d.refused(outcome.code, outcome.detail))
    product = lookup.products.get(outcome.gtin) if outcome.gtin else None
    record = lookup.packs.get((outcome.gtin, outcome.serial)) if outcome.kind == "PACK" else None
    findings = d.findings_for(outcome, product, record, place, today)
    sight = _sight(uow, record, product, place, today) if record is not None else None
    return VerificationResult(_raw_text(outcome.raw), outcome.symbology, outcome, findings, product, sight)


def _sight(uow: UnitOfWork, record: d.PackRecord, product: d.ProductFacts | None, place: d.Place,
           today: date) -> PackSight:
    actor = uow.actor
    if record.held_at(place.location_id):
        custody = "HERE"
    elif record.custodian_org_id is not None and record.custodian_org_id == actor.org_id:
        custody = "ORGANISATION"
    else:
        custody = "ELSEWHERE"
    state = record.effective_state(today, bool(product and product.withdrawn)).value
    shown = custody != "ELSEWHERE" or actor.is_system or bool(actor.roles & POLICY[SCAN].any_org)  # the agency
    return PackSight(state, custody, record if shown else None)


def _raw_text(raw: str | bytes) -> str:
    return raw.decode("latin-1") if isinstance(raw, bytes) else raw


_COLUMNS = ("created_at", "user_id", "device_id", "organisation_id", "location_id", "raw", "gtin", "serial",
            "verdict", "alert_id", "idempotency_key")
_COPY = f"COPY verifications ({', '.join(_COLUMNS)}) FROM STDIN"
_INSERT = Prepared(insert(Verification).values({name: bindparam(name) for name in _COLUMNS}))
COPY_FROM = 20  # rows: fewer go in one INSERT round trip, more in one COPY


def _record(uow: UnitOfWork, place: d.Place, results: list[VerificationResult], key: str | None) -> None:
    """One ``verifications`` row per result: a bulk's rows by COPY on PostgreSQL, otherwise INSERT."""
    actor, now = uow.actor, utcnow()
    connection = uow.session.connection()
    if connection.dialect.name == "postgresql" and len(results) > COPY_FROM:
        with connection.connection.driver_connection.cursor() as cur, cur.copy(_COPY) as copy:
            copy.write(_copy_text((now, actor.user_id, actor.device_id, actor.org_id, place.location_id), results, key))
        return
    rows = [(now, actor.user_id, actor.device_id, actor.org_id, place.location_id, _kept(r.raw),
             r.scan.gtin if r.scan else None, r.scan.serial if r.scan else None, r.verdict.value, r.alert_id, key)
            for r in results]
    _INSERT.write(connection, [dict(zip(_COLUMNS, row, strict=True)) for row in rows])


def _kept(raw: str) -> str:
    return raw[:RAW_KEPT].replace("\x00", "\\0")


_ESCAPED = re.compile(r"[\\\t\n\r]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_NULL = "\\N"


def _copy_value(value) -> str:
    if value is None:
        return _NULL
    if type(value) is not str:
        return value.isoformat() if isinstance(value, datetime) else str(value)
    return _ESCAPED.sub(lambda m: _ESCAPES[m[0]], value) if _ESCAPED.search(value) else value


def _copy_text(same: tuple, results: list[VerificationResult], key: str | None) -> str:
    """The rows of ``_COLUMNS`` in COPY's text format (backslash, tab, newline and carriage return
    escaped, NULL as \\N), made at once: psycopg's ``write_row`` costs some 5 ms of CPU per thousand
    rows. ``same``: the first five columns, the act's own. A GTIN, a serial (GS1 set 82) and a
    verdict hold nothing to escape."""
    head = "\t".join(_copy_value(v) for v in same)
    tail = _copy_value(key)
    lines = []
    for r in results:
        scan = r.scan
        gtin, serial = (scan.gtin or _NULL, scan.serial or _NULL) if scan is not None else (_NULL, _NULL)
        alert = _NULL if r.alert_id is None else str(r.alert_id)
        lines.append(f"{head}\t{_copy_value(_kept(r.raw))}\t{gtin}\t{serial}\t{r.verdict.value}\t{alert}\t{tail}\n")
    return "".join(lines)
