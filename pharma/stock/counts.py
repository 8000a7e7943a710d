"""Stock counts: a location's shelves counted against a snapshot of its books, approved by the head
pharmacist, posted in one transaction, and the findings the regulator reviews.

The flow: ``open_count`` snapshots every batch on hand (expected quantity, serialized or not) and,
for serialized batches, the packs expected (ACTIVE, in custody here, not on a shipment). Pharmacists
``record_lines``: serialized packs by scanning (the verification parser reads every raw scan; a pack
scanned twice counts once), other batches by entering the counted quantity or by scanning their
EAN-13 once per unit; batches not in the snapshot may be added (a surplus). ``submit_count``, then
the head pharmacist of the organisation ``approve_count`` (posts) or ``return_count`` (back to
OPEN); a count in progress may be cancelled.

**The posting rule** (stock moving while the count is open, e.g. sales at the till):

* Batches kept by quantity: the difference is ``counted - expected at opening``. It is posted as an
  ADJUSTMENT (reason SURPLUS or SHORTAGE, document ("count", number)) onto the balance as it is at
  approval, so sales and receipts recorded while the count was open stay as they are and produce no
  false difference, provided a unit sold during the count was sold after its shelf was counted (the
  counted figure is the shelf at opening). A difference that would drive the current balance below
  zero refuses the approval with COUNT_BELOW_ZERO (the count is returned and recounted); nothing
  is posted.
* Serialized packs: a pack is missing when it was expected, was not scanned, and is still ACTIVE in
  custody here at approval (a pack sold or shipped during the count is not missing). Missing packs
  are decommissioned as STOLEN through the trace act (``pharma.trace.movements.decommission``), so
  the trace listener posts their ledger movement and custody and stock stay in step. A pack scanned
  but not ours at approval (unknown, held elsewhere, in transit, inactive) is a surplus pack: it is
  not put on the books, it becomes a finding. A pack that arrived during the count and was scanned
  is simply ours.
* Every missing pack, surplus pack, shortage and surplus becomes a finding (NEW) for the regulator.

Two head pharmacists approving at once: both lock the count row; the second finds it APPROVED and
is refused with COUNT_CLOSED.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import and_, bindparam, case, func, insert, literal, or_, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError

from pharma.parties.models import Location
from pharma.parties.policy import authorize, scoped_org
from pharma.register.models import Product, ProductGtin
from pharma.shared.errors import InvalidIdentifier, NotFound, RuleViolation, ValidationFailed
from pharma.shared.schemas import Page
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.counts_models import StockCount, StockCountFinding, StockCountLine, StockCountPack
from pharma.stock.domain import Kind, Move, ProductNotRegistered, Reason, SerializedStock, expiry_raw_of
from pharma.stock.ledger import BALANCES, lock_balances, post
from pharma.trace.models import Batch, Pack
from pharma.trace.scans import CommissionedPacks

DOCUMENT = "count"
MAX_LISTED_PACKS = 500
LINES = StockCountLine.__table__
PACKS = StockCountPack.__table__
FINDINGS = StockCountFinding.__table__
BULK_ROWS = 50
UNNEST_CHUNK = 10_000


# ---------------------------------------------------------------- domain


class CountState(StrEnum):
    OPEN = "OPEN"
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    CANCELLED = "CANCELLED"


class FindingKind(StrEnum):
    MISSING_PACK = "MISSING_PACK"
    SURPLUS_PACK = "SURPLUS_PACK"
    SHORTAGE = "SHORTAGE"
    SURPLUS = "SURPLUS"


class FindingStatus(StrEnum):
    NEW = "NEW"
    REVIEWED = "REVIEWED"


class PackProblem(StrEnum):
    """Why a scanned pack is not on this location's books."""

    UNKNOWN_PACK = "UNKNOWN_PACK"
    NOT_IN_CUSTODY = "NOT_IN_CUSTODY"
    PACK_IN_TRANSIT = "PACK_IN_TRANSIT"
    INACTIVE = "INACTIVE"


class CountAlreadyOpen(RuleViolation):
    code = "COUNT_ALREADY_OPEN"
    title = "A count is already in progress at this location"


class CountNotOpen(RuleViolation):
    code = "COUNT_NOT_OPEN"
    title = "The count is not open for counting"


class CountNotSubmitted(RuleViolation):
    code = "COUNT_NOT_SUBMITTED"
    title = "The count has not been submitted for approval"


class CountClosed(RuleViolation):
    code = "COUNT_CLOSED"
    title = "The count is already approved or cancelled"


class CountIncomplete(RuleViolation):
    code = "COUNT_INCOMPLETE"
    title = "Some batches have not been counted"


class CountBelowZero(RuleViolation):
    code = "COUNT_BELOW_ZERO"
    title = "Posting the count would drive stock below zero"


class OutOfScope(RuleViolation):
    code = "COUNT_OUT_OF_SCOPE"
    title = "The product is not part of this count"


class BatchRequired(ValidationFailed):
    code = "BATCH_REQUIRED"
    title = "Name the batch"


class ExpiryRequired(ValidationFailed):
    code = "EXPIRY_REQUIRED"
    title = "Give the batch's expiry"


# act -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[CountState], CountState]] = {
    "submit": (frozenset({CountState.OPEN}), CountState.SUBMITTED),
    "approve": (frozenset({CountState.SUBMITTED}), CountState.APPROVED),
    "return": (frozenset({CountState.SUBMITTED}), CountState.OPEN),
    "cancel": (frozenset({CountState.OPEN, CountState.SUBMITTED}), CountState.CANCELLED),
}


