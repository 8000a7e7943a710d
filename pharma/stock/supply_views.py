"""Pages for supply requests. The pharmacist keeps stock levels in an editable table, turns the
reorder proposal into a draft request, edits and sends it; the wholesaler sees incoming requests,
acknowledges or rejects them and ships against them by scanning packs and cases (SSCCs) into a text
box, one per line, as on the shipping page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from pharma.parties.policy import allowed
from pharma.shared.errors import InvalidIdentifier, PharmaError, ValidationFailed
from pharma.shared.http import flash_error, login_required, uow
from pharma.stock import supply_services as svc
from pharma.stock.supply import DEFAULT_DAYS, RequestStatus
from pharma.stock.views import gtin_of_scan
from pharma.trace import movements as trace
from pharma.trace.scans import CommissionedPacks, ScannedCase, ScannedPack, parse_scan_lines

bp = Blueprint("supply_web", __name__, url_prefix="/stock/supply")

BLANK_ROWS = 5
STATUS_LABELS = {
    "DRAFT": _l("Draft"),
    "SENT": _l("Sent"),
    "ACKNOWLEDGED": _l("Acknowledged"),
    "REJECTED": _l("Rejected"),
    "PARTIALLY_SHIPPED": _l("Partially shipped"),
    "FULFILLED": _l("Fulfilled"),
    "CLOSED_SHORT": _l("Closed short"),
    "CANCELLED": _l("Cancelled"),
}


@bp.app_context_processor
def _labels():
    return {"supply_status": lambda code: STATUS_LABELS.get(code, code)}


def _location_id(work) -> tuple[int | None, list]:
    locations = svc.request_locations(work, svc.READ)
    chosen = request.values.get("location_id", type=int)
    if chosen is None and locations:
        chosen = locations[0].id
    return chosen, locations


def _int(text: str, field: str, errors: dict) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        errors[field] = [_("Give a whole number.")]
        return None


# ---------------------------------------------------------------- levels


def _level_rows(form) -> tuple[tuple[svc.LevelLine, ...], tuple[str, ...]]:
    """Rows of the levels table: GTIN, minimum, maximum; a known GTIN with both emptied is removed."""
    levels, remove, errors = [], [], {}
    for i in range(form.get("rows", 0, type=int)):
        raw = form.get(f"gtin-{i}", "").strip()
        if not raw:
            continue
        row = _("row %(n)s", n=i + 1)
        try:
            gtin = gtin_of_scan(raw)
        except InvalidIdentifier as exc:
            errors[row] = [exc.message]
            continue
        minimum = _int(form.get(f"min-{i}", ""), row, errors)
        maximum = _int(form.get(f"max-{i}", ""), row, errors)
        if row in errors:
            continue
        if minimum is None and maximum is None:
            if form.get(f"known-{i}"):
                remove.append(gtin)
            continue
        if minimum is None or maximum is None:
            errors[row] = [_("Give both the minimum and the maximum, or neither to remove the level.")]
            continue
        levels.append(svc.LevelLine(gtin, minimum, maximum))
    if errors:
        raise ValidationFailed(errors)
    return tuple(levels), tuple(remove)


@bp.route("/levels", methods=["GET", "POST"])
@login_required
def levels():
    work = uow()
    location_id, locations = _location_id(work)
    status = 200
    if request.method == "POST":
        try:
            rows, remove = _level_rows(request.form)
            svc.set_levels(work, svc.SetLevels(request.form.get("location_id", type=int) or 0, rows, remove))
        except PharmaError as exc:
            flash_error(exc)
            status = exc.status
        else:
            flash(ngettext("Saved %(num)s level.", "Saved %(num)s levels.", len(rows)) if rows or not remove
                  else _("Levels removed."), "success")
            return redirect(url_for("supply_web.levels", location_id=location_id))
    items, suggestions = [], []
    if location_id is not None:
        try:
            items = svc.levels_of(work, location_id)
            known = {i["gtin"] for i in items}
            suggestions = [line for line in svc.proposal(work, location_id).lines if line["gtin"] not in known]
        except PharmaError as exc:
            flash_error(exc)
            status = exc.status
    return render_template("stock/supply_levels.html", items=items, suggestions=suggestions, locations=locations,
                           location_id=location_id, blank=BLANK_ROWS,
                           can_write=allowed(work.actor, svc.LEVELS_WRITE)), status


# ---------------------------------------------------------------- proposal and new requests


@bp.get("/proposal")
@login_required
def proposal():
    work = uow()
    location_id, locations = _location_id(work)
    days = request.args.get("days", DEFAULT_DAYS, type=int)
    result = None
    if location_id is not None:
        try:
            result = svc.proposal(work, location_id, days)
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/supply_proposal.html", result=None, locations=locations,
                                   location_id=location_id, days=days, blank=BLANK_ROWS), exc.status
    return render_template("stock/supply_proposal.html", result=result, locations=locations, location_id=location_id,
                           days=days, blank=BLANK_ROWS, can_write=allowed(work.actor, svc.WRITE))


def _request_lines(form) -> tuple[svc.RequestLine, ...]:
    """Rows of a request form: GTIN, packs, note; rows with no packs (or 0) are left out."""
    lines, errors = [], {}
    for i in range(form.get("rows", 0, type=int)):
        raw = form.get(f"gtin-{i}", "").strip()
        quantity = form.get(f"quantity-{i}", "").strip()
        if not raw or quantity in ("", "0"):
            continue
        row = _("row %(n)s", n=i + 1)
        try:
            gtin = gtin_of_scan(raw)
        except InvalidIdentifier as exc:
            errors[row] = [exc.message]
            continue
        n = _int(quantity, row, errors)
        if n is not None:
            lines.append(svc.RequestLine(gtin, n, form.get(f"note-{i}", "").strip()[:200]))
    if errors:
        raise ValidationFailed(errors)
    return tuple(lines)


@bp.post("/requests/new")
@login_required
def new_request():
    work = uow()
    form = request.form
    try:
        view = svc.create_request(work, svc.NewRequest(form.get("location_id", type=int) or 0, _request_lines(form),
                                                       form.get("note", "")))
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("supply_web.proposal", location_id=form.get("location_id", type=int)))
    flash(_("Draft request %(number)s saved: check it and send it to a supplier.", number=view.number), "success")
    return redirect(url_for("supply_web.detail", request_id=view.id))


# ---------------------------------------------------------------- requests


@bp.get("/requests")
@login_required
def requests():
    work = uow()
    status = request.args.get("status") if request.args.get("status") in list(RequestStatus) else None
    page = svc.list_requests(work, svc.RequestQuery(status, None, max(1, request.args.get("page", 1, type=int)), 25))
    return render_template("stock/supply_requests.html", page=page, status=status, statuses=list(RequestStatus),
                           can_write=allowed(work.actor, svc.WRITE))


def _detail(work, request_id: int, status: int = 200):
    view = svc.get_request(work, request_id)
    actor = work.actor
    mine = allowed(actor, svc.WRITE, view.organisation_id)
    supplying = view.supplier_id is not None and allowed(actor, svc.FULFIL, view.supplier_id)
    return render_template(
        "stock/supply_request.html", item=view, form=request.form, mine=mine, supplying=supplying,
        suppliers=svc.suppliers(work) if mine and view.status == RequestStatus.DRAFT else [],
        sources=trace.locations_of(work, "trace.ship") if supplying else [], blank=BLANK_ROWS,
        held=svc.held_for(work, view) if supplying else None), status


@bp.get("/requests/<int:request_id>")
@login_required
def detail(request_id: int):
    return _detail(uow(), request_id)


def _act(request_id: int, act, done):
    """Run an act on the request; refusals show on the request's page with their status. ``done``:
    the message, or a function of the act's result giving it."""
    work = uow()
    try:
        result = act(work)
    except PharmaError as exc:
        flash_error(exc)
        for problem in getattr(exc, "problems", [])[:20]:
            flash(f"{problem['code']}: {problem['detail']}", "error")
        return _detail(work, request_id, exc.status)
    flash(done(result) if callable(done) else done, "success")
    return redirect(url_for("supply_web.detail", request_id=request_id))


