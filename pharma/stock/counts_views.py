"""Pages for stock counts: the counts of a location and opening one; a count's page, where
pharmacists scan packs (a keyboard-wedge scanner types the code and Enter: one scan per
submission, the field keeps the focus) or enter counted batches, and the head pharmacist submits,
approves or returns it; and the findings list for the agency and the head pharmacist."""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from pharma.shared.errors import InvalidIdentifier, PharmaError, ValidationFailed
from pharma.shared.http import flash_error, login_required, uow
from pharma.shared.identifiers import Batch
from pharma.stock import counts as svc
from pharma.stock.views import gtin_of_scan

bp = Blueprint("stock_counts_web", __name__, url_prefix="/stock")

NAMES = {
    "OPEN": _l("Open"), "SUBMITTED": _l("Submitted"), "APPROVED": _l("Approved"), "CANCELLED": _l("Cancelled"),
    "MISSING_PACK": _l("Missing pack"), "SURPLUS_PACK": _l("Surplus pack"), "SHORTAGE": _l("Shortage"),
    "SURPLUS": _l("Surplus"), "NEW": _l("New"), "REVIEWED": _l("Reviewed"),
    "UNKNOWN_PACK": _l("Never commissioned"), "NOT_IN_CUSTODY": _l("Held by another location"),
    "PACK_IN_TRANSIT": _l("In transit"), "INACTIVE": _l("Not active"),
    "COUNTED": _l("Counted"), "ALREADY_COUNTED": _l("Already counted"), "NOT_OURS": _l("Not on our books"),
}


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _render(template: str, status: int = 200, **context):
    return render_template(template, names=NAMES, **context), status


@bp.get("/counts")
@login_required
def counts():
    work = uow()
    locations = svc.count_locations(work)
    location_id = request.args.get("location_id", type=int)
    status = request.args.get("status") if request.args.get("status") in [s.value for s in svc.CountState] else None
    page = svc.list_counts(work, svc.CountQuery(location_id, status, max(1, request.args.get("page", 1, type=int)),
                                                25))
    return _render("stock/counts.html", page=page, locations=locations, location_id=location_id, status=status,
                   states=list(svc.CountState))


@bp.post("/counts")
@login_required
def open_count():
    work = uow()
    form = request.form
    try:
        gtins = tuple(gtin_of_scan(g) for g in form.get("gtins", "").replace(",", " ").split())
        view = svc.open_count(work, svc.OpenCount(form.get("location_id", type=int) or 0, gtins,
                                                  form.get("note", "")))
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("stock_counts_web.counts"))
    flash(_("Count %(number)s opened: %(lines)s batches and %(packs)s packs expected.", number=view["number"],
            lines=view["summary"]["lines"], packs=view["summary"]["packs_expected"]), "success")
    return redirect(url_for("stock_counts_web.count", count_id=view["id"]))


@bp.get("/counts/<int:count_id>")
@login_required
def count(count_id: int):
    work = uow()
    differences = request.args.get("differences") == "1"
    view = svc.get_count(work, count_id, differences, max(1, request.args.get("page", 1, type=int)), 100)
    return _render("stock/count.html", count=view, differences=differences,
                   lines_page=view["lines"], batch=request.args.get("batch", ""))


def _counted_line(form) -> svc.CountedLine:
    errors: dict[str, list[str]] = {}
    gtin = lot = None
    try:
        gtin = gtin_of_scan(form.get("gtin", ""))
    except InvalidIdentifier as exc:
        errors["gtin"] = [exc.message]
    try:
        lot = Batch.parse(form.get("batch", "").strip()).value
    except InvalidIdentifier as exc:
        errors["batch"] = [exc.message]
    counted = form.get("counted", type=int)
    if counted is None or counted < 0:
        errors["counted"] = [_("Give the units found as a whole number, 0 or more.")]
    expiry = None
    if form.get("expiry"):
        try:
            expiry = date.fromisoformat(form["expiry"])
        except ValueError:
            errors["expiry"] = [_("Give the expiry as a date.")]
    if errors:
        raise ValidationFailed(errors)
    return svc.CountedLine(gtin, lot, counted, expiry)