def transition(state: str, act: str) -> CountState:
    """The state ``act`` leads to from ``state``; refuses an act the state does not allow."""
    starts, to = TRANSITIONS[act]
    if CountState(state) in starts:
        return to
    if state in (CountState.APPROVED, CountState.CANCELLED):
        raise CountClosed(f"The count is {state.lower()}; it can no longer change.")
    if CountState.SUBMITTED in starts:
        raise CountNotSubmitted(f"The count is {state.lower()}; submit it first.")
    raise CountNotOpen(f"The count is {state.lower()}; it is no longer open for counting.")


def require_open(state: str) -> None:
    if state != CountState.OPEN:
        if state in (CountState.APPROVED, CountState.CANCELLED):
            raise CountClosed(f"The count is {state.lower()}; it can no longer change.")
        raise CountNotOpen(f"The count is {state.lower()}; ask the head pharmacist to return it to count again.")


def adjustment(expected: int, counted: int) -> tuple[int, Reason | None]:
    """The movement a counted batch kept by quantity posts: ``counted - expected`` as SURPLUS or
    SHORTAGE (0: none)."""
    delta = counted - expected
    if delta > 0:
        return delta, Reason.SURPLUS
    if delta < 0:
        return delta, Reason.SHORTAGE
    return 0, None


def pack_problem(location_id: int, known: bool, state: str | None, pack_location_id: int | None,
                 shipment_id: int | None) -> PackProblem | None:
    """None when the pack is on this location's books (ACTIVE, in custody here, not travelling);
    else why it is not."""
    if not known:
        return PackProblem.UNKNOWN_PACK
    if state != "ACTIVE":
        return PackProblem.INACTIVE
    if pack_location_id != location_id:
        return PackProblem.NOT_IN_CUSTODY
    if shipment_id is not None:
        return PackProblem.PACK_IN_TRANSIT
    return None


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class OpenCount:
    location_id: int
    gtins: tuple[str, ...] = ()  # GTIN-14s; empty: the whole location
    note: str = ""


@dataclass(frozen=True)
class CountedLine:
    """A batch kept by quantity, counted: ``counted`` replaces what was entered before."""

    gtin: str
    batch: str
    counted: int
    expiry: date | None = None  # needed only for a batch the location has never kept


@dataclass(frozen=True)
class CountScan:
    """One raw scan: a serialized pack, or a product without serials (+1 unit of ``batch``, or of
    the batch the code carries, or of the only batch of that GTIN in the count)."""

    raw: str
    batch: str | None = None


@dataclass(frozen=True)
class RecordLines:
    lines: tuple[CountedLine, ...] = ()
    scans: tuple[CountScan, ...] = ()


@dataclass(frozen=True)
class CountQuery:
    location_id: int | None = None
    status: str | None = None
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class FindingQuery:
    location_id: int | None = None
    region: str | None = None
    kind: str | None = None
    status: str | None = None
    count_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    page: int = 1
    per_page: int = 50


@dataclass
class Recorded:
    count: dict
    outcomes: list[dict] = field(default_factory=list)


# ---------------------------------------------------------------- helpers

_LOCATION = select(Location.id, Location.organisation_id, Location.name, Location.gln, Location.region).where(
    Location.id == bindparam("id"))


def _location(uow: UnitOfWork, location_id: int, action: str):
    loc = uow.session.execute(_LOCATION, {"id": location_id}).first()
    if loc is None:
        raise NotFound(f"No location with id {location_id}.")
    authorize(uow.actor, action, loc.organisation_id)
    return loc


def _lock_count(uow: UnitOfWork, count_id: int, action: str) -> StockCount:
    """The count, its row locked (acts on one count queue up), once the actor may do ``action``."""
    count = uow.session.scalars(select(StockCount).where(StockCount.id == count_id).with_for_update()
                                .execution_options(populate_existing=True)).one_or_none()
    if count is None:
        raise NotFound(f"No stock count with id {count_id}.")
    authorize(uow.actor, action, count.organisation_id)
    return count


def _postgres(uow: UnitOfWork) -> bool:
    return uow.session.get_bind().dialect.name == "postgresql"


def _in_scope(count: StockCount, gtin: str) -> None:
    if count.gtins and gtin not in count.gtins:
        raise OutOfScope(f"{gtin} is not one of the products this count covers.")


def _why(note: str, required: bool) -> str:
    why = (note or "").strip()
    if required and not 3 <= len(why) <= 500:
        raise ValidationFailed({"note": ["Say why, in 3 to 500 characters."]})
    if len(why) > 500:
        raise ValidationFailed({"note": ["At most 500 characters."]})
    return why


