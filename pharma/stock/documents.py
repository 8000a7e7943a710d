"""What write-off acts and returns share: their lines (scanned packs, batches by quantity), the
checks a line must pass, and running a trace act inside the document's own transaction.

A document posts everything in ONE transaction: its quantity lines through
``pharma.stock.ledger.post`` and its packs through the trace acts (decommission, ship, receive),
whose events post the serialized ledger. The trace acts own their transaction when called
alone; ``UnitOfWork.enlisted`` lends them the document's instead (their ``commit`` only flushes, and a
refusal rolls back the whole document's work).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, tuple_

from pharma.parties.models import Location
from pharma.parties.policy import authorize
from pharma.shared.errors import Conflict, InvalidIdentifier, NotFound, RuleViolation, ValidationFailed
from pharma.shared.identifiers import Batch as BatchCode
from pharma.shared.identifiers import Gtin, Serial
from pharma.shared.uow import UnitOfWork
from pharma.stock.ledger import BALANCES, Held
from pharma.trace.domain import PackState
from pharma.trace.models import Batch, Pack
from pharma.trace.scans import CommissionedPacks, ScannedPack, parse_scan

MAX_LINES = 2000
MAX_LISTED = 200


class LinesRefused(RuleViolation):
    """Some lines of a document cannot be posted; ``lines`` lists each with its own code."""

    code = "LINES_REFUSED"
    title = "Some lines of the document cannot be posted"

    def __init__(self, problems: list[dict]) -> None:
        first = problems[0]["detail"]
        detail = first if len(problems) == 1 else f"{len(problems)} lines are refused; first: {first}"
        super().__init__(detail, lines=problems[:MAX_LISTED])
        self.problems = problems


class NotDraft(Conflict):
    code = "DOCUMENT_NOT_DRAFT"
    title = "The document is no longer a draft"


class WrongState(Conflict):
    code = "DOCUMENT_STATE"
    title = "The document is not in the state this act needs"


class EmptyDocument(RuleViolation):
    code = "DOCUMENT_EMPTY"
    title = "The document has no lines"


@dataclass(frozen=True)
class PackLine:
    gtin: str
    serial: str


@dataclass(frozen=True)
class BatchLine:
    gtin: str
    batch: str
    quantity: int


@dataclass(frozen=True)
class AddLines:
    """Lines to add to a draft: raw scans (re-parsed here), packs by GTIN and serial, batches by quantity."""

    scans: tuple[str, ...] = ()
    packs: tuple[PackLine, ...] = ()
    batches: tuple[BatchLine, ...] = ()


def location(uow: UnitOfWork, location_id: int, action: str) -> Location:
    loc = uow.session.get(Location, location_id)
    if loc is None:
        raise NotFound(f"No location with id {location_id}.")
    authorize(uow.actor, action, loc.organisation_id)
    return loc


def parse_lines(cmd: AddLines, known: CommissionedPacks | None = None) -> tuple[list[PackLine], list[BatchLine]]:
    """The packs (scans and typed) and batches of ``cmd``, checked for syntax; bad scans named together."""
    packs: list[PackLine] = []
    errors: dict[str, list[str]] = {}
    for i, raw in enumerate(cmd.scans):
        try:
            scanned = parse_scan(raw, known)
        except InvalidIdentifier as exc:
            errors[f"scans.{i}"] = [exc.message]
            continue
        if not isinstance(scanned, ScannedPack):
            errors[f"scans.{i}"] = ["Scan the packs, not a case."]
            continue
        packs.append(PackLine(scanned.gtin, scanned.serial))
    for i, p in enumerate(cmd.packs):
        try:
            packs.append(PackLine(Gtin.parse(p.gtin).value, Serial.parse(p.serial).value))
        except InvalidIdentifier as exc:
            errors[f"packs.{i}"] = [exc.message]
    batches: list[BatchLine] = []
    for i, b in enumerate(cmd.batches):
        try:
            batches.append(BatchLine(Gtin.parse(b.gtin).value, BatchCode.parse(b.batch).value, b.quantity))
        except InvalidIdentifier as exc:
            errors[f"batches.{i}"] = [exc.message]
        else:
            if not 1 <= b.quantity <= 1_000_000:
                errors[f"batches.{i}"] = ["The quantity must be from 1 to 1,000,000."]
    if errors:
        raise ValidationFailed(errors, detail="Some lines are not codes we can read.")
    if not packs and not batches:
        raise ValidationFailed({"lines": ["Scan at least one pack or give a batch and quantity."]})
    return list(dict.fromkeys(packs)), batches


@dataclass(frozen=True)
class PackFact:
    id: int
    gtin: str
    serial: str
    batch: str
    expiry: object
    state: str
    location_id: int | None
    shipment_id: int | None
    recalled: bool = False


def pack_facts(uow: UnitOfWork, packs: list[PackLine]) -> dict[tuple[str, str], PackFact]:
    s = uow.session
    keys = list(dict.fromkeys((p.gtin, p.serial) for p in packs))
    found: dict[tuple[str, str], PackFact] = {}
    for i in range(0, len(keys), 500):
        for row in s.execute(
                select(Pack.id, Pack.gtin, Pack.serial, Batch.batch, Batch.expiry, Pack.state, Pack.location_id,
                       Pack.shipment_id, Batch.recalled_at.is_not(None)).join(Batch, Batch.id == Pack.batch_id)
                .where(tuple_(Pack.gtin, Pack.serial).in_(keys[i:i + 500]))):
            found[(row.gtin, row.serial)] = PackFact(*row)
    return found


def pack_problems(facts: dict[tuple[str, str], PackFact], packs: list[PackLine], location_id: int) -> list[dict]:
    """Why packs cannot leave this location's stock: custody, transit, state. Recalled and expired packs
    may (a write-off destroys them, a return takes them back up the chain)."""
    problems = []
    for p in packs:
        f = facts.get((p.gtin, p.serial))
        where = {"gtin": p.gtin, "serial": p.serial}
        if f is None:
            problems.append({**where, "code": "UNKNOWN_PACK", "detail": f"{p.gtin} / {p.serial}: no such pack."})
        elif f.location_id != location_id:
            problems.append({**where, "code": "NOT_IN_CUSTODY",
                             "detail": f"{p.gtin} / {p.serial}: the pack is held by another location."})
        elif f.shipment_id is not None:
            problems.append({**where, "code": "PACK_IN_TRANSIT",
                             "detail": f"{p.gtin} / {p.serial}: the pack is in transit on a shipment."})
        elif f.state != PackState.ACTIVE.value:
            problems.append({**where, "code": "PACK_NOT_ACTIVE", "state": f.state,
                             "detail": f"{p.gtin} / {p.serial}: the pack is already {f.state.lower()}."})
    return problems


def batch_problems(held: dict, location_id: int, wanted: dict[tuple[str, str], int]) -> list[dict]:
    """Why quantities cannot leave this location's stock: no such batch, serialized, not enough."""
    problems = []
    for (gtin, batch), n in wanted.items():
        row: Held | None = held.get((location_id, gtin, batch))
        where = {"gtin": gtin, "batch": batch, "wanted": n}
        if row is not None and row.serialized:
            problems.append({**where, "code": "SERIALIZED_STOCK",
                             "detail": f"Batch {batch} of {gtin} is serialized: scan its packs."})
        elif row is None or row.quantity < n:
            on_hand = row.quantity if row is not None else 0
            problems.append({**where, "code": "INSUFFICIENT_STOCK", "on_hand": on_hand,
                             "detail": f"Only {on_hand} of batch {batch} ({gtin}) on hand; {n} wanted."})
    return problems