@bp.post("/requests/<int:request_id>/lines")
@login_required
def edit(request_id: int):
    form = request.form
    return _act(request_id, lambda w: svc.edit_request(w, request_id, svc.EditRequest(
        _request_lines(form), form.get("note"))), _("Request saved."))


@bp.post("/requests/<int:request_id>/send")
@login_required
def send(request_id: int):
    return _act(request_id, lambda w: svc.send_request(w, request_id, request.form.get("supplier_id", type=int) or 0),
                _("Request sent."))


@bp.post("/requests/<int:request_id>/cancel")
@login_required
def cancel(request_id: int):
    return _act(request_id, lambda w: svc.cancel_request(w, request_id, request.form.get("reason", "")),
                _("Request cancelled."))


@bp.post("/requests/<int:request_id>/close")
@login_required
def close(request_id: int):
    return _act(request_id, lambda w: svc.close_short(w, request_id, request.form.get("reason", "")),
                _("Request closed short."))


@bp.post("/requests/<int:request_id>/acknowledge")
@login_required
def acknowledge(request_id: int):
    return _act(request_id, lambda w: svc.acknowledge_request(w, request_id), _("Request acknowledged."))


@bp.post("/requests/<int:request_id>/reject")
@login_required
def reject(request_id: int):
    return _act(request_id, lambda w: svc.reject_request(w, request_id, request.form.get("reason", "")),
                _("Request rejected."))


def _scans() -> tuple[tuple[trace.PackRef, ...], tuple[str, ...]]:
    items, errors = parse_scan_lines(request.form.get("scans", ""), CommissionedPacks(uow().session))
    if errors:
        raise ValidationFailed({f"scans {k}": v for k, v in errors.items()},
                               detail=_("Some scanned lines are not codes we can read."))
    if not items:
        raise ValidationFailed({"scans": [_("Scan at least one pack or case.")]},
                               detail=_("Scan at least one pack or case."))
    return (tuple(trace.PackRef(i.gtin, i.serial) for i in items if isinstance(i, ScannedPack)),
            tuple(i.sscc for i in items if isinstance(i, ScannedCase)))


@bp.post("/requests/<int:request_id>/ship")
@login_required
def ship(request_id: int):
    def act(work):
        packs, cases = _scans()
        return svc.ship_against(work, request_id, svc.ShipAgainst(
            request.form.get("from_location_id", type=int) or 0, packs, cases))

    return _act(request_id, act, lambda result: _(
        "Shipment %(number)s is on its way; the request is %(status)s.", number=result[1],
        status=STATUS_LABELS.get(result[0].status, result[0].status)))