def header(uow: UnitOfWork, count: StockCount) -> dict:
    """The count's own fields, its location and its progress."""
    s = uow.session
    loc = s.execute(_LOCATION, {"id": count.location_id}).one()
    lines = s.execute(select(
        func.count(), func.count(LINES.c.counted),
        func.coalesce(func.sum(LINES.c.expected), 0), func.coalesce(func.sum(LINES.c.counted), 0),
        func.coalesce(func.sum(case((LINES.c.counted != LINES.c.expected, 1), else_=0)), 0),
        func.coalesce(func.sum(case((LINES.c.counted.is_(None), 0),
                                    else_=func.abs(LINES.c.counted - LINES.c.expected))), 0),
    ).where(LINES.c.count_id == count.id)).one()
    packs = s.execute(select(
        func.coalesce(func.sum(case((PACKS.c.expected, 1), else_=0)), 0),
        func.coalesce(func.sum(case((PACKS.c.scanned, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(PACKS.c.expected, ~PACKS.c.scanned), 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(PACKS.c.scanned, ~PACKS.c.expected, PACKS.c.problem.is_not(None)), 1),
                                    else_=0)), 0),
    ).where(PACKS.c.count_id == count.id)).one()
    return {
        "id": count.id, "number": count.number, "status": count.status, "location_id": count.location_id,
        "location_name": loc.name, "location_gln": loc.gln, "organisation_id": count.organisation_id,
        "gtins": count.gtins or [], "note": count.note, "opened_at": count.opened_at, "opened_by": count.opened_by,
        "submitted_at": count.submitted_at, "submitted_by": count.submitted_by, "decided_at": count.decided_at,
        "decided_by": count.decided_by, "decision_note": count.decision_note, "result": count.result,
        "summary": {"lines": lines[0], "lines_counted": lines[1], "lines_uncounted": lines[0] - lines[1],
                    "units_expected": int(lines[2]), "units_counted": int(lines[3]),
                    "lines_with_difference": int(lines[4]), "units_different": int(lines[5]),
                    "packs_expected": int(packs[0]), "packs_scanned": int(packs[1]),
                    "packs_not_scanned": int(packs[2]), "packs_not_ours": int(packs[3])},
    }


# ---------------------------------------------------------------- opening


def open_count(uow: UnitOfWork, cmd: OpenCount) -> dict:
    """Open a count at a location: snapshot every batch on hand and every serialized pack in custody
    (ACTIVE, not on a shipment), optionally only of some GTINs. One count in progress per location."""
    authorize(uow.actor, "stock.count.write")
    note = _why(cmd.note, required=False)
    gtins = sorted(set(cmd.gtins))
    with uow:
        s = uow.session
        loc = _location(uow, cmd.location_id, "stock.count.write")
        busy = s.scalar(select(StockCount.number).where(
            StockCount.location_id == loc.id, StockCount.status.in_([CountState.OPEN, CountState.SUBMITTED])))
        if busy is not None:
            raise CountAlreadyOpen(f"Count {busy} is still in progress at {loc.name}; finish or cancel it first.")
        now = utcnow()
        count = StockCount(number=f"NEW-{now.timestamp():.6f}"[:24], location_id=loc.id,
                           organisation_id=loc.organisation_id, status=CountState.OPEN.value, gtins=gtins or None,
                           note=note, opened_at=now, opened_by=uow.actor.user_id)
        s.add(count)
        try:
            s.flush()
        except IntegrityError:
            raise CountAlreadyOpen(f"Another count was opened at {loc.name} just now.") from None
        count.number = f"CNT-{count.id:06d}"
        b = BALANCES.c
        where = [b.location_id == loc.id, b.quantity > 0, *([b.gtin.in_(gtins)] if gtins else [])]
        # serialized lines are counted by their scanned packs: nothing scanned yet is 0 found
        s.execute(insert(LINES).from_select(
            ["count_id", "gtin", "batch", "expiry", "expiry_raw", "serialized", "expected", "counted"],
            select(literal(count.id), b.gtin, b.batch, b.expiry, b.expiry_raw, b.serialized, b.quantity,
                   case((b.serialized, 0), else_=None)).where(*where)))
        s.execute(insert(PACKS).from_select(
            ["count_id", "gtin", "serial", "batch", "pack_id", "expected", "scanned"],
            select(literal(count.id), Pack.gtin, Pack.serial, Batch.batch, Pack.id, literal(True), literal(False))
            .join(Batch, Batch.id == Pack.batch_id)
            .where(Pack.location_id == loc.id, Pack.state == "ACTIVE", Pack.shipment_id.is_(None),
                   *([Pack.gtin.in_(gtins)] if gtins else []))))
        count.expected_lines, count.expected_units = s.execute(
            select(func.count(), func.coalesce(func.sum(LINES.c.expected), 0)).where(LINES.c.count_id == count.id)
        ).one()
        count.expected_packs = s.scalar(select(func.count()).select_from(PACKS).where(PACKS.c.count_id == count.id))
        s.flush()
        uow.audit("stock.count.open", "stock_count", count.id,
                  {"number": count.number, "location_id": loc.id, "gtins": gtins, "lines": count.expected_lines,
                   "units": count.expected_units, "packs": count.expected_packs})
        view = header(uow, count)
        uow.commit()
    return view


# ---------------------------------------------------------------- counting


def _parse(scan: CountScan, index: int, known):
    from pharma.verify.parser import ScanRefused, parse_scan

    try:
        try:
            parsed = parse_scan(scan.raw)
        except ScanRefused:  # the records settle what the data alone cannot; a clean scan asks none
            parsed = parse_scan(scan.raw, known=known)
    except InvalidIdentifier as exc:
        raise ValidationFailed({f"scans.{index}": [exc.message]}, detail=exc.message) from None
    if parsed.kind == "CASE":
        raise ValidationFailed({f"scans.{index}": ["Scan the packs in the case, not the case."]})
    return parsed


