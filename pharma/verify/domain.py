"""Verdicts of a scan (DESIGN.md, "Verdicts") and the alert case workflow. Pure: no Flask, no session.

A scan's findings are every rule it breaks; its verdict is the most severe finding (``OK`` when
there is none). Severity, from least to most severe (``SEVERITY``):

    OK < INVALID_CODE < EXPIRED < REGISTRATION_EXPIRED < REGISTRATION_SUSPENDED < RECALLED
       < WITHDRAWN < INACTIVE < NOT_IN_CUSTODY < NOT_RELEASED < REGISTRATION_REVOKED
       < ALREADY_DISPENSED < EXPIRY_MISMATCH < BATCH_MISMATCH < UNKNOWN_PACK < UNREGISTERED_PRODUCT

The reasoning: what suggests a counterfeit outranks everything (an unregistered GTIN, a serial
never commissioned, a serial with another batch or expiry, a sold pack seen again); then what
the regulator must follow up (a revoked registration, a pack outside the chain of custody);
then what only stops the sale (inactive, withdrawn, recalled, a registration not in force,
expired). So every verdict that always alerts outranks every verdict that never does, and
INACTIVE, which alerts only for a stolen pack, sits between them: a scan alerts exactly when
its verdict's finding does. INVALID_CODE never meets another finding (nothing else is known).

NOT_RELEASED, in our data: packs exist only once their declaration is accepted, so a pack is
"known but never released into circulation" when its importer has never shipped it: it is
still at the arrival location its declaration brought it to, has never been shipped (being
scanned as an extra pack at someone's receipt does not count), and is scanned by a location of
another organisation. The importer itself scanning it at
another of its own locations gets NOT_IN_CUSTODY, like any pack away from where it is held.

A pack is in the scanning location's custody when that location is its custodian of record
(a sender stays custodian while a shipment travels, see trace.movements) or when the pack is
in transit to it. Findings never state a recorded batch, expiry or custodian: a scan must not
become an oracle for copying serials or for reading another pharmacy's stock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pharma.register.domain import CertificateStatus, in_force
from pharma.shared.errors import RuleViolation, ValidationFailed
from pharma.shared.identifiers import Expiry
from pharma.shared.text import Text
from pharma.trace.domain import PackFacts, PackState, effective_state


class Verdict(StrEnum):
    OK = "OK"
    INVALID_CODE = "INVALID_CODE"
    UNREGISTERED_PRODUCT = "UNREGISTERED_PRODUCT"
    REGISTRATION_SUSPENDED = "REGISTRATION_SUSPENDED"
    REGISTRATION_REVOKED = "REGISTRATION_REVOKED"
    REGISTRATION_EXPIRED = "REGISTRATION_EXPIRED"
    UNKNOWN_PACK = "UNKNOWN_PACK"
    BATCH_MISMATCH = "BATCH_MISMATCH"
    EXPIRY_MISMATCH = "EXPIRY_MISMATCH"
    ALREADY_DISPENSED = "ALREADY_DISPENSED"
    RECALLED = "RECALLED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"
    INACTIVE = "INACTIVE"
    NOT_IN_CUSTODY = "NOT_IN_CUSTODY"
    NOT_RELEASED = "NOT_RELEASED"


V = Verdict
SEVERITY: tuple[Verdict, ...] = (
    V.OK, V.INVALID_CODE, V.EXPIRED, V.REGISTRATION_EXPIRED, V.REGISTRATION_SUSPENDED, V.RECALLED,
    V.WITHDRAWN, V.INACTIVE, V.NOT_IN_CUSTODY, V.NOT_RELEASED, V.REGISTRATION_REVOKED,
    V.ALREADY_DISPENSED, V.EXPIRY_MISMATCH, V.BATCH_MISMATCH, V.UNKNOWN_PACK, V.UNREGISTERED_PRODUCT,
)
RANK = {v: i for i, v in enumerate(SEVERITY)}
ALERTING = frozenset({V.UNREGISTERED_PRODUCT, V.REGISTRATION_REVOKED, V.UNKNOWN_PACK, V.BATCH_MISMATCH,
                      V.EXPIRY_MISMATCH, V.ALREADY_DISPENSED, V.NOT_IN_CUSTODY, V.NOT_RELEASED})


@dataclass(frozen=True)
class Finding:
    """One rule a scan breaks. ``reason`` refines it: the parser's refusal code for INVALID_CODE,
    the pack state for INACTIVE, NOT_A_PACK for a case label."""

    verdict: Verdict
    message: str
    reason: str | None = None

    @property
    def code(self) -> str:
        return self.verdict.value

    @property
    def alert(self) -> bool:
        return self.verdict in ALERTING or (self.verdict is V.INACTIVE and self.reason == PackState.STOLEN)


def verdict_of(findings: list[Finding]) -> Verdict:
    """The most severe finding's verdict; OK when there is none."""
    if not findings:
        return V.OK
    return max((f.verdict for f in findings), key=RANK.__getitem__, default=V.OK)


