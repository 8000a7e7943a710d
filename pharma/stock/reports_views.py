"""Pages: the pharmacist's expiry list (by band, earliest first, with links to write off and to the
stock card, and an acknowledgement per batch), and the stock reports with their CSV and XLSX
exports (``?format=csv|xlsx`` on the same address)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from pharma.shared.errors import Forbidden, InvalidIdentifier, PharmaError
from pharma.shared.http import flash_error, login_required, uow
from pharma.shared.identifiers import Batch
from pharma.shared.tabular import download
from pharma.stock import expiry as exp
from pharma.stock import reports as rep
from pharma.stock.domain import Kind
from pharma.stock.views import _location_id, gtin_of_scan

bp = Blueprint("stock_reports_web", __name__, url_prefix="/stock")

PER_PAGE = 100
BAND_LABELS = {"EXPIRED": _l("Expired"), "D30": _l("Expires within 30 days"), "D60": _l("Expires in 31 to 60 days"),
               "D90": _l("Expires in 61 to 90 days")}
SUMMARY_LABELS = {
    "lines": _l("Batches"), "units": _l("Units"), "value": _l("Value at cost"),
    "retail_value": _l("Value at retail prices"), "as_of": _l("As of"), "date_from": _l("From"), "date_to": _l("To"),
    "gtin": _l("GTIN"), "batch": _l("Batch"), "trade_name": _l("Product"), "opening": _l("Opening balance"),
    "opening_value": _l("Opening value"), "closing": _l("Closing balance"), "closing_value": _l("Closing value"),
    "days": _l("Days"), "products": _l("Products"), "per_day": _l("Average per day"),
}


CODE_LABELS = {  # the codes the report files keep, as the pages show them
    "IN_DATE": _l("In date"), "EXPIRED": _l("Expired"), "RECALLED": _l("Recalled"),
    "SERIALIZED": _l("serialized packs"), "QUANTITY": _l("quantity"), **BAND_LABELS,
}
CODED = ("band", "status", "kept_as", "recalled")


@bp.context_processor
def _labels() -> dict:
    return {"band_labels": BAND_LABELS, "summary_labels": SUMMARY_LABELS, "code_labels": CODE_LABELS,
            "coded": CODED}


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _band() -> str | None:
    band = request.args.get("band")
    return band if band in [b.value for b in exp.BANDS] else None


@bp.get("/expiry")
@login_required
def expiry():
    work = uow()
    location_id, locations = _location_id(work)
    band, result = _band(), None
    if location_id is not None:
        try:
            result = exp.expiry_list(work, exp.ExpiryQuery(location_id, band,
                                                           max(1, request.args.get("page", 1, type=int)), PER_PAGE))
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/expiry.html", result=None, locations=locations, location_id=location_id,
                                   band=band, bands=exp.BANDS, page=None), exc.status
    return render_template("stock/expiry.html", result=result, locations=locations, location_id=location_id,
                           band=band, bands=exp.BANDS, page=result.page if result else None)


@bp.post("/expiry/acknowledge")
@login_required
def acknowledge():
    work = uow()
    form = request.form
    location_id = form.get("location_id", type=int) or 0
    try:
        done = exp.acknowledge(work, exp.Acknowledge(location_id, gtin_of_scan(form.get("gtin", "")),
                                                     Batch.parse(form.get("batch", "")).value))
    except Forbidden:
        raise
    except PharmaError as exc:
        flash_error(exc)
    else:
        flash(_("Acknowledged batch %(batch)s of %(gtin)s.", batch=done["batch"], gtin=done["gtin"]), "success")
    return redirect(url_for("stock_reports_web.expiry", location_id=location_id or None,
                            band=form.get("band") or None))


REPORTS = {
    "on-hand": rep.on_hand, "card": rep.card, "movements": rep.movements, "expiry": rep.expiry,
    "consumption": rep.consumption,
}


def _build(name: str, work, location_id: int) -> rep.Report:
    a = request.args
    gtin = gtin_of_scan(a["gtin"]) if a.get("gtin", "").strip() else None
    if name == "on-hand":
        return rep.on_hand(work, location_id, gtin, _day("expiring_before"))
    if name == "card":
        if gtin is None:
            raise InvalidIdentifier("gtin", _("Scan or type the product's GTIN."))
        batch = Batch.parse(a["batch"]).value if a.get("batch", "").strip() else None
        return rep.card(work, location_id, gtin, batch, _day("date_from"), _day("date_to"))
    if name == "movements":
        kind = a.get("kind") if a.get("kind") in [k.value for k in Kind] else None
        return rep.movements(work, location_id, _day("date_from"), _day("date_to"), gtin, kind)
    if name == "expiry":
        return rep.expiry(work, location_id, _band())
    return rep.consumption(work, location_id, _day("date_from"), _day("date_to"))


@bp.get("/reports")
@login_required
def reports():
    work = uow()
    location_id, locations = _location_id(work)
    return render_template("stock/reports.html", locations=locations, location_id=location_id, kinds=list(Kind))


@bp.get("/reports/<name>")
@login_required
def report(name: str):
    if name not in REPORTS:
        abort(404)
    work = uow()
    location_id, locations = _location_id(work)
    fmt = request.args.get("format")
    result, page = None, max(1, request.args.get("page", 1, type=int))
    context = dict(name=name, locations=locations, location_id=location_id, kinds=list(Kind), bands=exp.BANDS)
    if location_id is not None and (name != "card" or request.args.get("gtin", "").strip()):
        try:
            report = _build(name, work, location_id)
            if fmt in ("csv", "xlsx"):
                return download(fmt, rep.file_name(report, fmt), report.columns, lambda: report.rows(whole=True),
                                sheet=str(report.title))
            result = report.page(page, PER_PAGE)
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/report.html", result=None, **context), exc.status
    return render_template("stock/report.html", result=result, **context)