def record_lines(uow: UnitOfWork, count_id: int, cmd: RecordLines) -> Recorded:
    """Record counted batches and scans on an open count: entered quantities replace, each EAN-13
    scan adds one unit, each pack scan marks the pack counted (once). All or nothing."""
    authorize(uow.actor, "stock.count.write")
    if not cmd.lines and not cmd.scans:
        raise ValidationFailed({"lines": ["Enter a counted batch or scan a pack."]})
    parsed = []
    errors: dict[str, list[str]] = {}
    known = CommissionedPacks(uow.session)  # settles a pack scan whose GS the scanner dropped
    for i, scan in enumerate(cmd.scans):
        try:
            parsed.append(_parse(scan, i, known))
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors, detail="Some scans cannot be read; nothing was recorded.")
    with uow:
        count = _lock_count(uow, count_id, "stock.count.write")
        require_open(count.status)
        now = utcnow()
        outcomes: list[dict | None] = [None] * len(cmd.scans)
        pack_scans = [(i, p) for i, p in enumerate(parsed) if p.kind == "PACK"]
        unit_scans = [(i, p) for i, p in enumerate(parsed) if p.kind != "PACK"]
        for gtin in {line.gtin for line in cmd.lines} | {p.gtin for p in parsed}:
            _in_scope(count, gtin)
        lines = _lines_of(uow, count.id, {line.gtin for line in cmd.lines} | {p.gtin for _, p in unit_scans})
        new_lines: dict[tuple[str, str], dict] = {}
        values: dict[tuple[str, str], int] = {}  # counted after this request, per batch kept by quantity

        def target(gtin: str, lot: str, expiry: date | None, where: str) -> tuple[str, str]:
            key = (gtin, lot)
            row = lines.get(key)
            if row is not None and row["serialized"]:
                raise SerializedStock(f"Batch {lot} of {gtin} is serialized: scan its packs.")
            if row is None and key not in new_lines:
                new_lines[key] = _new_line(uow, count.location_id, gtin, lot, expiry, where)
            return key

        for i, line in enumerate(cmd.lines):
            key = target(line.gtin, line.batch, line.expiry, f"lines.{i}")
            values[key] = line.counted
        for i, p in unit_scans:
            lot = p.batch or cmd.scans[i].batch or _only_batch(lines, p.gtin, i)
            key = target(p.gtin, lot, p.expiry.date if p.expiry else None, f"scans.{i}")
            current = values.get(key, (lines.get(key) or {}).get("counted") or 0)
            values[key] = current + 1
            outcomes[i] = {"index": i, "kind": "UNIT", "gtin": p.gtin, "batch": lot, "serial": None,
                           "outcome": "COUNTED", "counted": values[key], "problem": None}
        _write_lines(uow, count.id, lines, new_lines, values, now)
        for i, outcome in _scan_packs(uow, count, pack_scans, now):
            outcomes[i] = outcome
        uow.audit("stock.count.record", "stock_count", count.id,
                  {"number": count.number, "lines": len(cmd.lines), "scans": len(cmd.scans)},
                  count=len(cmd.lines) + len(cmd.scans))
        view = header(uow, count)
        uow.commit()
    return Recorded(view, [o for o in outcomes if o is not None])


def _lines_of(uow: UnitOfWork, count_id: int, gtins: set[str]) -> dict[tuple[str, str], dict]:
    if not gtins:
        return {}
    rows = uow.session.execute(select(LINES.c.id, LINES.c.gtin, LINES.c.batch, LINES.c.serialized, LINES.c.counted)
                               .where(LINES.c.count_id == count_id, LINES.c.gtin.in_(sorted(gtins))))
    return {(r.gtin, r.batch): r._asdict() for r in rows}


def _only_batch(lines: dict, gtin: str, index: int) -> str:
    lots = sorted(batch for (g, batch), row in lines.items() if g == gtin and not row["serialized"])
    if len(lots) == 1:
        return lots[0]
    if not lots:
        raise BatchRequired({f"scans.{index}": [f"No batch of {gtin} is in this count: name the batch."]},
                            detail=f"Name the batch of {gtin}.")
    raise BatchRequired({f"scans.{index}": [f"{gtin} is kept in batches {', '.join(lots[:10])}: name the batch."]},
                        detail=f"{gtin} is kept in several batches here: name the batch.")


def _new_line(uow: UnitOfWork, location_id: int, gtin: str, lot: str, expiry: date | None, where: str) -> dict:
    """A batch found that was not on the books at opening: registered product, not serialized, and
    its expiry from the location's balance row (or given)."""
    s = uow.session
    if s.scalar(select(ProductGtin.gtin).where(ProductGtin.gtin == gtin)) is None:
        raise ProductNotRegistered(f"GTIN {gtin} is not in the product register.", gtins=[gtin])
    if s.scalar(select(Batch.id).where(Batch.gtin == gtin, Batch.batch == lot)) is not None:
        raise SerializedStock(f"Batch {lot} of {gtin} is serialized: scan its packs.")
    b = BALANCES.c
    kept = s.execute(select(b.expiry, b.expiry_raw, b.serialized).where(
        b.location_id == location_id, b.gtin == gtin, b.batch == lot)).first()
    if kept is not None:
        if kept.serialized:
            raise SerializedStock(f"Batch {lot} of {gtin} is serialized: scan its packs.")
        return {"expiry": kept.expiry, "expiry_raw": kept.expiry_raw}
    if expiry is None:
        raise ExpiryRequired({where: [f"Batch {lot} of {gtin} is new here: give its expiry."]},
                             detail=f"Batch {lot} of {gtin} is new here: give its expiry.")
    return {"expiry": expiry, "expiry_raw": expiry_raw_of(expiry)}