def alerts(findings: list[Finding]) -> bool:
    return any(f.alert for f in findings)


# ---------------------------------------------------------------- facts the verdict reads


@dataclass(frozen=True)
class ProductFacts:
    """The register's answer for a GTIN."""

    gtin: str
    product_id: int
    trade_name: str
    dosage_form: str
    rx: bool
    pack_size: int
    pack_unit: str
    substances: tuple[tuple[str, str], ...]  # (INN, strength), in label order
    certificate_number: str | None
    certificate_status: str | None
    valid_until: date | None
    withdrawn: bool


@dataclass(frozen=True)
class PackRecord:
    """What the records hold about a (GTIN, serial)."""

    gtin: str
    serial: str
    state: str  # stored
    state_changed_at: datetime
    batch: str
    expiry: Expiry
    recalled: bool
    location_id: int | None  # custodian of record
    location_name: str | None
    custodian_org_id: int | None
    transit_to: int | None  # the destination while the pack travels on a shipment
    released: bool  # has left its importer's arrival location at least once

    def effective_state(self, today: date, withdrawn: bool) -> PackState:
        return effective_state(PackFacts(self.state, self.location_id, self.state_changed_at, None,
                                         self.expiry.date, self.recalled, withdrawn), today)

    def held_at(self, location_id: int) -> bool:
        return self.location_id == location_id or self.transit_to == location_id


@dataclass(frozen=True)
class Place:
    """The scanning location."""

    location_id: int
    organisation_id: int
    region: str = ""
    name: str = ""


def findings_for(scan, product: ProductFacts | None, pack: PackRecord | None, place: Place,
                 today: date) -> list[Finding]:
    """Every rule a parsed scan (pharma.verify.parser.ParsedScan) breaks, given the register's facts
    for its GTIN and the record of its pack. A GTIN-only scan (a legacy EAN-13) is judged by the
    register and its printed expiry alone; a case label is not a pack."""
    if scan.kind == "CASE":
        return [Finding(V.INVALID_CODE, Text("This is a case label (SSCC %(sscc)s), not a pack: scan the pack's own "
                                             "code.", sscc=scan.sscc), "NOT_A_PACK")]
    found = _register(scan.gtin, product, today)
    if scan.kind != "PACK":
        if scan.expiry is not None and scan.expiry.date < today:
            found.append(Finding(V.EXPIRED, Text("The printed expiry date %(date)s has passed.",
                                                 date=scan.expiry.date)))
        return found
    if pack is None:
        if product is None:  # an unregistered GTIN says it all
            return found
        found.append(Finding(V.UNKNOWN_PACK, Text("No pack with serial %(serial)s was ever commissioned for GTIN "
                                                  "%(gtin)s.", serial=scan.serial, gtin=scan.gtin)))
        return found
    return found + _printed(scan, pack) + _state(pack, today) + _custody(pack, place)


def _register(gtin: str, product: ProductFacts | None, today: date) -> list[Finding]:
    if product is None:
        return [Finding(V.UNREGISTERED_PRODUCT, Text("GTIN %(gtin)s is not in the product register.", gtin=gtin))]
    if product.certificate_status is None:
        return [Finding(V.UNREGISTERED_PRODUCT, Text("GTIN %(gtin)s belongs to a product without a registration "
                                                     "certificate.", gtin=gtin))]
    found = []
    number, status = product.certificate_number, product.certificate_status
    if status == CertificateStatus.REVOKED:
        found.append(Finding(V.REGISTRATION_REVOKED, Text("Registration certificate %(number)s is revoked.",
                                                        number=number)))
    elif status == CertificateStatus.SUSPENDED:
        found.append(Finding(V.REGISTRATION_SUSPENDED, Text("Registration certificate %(number)s is suspended.",
                                                  number=number)))
    elif not in_force(status, product.valid_until, today):
        found.append(Finding(V.REGISTRATION_EXPIRED, Text("Registration certificate %(number)s expired on %(date)s.",
                                                            number=number, date=product.valid_until)))
    if product.withdrawn:
        found.append(Finding(V.WITHDRAWN, Text("The product has been withdrawn from the market.")))
    return found