def read_balances(uow: UnitOfWork, location_id: int, keys: list[tuple[str, str]]) -> dict:
    """The balance rows of these batches here, unlocked (a draft's advisory check)."""
    b = BALANCES.c
    out = {}
    for gtin, batch in sorted(set(keys)):
        row = uow.session.execute(select(b.id, b.quantity, b.value, b.expiry, b.expiry_raw, b.serialized).where(
            b.location_id == location_id, b.gtin == gtin, b.batch == batch)).first()
        if row is not None:
            out[(location_id, gtin, batch)] = Held(*row)
    return out


def add_wanted(wanted: dict[tuple[str, str], int], lines) -> dict[tuple[str, str], int]:
    """Quantities per batch of the quantity lines (existing lines plus new ones)."""
    for line in lines:
        if getattr(line, "serial", None) is None:
            wanted[(line.gtin, line.batch)] = wanted.get((line.gtin, line.batch), 0) + line.quantity
    return wanted


def load(uow: UnitOfWork, model, doc_id: int, what: str, lock: bool = False):
    """A document by id (``what`` names it in the refusal: "write-off act"); ``lock``: for update."""
    stmt = select(model).where(model.id == doc_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    doc = uow.session.scalars(stmt).one_or_none()
    if doc is None:
        raise NotFound(f"No {what} with id {doc_id}.")
    return doc


def require_draft(doc, what: str) -> None:
    """Only a draft takes lines, loses them, or is confirmed or sent."""
    if doc.status != "DRAFT":
        raise NotDraft(f"{what} {doc.number} is {doc.status.lower()}.", state=doc.status)


MAX_LINES = 2000


@dataclass
class NewLines:
    """What a draft document is about to take: the packs not on it yet with their facts, the batch
    rows read, and why any of them cannot be taken (packs' and batches' refusals apart, so that a
    document adds its own between them)."""

    packs: list[PackLine]
    facts: dict
    held: dict
    pack_problems: list[dict]
    batch_problems: list[dict]


def check_new_lines(uow: UnitOfWork, doc, packs: list[PackLine], batches: list[BatchLine], what: str) -> NewLines:
    """The shared checks of adding lines to a draft (``what``: "An act", "A return")."""
    on = {(line.gtin, line.serial) for line in doc.lines if line.serial is not None}
    packs = [p for p in packs if (p.gtin, p.serial) not in on]
    if len(doc.lines) + len(packs) + len(batches) > MAX_LINES:
        raise ValidationFailed({"lines": [f"{what} holds at most {MAX_LINES} lines."]})
    facts = pack_facts(uow, packs)
    wanted = add_wanted(add_wanted({}, doc.lines), batches)
    new_keys = {(b.gtin, b.batch) for b in batches}
    held = read_balances(uow, doc.location_id, list(new_keys))
    return NewLines(packs, facts, held, pack_problems(facts, packs, doc.location_id),
                    batch_problems(held, doc.location_id, {k: n for k, n in wanted.items() if k in new_keys}))


def append_lines(doc, line_class, packs: list[PackLine], facts: dict, batches: list[BatchLine], held: dict,
                 pack_extra=lambda fact: {}, batch_extra=lambda row: {}) -> None:
    """Put checked packs and batches on a draft document's lines: a pack is a line of one; a batch
    already on the document adds up. ``pack_extra`` / ``batch_extra``: the line class's own columns."""
    for p in packs:
        f = facts[(p.gtin, p.serial)]
        doc.lines.append(line_class(gtin=p.gtin, serial=p.serial, batch=f.batch, expiry=f.expiry, quantity=1,
                                    **pack_extra(f)))
    existing = {(line.gtin, line.batch): line for line in doc.lines if line.serial is None}
    for b in batches:
        if (b.gtin, b.batch) in existing:
            existing[(b.gtin, b.batch)].quantity += b.quantity
            continue
        row = held[(doc.location_id, b.gtin, b.batch)]
        existing[(b.gtin, b.batch)] = line = line_class(gtin=b.gtin, batch=b.batch, expiry=row.expiry,
                                                        quantity=b.quantity, **batch_extra(row))
        doc.lines.append(line)


def audit_lines(uow: UnitOfWork, action: str, object_type: str, doc, packs: list[PackLine],
                batches: list[BatchLine]) -> None:
    uow.audit(action, object_type, doc.id,
              {"number": doc.number, "packs": [f"{p.gtin}/{p.serial}" for p in packs][:100],
               "batches": [{"gtin": b.gtin, "batch": b.batch, "quantity": b.quantity} for b in batches][:100]},
              count=len(packs) + len(batches))


def remove_line(uow: UnitOfWork, doc, line_id: int, what: str, action: str, object_type: str) -> None:
    """Take a line off a draft document (``what`` names it in the refusal: "Write-off act WO-...")."""
    line = next((line for line in doc.lines if line.id == line_id), None)
    if line is None:
        raise NotFound(f"{what} {doc.number} has no line {line_id}.")
    doc.lines.remove(line)
    uow.audit(action, object_type, doc.id, {"number": doc.number, "gtin": line.gtin, "serial": line.serial,
                                            "batch": line.batch, "quantity": line.quantity})


def line_dict(line) -> dict:
    return {"id": line.id, "gtin": line.gtin, "serial": line.serial, "batch": line.batch, "expiry": line.expiry,
            "quantity": line.quantity, "serialized": line.serial is not None}