def _write_lines(uow: UnitOfWork, count_id: int, lines: dict, new_lines: dict, values: dict, now: datetime) -> None:
    s = uow.session
    inserts = [{"count_id": count_id, "gtin": k[0], "batch": k[1], "expiry": v["expiry"],
                "expiry_raw": v["expiry_raw"], "serialized": False, "expected": 0, "counted": values[k],
                "counted_at": now} for k, v in new_lines.items()]
    updates = [{"line_id": lines[k]["id"], "v": v} for k, v in values.items() if k in lines]
    if inserts:
        s.execute(insert(LINES), inserts)
    if not updates:
        return
    if len(updates) >= BULK_ROWS and _postgres(uow):
        for start in range(0, len(updates), UNNEST_CHUNK):
            part = updates[start:start + UNNEST_CHUNK]
            s.execute(text(
                "UPDATE stock_count_lines AS l SET counted = d.v, counted_at = :now "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:vs AS integer[])) AS d(id, v) WHERE l.id = d.id"
            ).bindparams(bindparam("now", type_=LINES.c.counted_at.type)),
                {"ids": [u["line_id"] for u in part], "vs": [u["v"] for u in part], "now": now})
        return
    s.execute(update(LINES).where(LINES.c.id == bindparam("line_id"))
              .values(counted=bindparam("v"), counted_at=now), updates)


def _scan_packs(uow: UnitOfWork, count: StockCount, scans: list, now: datetime) -> list[tuple[int, dict]]:
    """Mark scanned packs; a pack not expected gets a row with its problem (None: ours, e.g. received
    during the count). A pack's first scan adds one to its batch's counted line when it is ours."""
    if not scans:
        return []
    s = uow.session
    keys = sorted({(p.gtin, p.serial) for _, p in scans})
    have: dict[tuple[str, str], dict] = {}
    known: dict[tuple[str, str], dict] = {}
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        for r in s.execute(select(PACKS.c.id, PACKS.c.gtin, PACKS.c.serial, PACKS.c.batch, PACKS.c.expected,
                                  PACKS.c.scanned, PACKS.c.problem)
                           .where(PACKS.c.count_id == count.id, tuple_(PACKS.c.gtin, PACKS.c.serial).in_(part))):
            have[(r.gtin, r.serial)] = r._asdict()
        for r in s.execute(select(Pack.id, Pack.gtin, Pack.serial, Pack.state, Pack.location_id, Pack.shipment_id,
                                  Batch.batch, Batch.expiry, Batch.expiry_raw)
                           .join(Batch, Batch.id == Pack.batch_id).where(tuple_(Pack.gtin, Pack.serial).in_(part))):
            known[(r.gtin, r.serial)] = r._asdict()
    out: list[tuple[int, dict]] = []
    first: dict[tuple[str, str], PackProblem | None] = {}  # packs scanned in this request: their problem
    new_rows, rescan_ids = [], []
    counted = defaultdict(int)  # (gtin, batch) -> packs of ours scanned for the first time
    batch_of: dict[tuple[str, str], dict] = {}
    for i, p in scans:
        key = (p.gtin, p.serial)
        row, rec = have.get(key), known.get(key)
        batch = rec["batch"] if rec else p.batch
        if key in first or (row is not None and row["scanned"]):
            problem = first[key] if key in first else row["problem"]
            out.append((i, _outcome(i, p, batch, "ALREADY_COUNTED", problem)))
            continue
        if row is not None and row["expected"]:
            problem = None
        else:
            problem = pack_problem(count.location_id, rec is not None, rec and rec["state"],
                                   rec and rec["location_id"], rec and rec["shipment_id"])
        first[key] = problem
        if row is not None:
            rescan_ids.append(row["id"])
        else:
            new_rows.append({"count_id": count.id, "gtin": p.gtin, "serial": p.serial, "batch": batch,
                             "pack_id": rec["id"] if rec else None, "expected": False, "scanned": True,
                             "scanned_at": now, "problem": problem.value if problem else None})
        if problem is None:
            counted[(p.gtin, batch)] += 1
            batch_of[(p.gtin, batch)] = rec
        out.append((i, _outcome(i, p, batch, "COUNTED" if problem is None else "NOT_OURS", problem)))
    if rescan_ids:
        s.execute(update(PACKS).where(PACKS.c.id == bindparam("pid")).values(scanned=True, scanned_at=now),
                  [{"pid": pid} for pid in rescan_ids])
    if new_rows:
        s.execute(insert(PACKS), new_rows)
    if counted:
        lines = _lines_of(uow, count.id, {g for g, _ in counted})
        fresh = [{"count_id": count.id, "gtin": g, "batch": lot, "expiry": batch_of[(g, lot)]["expiry"],
                  "expiry_raw": batch_of[(g, lot)]["expiry_raw"], "serialized": True, "expected": 0, "counted": n,
                  "counted_at": now} for (g, lot), n in counted.items() if (g, lot) not in lines]
        bumps = [{"line_id": lines[k]["id"], "n": n} for k, n in counted.items() if k in lines]
        if fresh:
            s.execute(insert(LINES), fresh)
        if bumps:
            s.execute(update(LINES).where(LINES.c.id == bindparam("line_id"))
                      .values(counted=func.coalesce(LINES.c.counted, 0) + bindparam("n"), counted_at=now), bumps)
    return out


def _outcome(i: int, p, batch: str | None, outcome: str, problem) -> dict:
    return {"index": i, "kind": "PACK", "gtin": p.gtin, "serial": p.serial, "batch": batch, "outcome": outcome,
            "counted": None, "problem": problem.value if isinstance(problem, PackProblem) else problem}


# ---------------------------------------------------------------- submitting, approving, returning, cancelling


