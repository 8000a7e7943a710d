"""/api/v1/stock/counts and /api/v1/stock/findings: counting a location's stock against a snapshot
of its books, the head pharmacist's approval that posts the differences, and the findings the
regulator reviews."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.shared.http import uow
from pharma.stock import counts as svc
from pharma.stock import counts_schemas as s

blp = Blueprint("stock_counts_api", __name__, url_prefix="/api/v1/stock",
                description="Stock counts, their approval and the findings they raise")


@blp.post("/counts")
@blp.arguments(s.OpenCountIn)
@blp.response(201, s.CountOut)
def open_count(cmd):
    """Open a count at a location: snapshots every batch on hand (expected quantity) and every
    serialized pack in custody, optionally only of some GTINs. One count in progress per location
    (409 COUNT_ALREADY_OPEN)."""
    return svc.open_count(uow(), cmd)


@blp.get("/counts")
@blp.arguments(s.CountQueryIn, location="query")
@blp.response(200, s.CountPage)
def list_counts(query):
    """Counts, newest first: the caller's organisation's (the agency: any location's)."""
    return svc.list_counts(uow(), query).to_dict()


@blp.get("/counts/<int:count_id>")
@blp.arguments(s.CountLinesQueryIn, location="query")
@blp.response(200, s.CountDetailOut)
def get_count(args, count_id):
    """A count with its lines (expected, counted, difference, the balance now) and its serialized
    packs not scanned (missing so far) and scanned but not this location's (surplus)."""
    return svc.get_count(uow(), count_id, args["differences"], args["page"], args["per_page"])


@blp.post("/counts/<int:count_id>/lines")
@blp.arguments(s.RecordLinesIn)
@blp.response(200, s.CountRecordedOut)
def record_lines(cmd, count_id):
    """Record counted batches (``lines``: the quantity found replaces the previous entry) and raw
    scans (``scans``: a pack's GS1 code counts the pack once; an EAN-13 adds one unit). A batch not
    on the books may be added. All or nothing: an unreadable scan refuses the request (422)."""
    return svc.record_lines(uow(), count_id, cmd)


@blp.post("/counts/<int:count_id>/submit")
@blp.arguments(s.CountSubmitIn)
@blp.response(200, s.CountOut)
def submit(args, count_id):
    """Submit an open count for the head pharmacist's approval; uncounted batches refuse it (409
    COUNT_INCOMPLETE) unless ``uncounted_as_zero``."""
    return svc.submit_count(uow(), count_id, args["uncounted_as_zero"])


@blp.post("/counts/<int:count_id>/approve")
@blp.response(200, s.CountOut)
def approve(count_id):
    """Approve a submitted count (head pharmacist of the organisation) and post it in one
    transaction: shortages and surpluses as ADJUSTMENT movements onto today's balances, missing
    serialized packs decommissioned as STOLEN, and a finding for every difference. A shortage
    larger than today's balance refuses it (409 COUNT_BELOW_ZERO); approving twice: 409
    COUNT_CLOSED."""
    return svc.approve_count(uow(), count_id)


@blp.post("/counts/<int:count_id>/return")
@blp.arguments(s.CountNoteIn)
@blp.response(200, s.CountOut)
def return_count(args, count_id):
    """Send a submitted count back for recounting (head pharmacist), saying why."""
    return svc.return_count(uow(), count_id, args["note"])


@blp.post("/counts/<int:count_id>/cancel")
@blp.arguments(s.CountNoteIn)
@blp.response(200, s.CountOut)
def cancel(args, count_id):
    """Cancel a count in progress; nothing is posted."""
    return svc.cancel_count(uow(), count_id, args["note"])


@blp.get("/findings")
@blp.arguments(s.CountFindingQueryIn, location="query")
@blp.response(200, s.CountFindingPage)
def findings(query):
    """Count findings (missing and surplus packs, shortages and surpluses), newest first, by
    location or region, kind, status and date: the agency's, or a head pharmacist's own."""
    return svc.list_findings(uow(), query).to_dict()


@blp.post("/findings/<int:finding_id>/review")
@blp.response(200, s.CountFindingOut)
def review(finding_id):
    """Mark a finding reviewed (the regulator)."""
    return svc.review_finding(uow(), finding_id)