@bp.post("/counts/<int:count_id>/lines")
@login_required
def record(count_id: int):
    work = uow()
    form = request.form
    batch = form.get("batch", "").strip() or None
    try:
        if form.get("gtin") or form.get("counted"):
            cmd = svc.RecordLines(lines=(_counted_line(form),))
        else:
            # not str.splitlines: it also splits at GS (\x1d), the separator inside a pack's code
            raw = [line for line in re.split(r"\r\n|\r|\n", form.get("scans", "")) if line.strip()]
            if not raw:
                raise ValidationFailed({"scans": [_("Scan a pack or a product.")]})
            cmd = svc.RecordLines(scans=tuple(svc.CountScan(line.strip(), batch) for line in raw))
        done = svc.record_lines(work, count_id, cmd)
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("stock_counts_web.count", count_id=count_id, batch=batch or ""))
    for o in done.outcomes[-5:]:
        what = f"{o['gtin']} / {o['serial']}" if o["kind"] == "PACK" else f"{o['gtin']} {o['batch']}"
        if o["outcome"] == "NOT_OURS":
            flash(_("%(what)s: not on our books (%(problem)s); it will be reported.", what=what,
                    problem=NAMES.get(o["problem"], o["problem"])), "error")
        elif o["kind"] == "UNIT":
            flash(_("%(what)s: %(n)s counted.", what=what, n=o["counted"]), "success")
        else:
            flash(f"{what}: {NAMES[o['outcome']]}", "success")
    if cmd.lines:
        flash(_("Batch %(batch)s of %(gtin)s: %(n)s counted.", batch=cmd.lines[0].batch, gtin=cmd.lines[0].gtin,
                n=cmd.lines[0].counted), "success")
    return redirect(url_for("stock_counts_web.count", count_id=count_id, batch=batch or ""))


def _act(count_id: int, act, message: str):
    try:
        view = act(uow())
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("stock_counts_web.count", count_id=count_id))
    flash(message % {"number": view["number"]}, "success")
    return redirect(url_for("stock_counts_web.count", count_id=count_id))


@bp.post("/counts/<int:count_id>/submit")
@login_required
def submit(count_id: int):
    zero = request.form.get("uncounted_as_zero") == "1"
    return _act(count_id, lambda w: svc.submit_count(w, count_id, zero),
                _("Count %(number)s submitted for approval."))


@bp.post("/counts/<int:count_id>/approve")
@login_required
def approve(count_id: int):
    return _act(count_id, lambda w: svc.approve_count(w, count_id), _("Count %(number)s approved and posted."))


@bp.post("/counts/<int:count_id>/return")
@login_required
def return_count(count_id: int):
    note = request.form.get("note", "")
    return _act(count_id, lambda w: svc.return_count(w, count_id, note),
                _("Count %(number)s returned for recounting."))


@bp.post("/counts/<int:count_id>/cancel")
@login_required
def cancel(count_id: int):
    note = request.form.get("note", "")
    return _act(count_id, lambda w: svc.cancel_count(w, count_id, note), _("Count %(number)s cancelled."))


@bp.get("/findings")
@login_required
def findings():
    work = uow()
    args = request.args
    kind = args.get("kind") if args.get("kind") in [k.value for k in svc.FindingKind] else None
    status = args.get("status") if args.get("status") in [s.value for s in svc.FindingStatus] else None
    query = svc.FindingQuery(args.get("location_id", type=int), args.get("region") or None, kind, status,
                             args.get("count_id", type=int), _day("date_from"), _day("date_to"),
                             max(1, args.get("page", 1, type=int)), 50)
    page = svc.list_findings(work, query)
    return _render("stock/count_findings.html", page=page, query=query, kinds=list(svc.FindingKind),
                   statuses=list(svc.FindingStatus), regions=svc.regions(work))


@bp.post("/findings/<int:finding_id>/review")
@login_required
def review(finding_id: int):
    try:
        svc.review_finding(uow(), finding_id)
    except PharmaError as exc:
        flash_error(exc)
    else:
        flash(ngettext("%(num)s finding marked reviewed.", "%(num)s findings marked reviewed.", 1), "success")
    back = request.form.get("next", "")
    return redirect(back if back.startswith("/stock/findings") else url_for("stock_counts_web.findings"))