def submit_count(uow: UnitOfWork, count_id: int, uncounted_as_zero: bool = False) -> dict:
    """Submit an open count for approval. Every batch kept by quantity must have been counted, or
    ``uncounted_as_zero`` says that the uncounted ones were not found (counted 0)."""
    authorize(uow.actor, "stock.count.write")
    with uow:
        s = uow.session
        count = _lock_count(uow, count_id, "stock.count.write")
        to = transition(count.status, "submit")
        uncounted = LINES.c.count_id == count.id, LINES.c.counted.is_(None)
        if uncounted_as_zero:
            s.execute(update(LINES).where(*uncounted).values(counted=0, counted_at=utcnow()))
        else:
            missing = s.execute(select(LINES.c.gtin, LINES.c.batch).where(*uncounted)
                                .order_by(LINES.c.gtin, LINES.c.batch).limit(100)).all()
            if missing:
                total = s.scalar(select(func.count()).select_from(LINES).where(*uncounted))
                raise CountIncomplete(
                    f"{total} batches have not been counted, e.g. {missing[0].batch} of {missing[0].gtin}. "
                    "Count them, or submit with uncounted batches as not found.",
                    uncounted=total, batches=[{"gtin": r.gtin, "batch": r.batch} for r in missing])
        count.status = to.value
        count.submitted_at, count.submitted_by = utcnow(), uow.actor.user_id
        s.flush()
        uow.audit("stock.count.submit", "stock_count", count.id,
                  {"number": count.number, "uncounted_as_zero": uncounted_as_zero})
        view = header(uow, count)
        uow.commit()
    return view


def return_count(uow: UnitOfWork, count_id: int, note: str) -> dict:
    """The head pharmacist sends a submitted count back for recounting."""
    authorize(uow.actor, "stock.count.approve")
    why = _why(note, required=True)
    return _decide(uow, count_id, "return", "stock.count.approve", why)


def cancel_count(uow: UnitOfWork, count_id: int, note: str) -> dict:
    """Cancel a count in progress: nothing is posted."""
    authorize(uow.actor, "stock.count.write")
    why = _why(note, required=True)
    return _decide(uow, count_id, "cancel", "stock.count.write", why)


def _decide(uow: UnitOfWork, count_id: int, act: str, action: str, why: str) -> dict:
    with uow:
        count = _lock_count(uow, count_id, action)
        count.status = transition(count.status, act).value
        count.decided_at, count.decided_by, count.decision_note = utcnow(), uow.actor.user_id, why
        uow.session.flush()
        uow.audit(f"stock.count.{act}", "stock_count", count.id, {"number": count.number, "note": why})
        view = header(uow, count)
        uow.commit()
    return view


def approve_count(uow: UnitOfWork, count_id: int) -> dict:
    """The head pharmacist approves a submitted count and it is posted, all or nothing: shortages and
    surpluses of batches kept by quantity as ADJUSTMENT movements, missing serialized packs
    decommissioned as STOLEN through trace, and every difference recorded as a finding."""
    authorize(uow.actor, "stock.count.approve")
    with uow:
        s = uow.session
        count = _lock_count(uow, count_id, "stock.count.approve")
        transition(count.status, "approve")
        now = utcnow()
        missing = _decommission_missing(uow, count)
        moves = _post_differences(uow, count, now)
        surplus = _surplus_packs(uow, count)
        findings = _record_findings(uow, count, missing, surplus, now)
        count.status = CountState.APPROVED.value
        count.decided_at, count.decided_by = now, uow.actor.user_id
        count.result = {"movements": len(moves),
                        "surplus_units": sum(m.quantity for m in moves if m.quantity > 0),
                        "shortage_units": -sum(m.quantity for m in moves if m.quantity < 0),
                        "missing_packs": len(missing), "surplus_packs": len(surplus), "findings": findings}
        s.flush()
        uow.audit("stock.count.approve", "stock_count", count.id, {"number": count.number, **count.result})
        view = header(uow, count)
        uow.commit()
    return view


def _decommission_missing(uow: UnitOfWork, count: StockCount) -> list[dict]:
    """Expected packs not scanned and still ours now: decommissioned as STOLEN by the trace act."""
    from pharma.trace.movements import Decommission, PackRef, decommission

    rows = [r._asdict() for r in uow.session.execute(
        select(PACKS.c.gtin, PACKS.c.serial, PACKS.c.batch).join(Pack, Pack.id == PACKS.c.pack_id)
        .where(PACKS.c.count_id == count.id, PACKS.c.expected, ~PACKS.c.scanned, Pack.state == "ACTIVE",
               Pack.location_id == count.location_id, Pack.shipment_id.is_(None))
        .order_by(PACKS.c.gtin, PACKS.c.serial))]
    if rows:
        decommission(uow.enlisted(), Decommission(
            count.location_id, tuple(PackRef(r["gtin"], r["serial"]) for r in rows), "STOLEN",
            note=f"Missing at stock count {count.number}", document=count.number, document_type=DOCUMENT))
    return rows


def _post_differences(uow: UnitOfWork, count: StockCount, now: datetime) -> list[Move]:
    """counted - expected of each batch kept by quantity, onto its balance as it is now."""
    lines = uow.session.execute(
        select(LINES.c.gtin, LINES.c.batch, LINES.c.expiry, LINES.c.expiry_raw, LINES.c.expected, LINES.c.counted)
        .where(LINES.c.count_id == count.id, LINES.c.serialized.is_(False), LINES.c.counted.is_not(None),
               LINES.c.counted != LINES.c.expected)).all()
    if not lines:
        return []
    loc = count.location_id
    held = lock_balances(uow.session, [(loc, r.gtin, r.batch) for r in lines])
    moves, below = [], []
    for r in lines:
        delta, reason = adjustment(r.expected, r.counted)
        row = held.get((loc, r.gtin, r.batch))
        on_hand = row.quantity if row else 0
        if on_hand + delta < 0:
            below.append({"gtin": r.gtin, "batch": r.batch, "expected": r.expected, "counted": r.counted,
                          "on_hand": on_hand})
            continue
        # a surplus comes in at the batch's average cost, so the count does not change it
        unit_cost = row.value // row.quantity if delta > 0 and row and row.quantity else None
        moves.append(Move(loc, r.gtin, r.batch, row.expiry if row else r.expiry,
                          row.expiry_raw if row else r.expiry_raw, Kind.ADJUSTMENT, delta, reason, unit_cost))
    if below:
        first = below[0]
        raise CountBelowZero(
            f"Batch {first['batch']} of {first['gtin']}: {first['on_hand']} on hand now, and the count found "
            f"{first['expected'] - first['counted']} fewer than expected. Return the count and recount.",
            lines=below[:100])
    post(uow, moves, (DOCUMENT, count.number), at=now, held=held)
    return moves


