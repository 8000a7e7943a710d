"""Write-off acts: a numbered document of a location's stock to write off, with a reason, drafted by
the staff and confirmed by the head pharmacist.

Numbers: ``WO-<year>-<id, 6 digits>``, from the table's sequence (unique however many are drafted
at once; the year is the draft's). Confirming posts everything in one transaction: the quantity
lines as WRITE_OFF movements on ("write_off_act", number), the packs decommissioned in trace with
the same document (the trace listener posts their WRITE_OFF movements, so custody and the ledger
stay in step). A line that cannot be posted refuses the whole confirmation (LINES_REFUSED, each
failing line with its code); the act's row lock lets one of two confirmations win.

Pack states: EXPIRED, DAMAGED, DESTROYED and OTHER decommission as DESTROYED, STOLEN as STOLEN,
SAMPLE as SAMPLE (the quantity lines keep the act's own reason).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from pharma.parties.policy import allowed, authorize, scoped_org
from pharma.shared.errors import Forbidden, ValidationFailed
from pharma.shared.schemas import Page
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.documents import (
    AddLines,
    EmptyDocument,
    LinesRefused,
    PackLine,
    add_wanted,
    append_lines,
    audit_lines,
    batch_problems,
    check_new_lines,
    load,
    location,
    pack_facts,
    pack_problems,
    parse_lines,
    remove_line,
    require_draft,
)
from pharma.stock.documents_models import ACT_REASONS, WriteOffAct, WriteOffActLine
from pharma.stock.domain import Kind, Move, Reason
from pharma.stock.ledger import lock_balances, post
from pharma.trace import movements as trace
from pharma.trace.scans import CommissionedPacks

DOCUMENT = "write_off_act"
PACK_STATE = {"EXPIRED": "DESTROYED", "DAMAGED": "DESTROYED", "DESTROYED": "DESTROYED", "OTHER": "DESTROYED",
              "STOLEN": "STOLEN", "SAMPLE": "SAMPLE"}


@dataclass(frozen=True)
class NewAct:
    location_id: int
    reason: str
    note: str = ""


@dataclass(frozen=True)
class ActQuery:
    location_id: int | None = None
    status: str | None = None
    page: int = 1
    per_page: int = 25


def _act(uow: UnitOfWork, act_id: int, lock: bool = False) -> WriteOffAct:
    return load(uow, WriteOffAct, act_id, "write-off act", lock)


def _draft(act: WriteOffAct) -> None:
    require_draft(act, "Write-off act")


def create_act(uow: UnitOfWork, cmd: NewAct) -> WriteOffAct:
    """Draft a write-off act for a location, with its reason."""
    authorize(uow.actor, "stock.act.write")
    if cmd.reason not in ACT_REASONS:
        raise ValidationFailed({"reason": [f"Use one of {', '.join(ACT_REASONS)}."]})
    with uow:
        loc = location(uow, cmd.location_id, "stock.act.write")
        now = utcnow()
        act = WriteOffAct(number=f"tmp-{uuid.uuid4().hex[:20]}", organisation_id=loc.organisation_id,
                          location_id=loc.id, reason=cmd.reason, note=(cmd.note or "").strip()[:500],
                          status="DRAFT", created_at=now, created_by=uow.actor.user_id)
        uow.session.add(act)
        uow.session.flush()
        act.number = f"WO-{now.year}-{act.id:06d}"
        uow.audit("stock.act.create", "write_off_act", act.id,
                  {"number": act.number, "location_id": loc.id, "reason": act.reason})
        uow.commit()
    return act


def add_act_lines(uow: UnitOfWork, act_id: int, cmd: AddLines) -> WriteOffAct:
    """Add scanned packs and batches by quantity to a draft act; each must be in this location's stock
    now (checked again when the act is confirmed). A pack scanned twice is one line; a batch given
    twice adds up."""
    authorize(uow.actor, "stock.act.write")
    packs, batches = parse_lines(cmd, CommissionedPacks(uow.session))
    with uow:
        act = _act(uow, act_id, lock=True)
        authorize(uow.actor, "stock.act.write", act.organisation_id)
        _draft(act)
        new = check_new_lines(uow, act, packs, batches, "An act")
        if new.pack_problems or new.batch_problems:
            raise LinesRefused(new.pack_problems + new.batch_problems)
        append_lines(act, WriteOffActLine, new.packs, new.facts, batches, new.held)
        audit_lines(uow, "stock.act.lines", "write_off_act", act, new.packs, batches)
        uow.commit()
    return act


def remove_act_line(uow: UnitOfWork, act_id: int, line_id: int) -> WriteOffAct:
    """Take a line off a draft act."""
    authorize(uow.actor, "stock.act.write")
    with uow:
        act = _act(uow, act_id, lock=True)
        authorize(uow.actor, "stock.act.write", act.organisation_id)
        _draft(act)
        remove_line(uow, act, line_id, "Write-off act", "stock.act.line_removed", "write_off_act")
        uow.commit()
    return act


def confirm_act(uow: UnitOfWork, act_id: int) -> WriteOffAct:
    """Confirm a draft act (the head pharmacist): write off every line in one transaction, or none."""
    authorize(uow.actor, "stock.act.confirm")
    with uow:
        act = _act(uow, act_id, lock=True)
        authorize(uow.actor, "stock.act.confirm", act.organisation_id)
        _draft(act)
        if not act.lines:
            raise EmptyDocument(f"Write-off act {act.number} has no lines.")
        packs = [trace.PackRef(line.gtin, line.serial) for line in act.lines if line.serial is not None]
        quantities = [line for line in act.lines if line.serial is None]
        held = lock_balances(uow.session, [(act.location_id, line.gtin, line.batch) for line in quantities])
        wanted = add_wanted({}, quantities)
        pack_lines = [PackLine(p.gtin, p.serial) for p in packs]
        problems = pack_problems(pack_facts(uow, pack_lines), pack_lines, act.location_id)
        problems += batch_problems(held, act.location_id, wanted)
        if problems:
            raise LinesRefused(problems)
        moves = [Move(act.location_id, gtin, batch, held[(act.location_id, gtin, batch)].expiry,
                      held[(act.location_id, gtin, batch)].expiry_raw, Kind.WRITE_OFF, -n, Reason(act.reason))
                 for (gtin, batch), n in sorted(wanted.items())]
        now = utcnow()
        post(uow, moves, (DOCUMENT, act.number), held=held, at=now)
        if packs:
            change = trace.decommission(uow.enlisted(), trace.Decommission(
                act.location_id, tuple(packs), PACK_STATE[act.reason], note=f"{act.number}: {act.note}"[:500],
                document=act.number, document_type=DOCUMENT))
            act.trace_event_id = change.event_id
        act.status = "CONFIRMED"
        act.decided_at = now
        act.decided_by = uow.actor.user_id
        uow.audit("stock.act.confirm", "write_off_act", act.id,
                  {"number": act.number, "reason": act.reason, "packs": len(packs),
                   "units": sum(wanted.values())}, count=len(act.lines))
        uow.commit()
    return act


def cancel_act(uow: UnitOfWork, act_id: int) -> WriteOffAct:
    """Cancel a draft act: nothing was posted, nothing is."""
    authorize(uow.actor, "stock.act.write")
    with uow:
        act = _act(uow, act_id, lock=True)
        authorize(uow.actor, "stock.act.write", act.organisation_id)
        _draft(act)
        act.status = "CANCELLED"
        act.decided_at = utcnow()
        act.decided_by = uow.actor.user_id
        uow.audit("stock.act.cancel", "write_off_act", act.id, {"number": act.number})
        uow.commit()
    return act


def get_act(uow: UnitOfWork, act_id: int) -> WriteOffAct:
    """One act with its lines, for its own organisation's staff and the agency."""
    authorize(uow.actor, "stock.read")
    act = _act(uow, act_id)
    if not allowed(uow.actor, "stock.read", act.organisation_id):
        raise Forbidden("This write-off act belongs to another organisation.")
    return act


