"""Pages for custody movements, made for a keyboard-wedge scanner: each scan is a line of a text
box (an SSCC, a GS1 element string with (01) and (21), or "GTIN serial"). Ship, incoming and
outgoing shipments, receive, decommission and undo, and the regulator's recalls and withdrawals."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from pharma.labels import label
from pharma.parties.policy import authorize
from pharma.shared.errors import PharmaError, ValidationFailed
from pharma.shared.http import flash_error, login_required, uow
from pharma.trace import history, missing
from pharma.trace import movements as svc
from pharma.trace.domain import DECOMMISSION_REASONS, INSPECTOR_REASONS
from pharma.trace.scans import CommissionedPacks, ScannedCase, ScannedPack, parse_scan_lines

bp = Blueprint("movements_web", __name__, url_prefix="/trace")

SHOWN_PROBLEMS = 20
PACKS_PER_PAGE = 100  # on the shipment page; the API's default is larger
SHOWN_MISSING = 100  # missing packs listed with a tick box; scan the rest


def _scans(field: str) -> tuple[tuple[svc.PackRef, ...], tuple[str, ...]]:
    """The packs and cases scanned into a text box, one per line; bad lines fail together."""
    items, errors = parse_scan_lines(request.form.get(field, ""), CommissionedPacks(uow().session))
    if errors:
        raise ValidationFailed({f"{field} {k}": v for k, v in errors.items()},
                               detail=_("Some scanned lines are not codes we can read."))
    packs = tuple(svc.PackRef(i.gtin, i.serial) for i in items if isinstance(i, ScannedPack))
    cases = tuple(i.sscc for i in items if isinstance(i, ScannedCase))
    return packs, cases


def _flash(exc: PharmaError) -> None:
    flash_error(exc)
    for problem in getattr(exc, "problems", [])[:SHOWN_PROBLEMS]:
        flash(f"{problem['code']}: {problem['detail']}", "error")


# ---------------------------------------------------------------- shipments


@bp.get("/shipments")
@login_required
def shipments():
    direction = request.args.get("direction") if request.args.get("direction") in ("incoming", "outgoing") else None
    status = request.args.get("status") if request.args.get("status") in list(svc.ShipmentStatus) else None
    query = svc.ShipmentQuery(direction, status, max(1, request.args.get("page", 1, type=int)))
    page = svc.list_shipments(uow(), query)
    return render_template("trace/movements/shipments.html", page=page, query=query,
                           statuses=list(svc.ShipmentStatus))


@bp.route("/shipments/new", methods=["GET", "POST"])
@login_required
def ship():
    work = uow()
    sources, targets = svc.locations_of(work, "trace.ship"), svc.receiving_locations(work)
    form = request.form
    if request.method == "POST":
        try:
            packs, cases = _scans("scans")
            return_of = svc.shipment_id_for(work, form.get("return_of", "")) if form.get("return_of") else None
            shipment = svc.ship(work, svc.ShipPacks(
                from_location_id=form.get("from_location_id", type=int) or 0,
                to_location_id=svc.location_by_gln(work, form.get("to_gln", ""), "to_gln"),
                packs=packs, cases=cases, kind=form.get("kind", "DELIVERY"), return_of_id=return_of))
        except PharmaError as exc:
            _flash(exc)
            return render_template("trace/movements/ship.html", form=form, sources=sources, targets=targets,
                                   kinds=list(svc.ShipmentKind)), exc.status
        flash(_("Shipment %(number)s is on its way with %(n)s packs.", number=shipment.number,
                n=shipment.packs_count), "success")
        return redirect(url_for("movements_web.shipment", shipment_id=shipment.id))
    return render_template("trace/movements/ship.html", form=form, sources=sources, targets=targets,
                           kinds=list(svc.ShipmentKind))


def _shipment_page(work, shipment_id: int):
    """The shipment page: counts by outcome, the missing packs to resolve, one page of packs."""
    outcome = request.args.get("outcome") if request.args.get("outcome") in svc.PACK_FILTERS else None
    query = svc.PackListQuery(max(1, request.args.get("page", 1, type=int)), PACKS_PER_PAGE, outcome)
    item = svc.get_shipment(work, shipment_id, query, unresolved=SHOWN_MISSING)
    return render_template("trace/movements/shipment.html", shipment=item, form=request.form,
                           resolutions=missing.resolutions_for(work, item), pack_filters=svc.PACK_FILTERS,
                           events=history.shipment_events(work, shipment_id))


@bp.get("/shipments/<int:shipment_id>")
@login_required
def shipment(shipment_id: int):
    return _shipment_page(uow(), shipment_id)


@bp.post("/shipments/<int:shipment_id>/missing")
@login_required
def resolve_missing(shipment_id: int):
    work = uow()
    form = request.form
    try:
        scanned, cases = _scans("missing_scans")
        if cases:
            raise ValidationFailed({"missing_scans": [_("Scan the packs themselves, not their cases.")]})
        ticked = form.getlist("pack") + (form.getlist("listed") if form.get("all_listed") else [])
        packs = tuple(dict.fromkeys([*(_ticked(v) for v in ticked), *scanned]))
        if not packs:
            raise ValidationFailed({"pack": [_("Tick or scan at least one missing pack.")]},
                                   detail=_("Tick or scan at least one missing pack."))
        resolution = form.get("resolution", "")
        missing.resolve_missing(work, shipment_id, missing.ResolveMissing(packs, resolution, form.get("note", "")))
    except PharmaError as exc:
        _flash(exc)
        return _shipment_page(work, shipment_id), exc.status
    flash(ngettext("%(num)s missing pack resolved: %(resolution)s.", "%(num)s missing packs resolved: %(resolution)s.",
                   len(packs), resolution=label(resolution)), "success")
    return redirect(url_for("movements_web.shipment", shipment_id=shipment_id))


def _ticked(value: str) -> svc.PackRef:
    """A pack ticked in the missing packs' list: its value is "GTIN serial" (a serial has no spaces)."""
    gtin, _sep, serial = value.partition(" ")
    return svc.PackRef(gtin, serial)