def _surplus_packs(uow: UnitOfWork, count: StockCount) -> list[dict]:
    """Scanned packs not expected and not ours now, with why."""
    rows = uow.session.execute(
        select(PACKS.c.gtin, PACKS.c.serial, PACKS.c.batch, PACKS.c.pack_id, Pack.state, Pack.location_id,
               Pack.shipment_id)
        .outerjoin(Pack, Pack.id == PACKS.c.pack_id)
        .where(PACKS.c.count_id == count.id, PACKS.c.scanned, ~PACKS.c.expected)
        .order_by(PACKS.c.gtin, PACKS.c.serial)).all()
    out = []
    for r in rows:
        problem = pack_problem(count.location_id, r.pack_id is not None and r.state is not None, r.state,
                               r.location_id, r.shipment_id)
        if problem is not None:
            out.append({"gtin": r.gtin, "serial": r.serial, "batch": r.batch, "problem": problem.value})
    return out


def _record_findings(uow: UnitOfWork, count: StockCount, missing: list[dict], surplus: list[dict],
                     now: datetime) -> int:
    s = uow.session
    base = {"count_id": count.id, "location_id": count.location_id, "organisation_id": count.organisation_id,
            "quantity": 1, "status": FindingStatus.NEW.value, "created_at": now}
    packs = [{**base, "kind": FindingKind.MISSING_PACK.value, "gtin": r["gtin"], "batch": r["batch"],
              "serial": r["serial"], "detail": None} for r in missing]
    packs += [{**base, "kind": FindingKind.SURPLUS_PACK.value, "gtin": r["gtin"], "batch": r["batch"],
               "serial": r["serial"], "detail": r["problem"]} for r in surplus]
    if packs:
        s.execute(insert(FINDINGS), packs)
    diff = LINES.c.counted - LINES.c.expected
    done = s.execute(insert(FINDINGS).from_select(
        ["kind", "count_id", "location_id", "organisation_id", "gtin", "batch", "serial", "quantity", "detail",
         "status", "created_at"],
        select(case((diff > 0, literal(FindingKind.SURPLUS.value)), else_=literal(FindingKind.SHORTAGE.value)),
               literal(count.id), literal(count.location_id), literal(count.organisation_id), LINES.c.gtin,
               LINES.c.batch, literal(None), func.abs(diff), literal(None), literal(FindingStatus.NEW.value),
               literal(now, type_=FINDINGS.c.created_at.type))
        .where(LINES.c.count_id == count.id, LINES.c.serialized.is_(False), LINES.c.counted.is_not(None), diff != 0))
        .execution_options(preserve_rowcount=True))
    return len(packs) + (done.rowcount or 0)


# ---------------------------------------------------------------- reads


def _visible(uow: UnitOfWork, count_id: int) -> StockCount:
    count = uow.session.get(StockCount, count_id)
    if count is None:
        raise NotFound(f"No stock count with id {count_id}.")
    authorize(uow.actor, "stock.read", count.organisation_id)
    return count


def list_counts(uow: UnitOfWork, q: CountQuery) -> Page:
    """Counts, newest first: a custodian's own organisation's, the agency's of any location."""
    org = scoped_org(uow.actor, "stock.read")
    where = []
    if org is not None:
        where.append(StockCount.organisation_id == org)
    if q.location_id is not None:
        where.append(StockCount.location_id == q.location_id)
    if q.status:
        where.append(StockCount.status == q.status)
    s = uow.session
    total = s.scalar(select(func.count()).select_from(StockCount).where(*where))
    rows = s.execute(
        select(StockCount.id, StockCount.number, StockCount.status, StockCount.location_id,
               Location.name.label("location_name"), StockCount.organisation_id, StockCount.gtins,
               StockCount.expected_lines, StockCount.expected_units, StockCount.expected_packs, StockCount.opened_at,
               StockCount.submitted_at, StockCount.decided_at, StockCount.result)
        .join(Location, Location.id == StockCount.location_id).where(*where)
        .order_by(StockCount.opened_at.desc(), StockCount.id.desc())
        .limit(q.per_page).offset((q.page - 1) * q.per_page)).all()
    items = [{**r._asdict(), "gtins": r.gtins or []} for r in rows]
    return Page(items, total or 0, q.page, q.per_page)