def _printed(scan, pack: PackRecord) -> list[Finding]:
    found = []
    if scan.batch is not None and scan.batch != pack.batch:
        found.append(Finding(V.BATCH_MISMATCH, Text("The printed batch %(batch)s differs from the batch recorded for "
                                                    "this pack.", batch=scan.batch)))
    if scan.expiry is not None and not scan.expiry.matches(pack.expiry):
        found.append(Finding(V.EXPIRY_MISMATCH, Text("The printed expiry %(expiry)s differs from the expiry recorded "
                                                     "for this pack.", expiry=scan.expiry.raw)))
    return found


def _state(pack: PackRecord, today: date) -> list[Finding]:
    found = []
    if pack.recalled:
        found.append(Finding(V.RECALLED, Text("The pack's batch has been recalled.")))
    if pack.expiry.date < today:
        found.append(Finding(V.EXPIRED, Text("The pack is past its expiry date.")))
    if pack.state == PackState.DISPENSED:
        found.append(Finding(V.ALREADY_DISPENSED, Text("The pack was already dispensed or sold.")))
    elif pack.state != PackState.ACTIVE:
        found.append(Finding(V.INACTIVE, _out_of_circulation(pack.state), pack.state))
    return found


_OUT_OF_CIRCULATION = {
    PackState.DESTROYED: Text("The pack is out of circulation: destroyed."),
    PackState.STOLEN: Text("The pack is out of circulation: stolen."),
    PackState.EXPORTED: Text("The pack is out of circulation: exported."),
    PackState.SAMPLE: Text("The pack is out of circulation: sample."),
    PackState.LOCKED: Text("The pack is out of circulation: locked."),
}


def _out_of_circulation(state: str) -> str:
    return _OUT_OF_CIRCULATION.get(state) or f"The pack is out of circulation: {state.lower()}."


def _custody(pack: PackRecord, place: Place) -> list[Finding]:
    if pack.state != PackState.ACTIVE or pack.held_at(place.location_id):
        return []
    if not pack.released and pack.custodian_org_id != place.organisation_id:
        return [Finding(V.NOT_RELEASED, Text("The pack has not been released into circulation: its importer has "
                                             "never shipped it."))]
    if pack.transit_to is not None:
        return [Finding(V.NOT_IN_CUSTODY, Text("The pack is in transit to another location."))]
    return [Finding(V.NOT_IN_CUSTODY, Text("The pack is held by another location."))]


def refused(code: str, message: str) -> list[Finding]:
    """The findings of a scan the parser refused."""
    return [Finding(V.INVALID_CODE, message, code)]


# ---------------------------------------------------------------- the alert case workflow


class AlertStatus(StrEnum):
    NEW = "NEW"
    INVESTIGATING = "INVESTIGATING"
    CLOSED = "CLOSED"


class ClosingReason(StrEnum):
    CONFIRMED_COUNTERFEIT = "CONFIRMED_COUNTERFEIT"
    TECHNICAL_ERROR = "TECHNICAL_ERROR"
    PROCESS_ERROR = "PROCESS_ERROR"
    OTHER = "OTHER"


class AlertClosed(RuleViolation):
    code = "ALERT_CLOSED"
    title = "The alert is closed"


class AlertAlreadyInvestigating(RuleViolation):
    code = "ALERT_ALREADY_INVESTIGATING"
    title = "The alert is already being investigated"


class NoteRequired(ValidationFailed):
    code = "NOTE_REQUIRED"
    title = "Say what was found"


def check_investigate(alert_id: int, status: str) -> AlertStatus:
    """NEW → INVESTIGATING."""
    if status == AlertStatus.CLOSED:
        raise AlertClosed(f"Alert {alert_id} is closed.")
    if status == AlertStatus.INVESTIGATING:
        raise AlertAlreadyInvestigating(f"Alert {alert_id} is already being investigated.")
    return AlertStatus.INVESTIGATING


def check_close(alert_id: int, status: str, reason: ClosingReason, note: str) -> AlertStatus:
    """NEW or INVESTIGATING → CLOSED, with a reason; OTHER needs a note saying what happened."""
    if status == AlertStatus.CLOSED:
        raise AlertClosed(f"Alert {alert_id} is closed.")
    if reason is ClosingReason.OTHER and len(note.strip()) < 3:
        raise NoteRequired({"note": ["Closing for another reason needs a note of at least 3 characters."]},
                           detail="Closing for another reason needs a note.")
    return AlertStatus.CLOSED