@bp.route("/shipments/<int:shipment_id>/receive", methods=["GET", "POST"])
@login_required
def receive(shipment_id: int):
    work = uow()
    item = svc.get_shipment(work, shipment_id)
    authorize(work.actor, "trace.receive", item.to_location.organisation_id)
    if request.method == "POST":
        try:
            packs, cases = _scans("scans")
            damaged, _cases = _scans("damaged")
            done = svc.receive(work, shipment_id, svc.Receipt(packs=packs, cases=cases, damaged=damaged))
        except PharmaError as exc:
            _flash(exc)
            return render_template("trace/movements/receive.html", shipment=item, form=request.form), exc.status
        d = done.discrepancies
        flash(_("Shipment %(number)s received: %(missing)s missing, %(extra)s extra, %(damaged)s damaged.",
                number=done.number, missing=d["missing"], extra=d["extra"], damaged=d["damaged"]),
              "success" if not (d["missing"] or d["extra"] or d["damaged"]) else "error")
        return redirect(url_for("movements_web.shipment", shipment_id=shipment_id))
    return render_template("trace/movements/receive.html", shipment=item, form=request.form)


# ---------------------------------------------------------------- decommissioning and undo


@bp.route("/decommission", methods=["GET", "POST"])
@login_required
def decommission():
    work = uow()
    locations = svc.locations_of(work, "trace.decommission")
    form = request.form
    inspector = work.actor.has("inspector")
    reasons = [r.value for r in (INSPECTOR_REASONS if inspector and not locations else DECOMMISSION_REASONS)]
    if request.method == "POST":
        try:
            packs, cases = _scans("scans")
            if cases:
                raise ValidationFailed({"scans": [_("Scan the packs themselves, not their cases.")]})
            location_id = (svc.location_by_gln(work, form.get("location_gln", ""), "location_gln")
                           if form.get("location_gln") else form.get("location_id", type=int) or 0)
            if form.get("action") == "undo":
                done = svc.undo(work, svc.Undo(location_id, packs, form.get("reason", "")))
                message = _("%(n)s packs are active again.", n=len(done.packs))
            else:
                done = svc.decommission(work, svc.Decommission(location_id, packs, form.get("state", ""),
                                                               form.get("note", ""), form.get("document") or None))
                message = _("%(n)s packs are now %(state)s.", n=len(done.packs), state=label(done.state))
        except PharmaError as exc:
            _flash(exc)
            return render_template("trace/movements/decommission.html", form=form, locations=locations,
                                   reasons=reasons, inspector=inspector), exc.status
        flash(message, "success")
        return redirect(url_for("movements_web.decommission"))
    return render_template("trace/movements/decommission.html", form=form, locations=locations, reasons=reasons,
                           inspector=inspector)


# ---------------------------------------------------------------- recalls and withdrawals


@bp.get("/recalls")
@login_required
def recalls():
    page = svc.list_recalls(uow(), max(1, request.args.get("page", 1, type=int)))
    return render_template("trace/movements/recalls.html", page=page, form={})


@bp.post("/recalls")
@login_required
def recall():
    work = uow()
    form = request.form
    try:
        if form.get("action") == "withdraw":
            product = svc.withdraw_product(work, svc.product_id_for(work, form.get("product", "")),
                                           form.get("reason", ""))
            flash(_("%(name)s is withdrawn: every pack of it at once.", name=product.trade_name), "success")
        else:
            batch = svc.recall_batch(work, form.get("gtin", ""), form.get("batch", ""), form.get("reason", ""))
            flash(_("Batch %(batch)s of %(gtin)s is recalled: every pack of it at once.", batch=batch.batch,
                    gtin=batch.gtin), "success")
    except PharmaError as exc:
        _flash(exc)
        page = svc.list_recalls(work)
        return render_template("trace/movements/recalls.html", page=page, form=form), exc.status
    return redirect(url_for("movements_web.recalls"))