def get_count(uow: UnitOfWork, count_id: int, differences_only: bool = False, page: int = 1,
              per_page: int = 100) -> dict:
    """A count with its lines (expected, counted, difference, and the balance now: what moved since
    opening) and its serialized packs not scanned and scanned but not ours."""
    count = _visible(uow, count_id)
    s = uow.session
    view = header(uow, count)
    b = BALANCES.c
    where = [LINES.c.count_id == count.id]
    if differences_only:
        where.append(or_(LINES.c.counted.is_(None), LINES.c.counted != LINES.c.expected))
    total = s.scalar(select(func.count()).select_from(LINES).where(*where))
    rows = s.execute(
        select(LINES.c.gtin, LINES.c.batch, LINES.c.expiry, LINES.c.serialized, LINES.c.expected, LINES.c.counted,
               LINES.c.counted_at, func.coalesce(b.quantity, 0).label("on_hand"), Product.trade_name)
        .outerjoin(BALANCES, and_(b.location_id == count.location_id, b.gtin == LINES.c.gtin,
                                  b.batch == LINES.c.batch))
        .outerjoin(ProductGtin, ProductGtin.gtin == LINES.c.gtin)
        .outerjoin(Product, Product.id == ProductGtin.product_id)
        .where(*where).order_by(LINES.c.gtin, LINES.c.batch)
        .limit(per_page).offset((page - 1) * per_page)).all()
    view["lines"] = Page([{**r._asdict(), "difference": None if r.counted is None else r.counted - r.expected,
                           "moved_since_open": None if count.status == CountState.APPROVED
                           else r.on_hand - r.expected} for r in rows],
                         total or 0, page, per_page).to_dict()
    p, f = PACKS.c, FINDINGS.c
    if count.status == CountState.APPROVED:  # what approval found
        for key, kind in (("missing_packs", FindingKind.MISSING_PACK), ("surplus_packs", FindingKind.SURPLUS_PACK)):
            view[key] = [r._asdict() for r in s.execute(
                select(f.gtin, f.serial, f.batch, f.detail.label("problem"))
                .where(f.count_id == count.id, f.kind == kind).order_by(f.gtin, f.serial).limit(MAX_LISTED_PACKS))]
        return view
    # missing so far: expected, not scanned, and still here (a pack sold meanwhile is not missing)
    view["missing_packs"] = [r._asdict() for r in s.execute(
        select(p.gtin, p.serial, p.batch).join(Pack, Pack.id == p.pack_id)
        .where(p.count_id == count.id, p.expected, ~p.scanned, Pack.state == "ACTIVE",
               Pack.location_id == count.location_id, Pack.shipment_id.is_(None))
        .order_by(p.gtin, p.serial).limit(MAX_LISTED_PACKS))]
    view["surplus_packs"] = [r._asdict() for r in s.execute(
        select(p.gtin, p.serial, p.batch, p.problem, p.scanned_at)
        .where(p.count_id == count.id, p.scanned, ~p.expected, p.problem.is_not(None))
        .order_by(p.gtin, p.serial).limit(MAX_LISTED_PACKS))]
    return view


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def list_findings(uow: UnitOfWork, q: FindingQuery) -> Page:
    """Count findings, newest first, filtered: the agency sees every location's, a head pharmacist
    their own organisation's."""
    org = scoped_org(uow.actor, "stock.finding.read")
    f = FINDINGS.c
    where = []
    if org is not None:
        where.append(f.organisation_id == org)
    if q.location_id is not None:
        where.append(f.location_id == q.location_id)
    if q.region:
        where.append(f.location_id.in_(select(Location.id).where(Location.region == q.region)))
    if q.kind:
        where.append(f.kind == q.kind)
    if q.status:
        where.append(f.status == q.status)
    if q.count_id is not None:
        where.append(f.count_id == q.count_id)
    if q.date_from:
        where.append(f.created_at >= _start(q.date_from))
    if q.date_to:
        where.append(f.created_at < _start(q.date_to) + timedelta(days=1))
    s = uow.session
    total = s.scalar(select(func.count()).select_from(FINDINGS).where(*where))
    rows = s.execute(
        select(FINDINGS, Location.name.label("location_name"), Location.region, StockCount.number.label("count_number"))
        .join(Location, Location.id == f.location_id).join(StockCount, StockCount.id == f.count_id)
        .where(*where).order_by(f.created_at.desc(), f.id.desc())
        .limit(q.per_page).offset((q.page - 1) * q.per_page)).all()
    return Page([r._asdict() for r in rows], total or 0, q.page, q.per_page)


def review_finding(uow: UnitOfWork, finding_id: int) -> dict:
    """The regulator marks a finding reviewed (once)."""
    authorize(uow.actor, "stock.finding.manage")
    with uow:
        s = uow.session
        found = s.get(StockCountFinding, finding_id, with_for_update=True)
        if found is None:
            raise NotFound(f"No finding with id {finding_id}.")
        authorize(uow.actor, "stock.finding.manage", found.organisation_id)
        if found.status == FindingStatus.NEW:
            found.status = FindingStatus.REVIEWED.value
            found.reviewed_at, found.reviewed_by = utcnow(), uow.actor.user_id
            s.flush()
            uow.audit("stock.finding.review", "stock_count_finding", found.id,
                      {"kind": found.kind, "count_id": found.count_id})
        f = FINDINGS.c
        row = s.execute(
            select(FINDINGS, Location.name.label("location_name"), Location.region,
                   StockCount.number.label("count_number"))
            .join(Location, Location.id == f.location_id).join(StockCount, StockCount.id == f.count_id)
            .where(f.id == found.id)).one()._asdict()
        uow.commit()
    return row


def count_locations(uow: UnitOfWork) -> list[Location]:
    """The caller's own active locations (where it may count)."""
    if uow.actor.org_id is None:
        return []
    return list(uow.session.scalars(select(Location).where(Location.organisation_id == uow.actor.org_id,
                                                           Location.active.is_(True)).order_by(Location.name)))


def regions(uow: UnitOfWork) -> list[str]:
    return list(uow.session.scalars(select(Location.region).distinct().order_by(Location.region)))