def list_acts(uow: UnitOfWork, q: ActQuery) -> Page:
    """Acts newest first: the caller's organisation's, or any for the agency; by location and status."""
    org = scoped_org(uow.actor, "stock.read")
    where = []
    if org is not None:
        where.append(WriteOffAct.organisation_id == org)
    if q.location_id is not None:
        where.append(WriteOffAct.location_id == q.location_id)
    if q.status:
        where.append(WriteOffAct.status == q.status)
    s = uow.session
    total = s.scalar(select(func.count()).select_from(WriteOffAct).where(*where))
    rows = list(s.scalars(select(WriteOffAct).options(selectinload(WriteOffAct.lines)).where(*where)
                          .order_by(WriteOffAct.id.desc()).limit(q.per_page).offset((q.page - 1) * q.per_page)))
    return Page([act_summary(a) for a in rows], total or 0, q.page, q.per_page)


def act_summary(act: WriteOffAct) -> dict:
    packs = sum(1 for line in act.lines if line.serial is not None)
    return {"id": act.id, "number": act.number, "organisation_id": act.organisation_id,
            "location_id": act.location_id, "reason": act.reason, "note": act.note, "status": act.status,
            "created_at": act.created_at, "created_by": act.created_by, "decided_at": act.decided_at,
            "decided_by": act.decided_by, "packs": packs,
            "units": sum(line.quantity for line in act.lines if line.serial is None), "lines_count": len(act.lines)}
