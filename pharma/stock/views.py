"""Pages for a pharmacist's stock: stock on hand with filters, receiving by quantity, selling or
dispensing by scanning (a keyboard-wedge scanner types the code and Enter: each scanned line is
one unit), and a product's stock card."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from pharma.shared.errors import InvalidIdentifier, PharmaError, ValidationFailed
from pharma.shared.http import flash_error, login_required, uow
from pharma.shared.identifiers import Batch, Gtin
from pharma.shared.time import today
from pharma.stock import services as svc
from pharma.stock.domain import ISSUE_KINDS, WRITE_OFF_REASONS, Kind

bp = Blueprint("stock_web", __name__, url_prefix="/stock")

RECEIPT_ROWS = 6
_AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_GS1_GTIN = re.compile(r"^(?:\(01\)|01)(\d{14})")
_COUNTED = re.compile(r"^(.+?)\s*[*x×]\s*(\d{1,6})$")


def gtin_of_scan(text: str) -> str:
    """The GTIN-14 of a scanned or typed code: a plain EAN/UPC/GTIN, or a GS1 string starting with (01)."""
    code = _AIM.sub("", (text or "").strip()).replace(" ", "")
    match = _GS1_GTIN.match(code)
    if match and not (code.isdigit() and len(code) in (8, 12, 13, 14)):
        code = match.group(1)
    return Gtin.parse(code).value


def issue_lines(text: str) -> tuple[svc.IssueLine, ...]:
    """One unit per scanned line; a typed ``code * 3`` counts three. Bad lines are named together."""
    counts: Counter[str] = Counter()
    errors: dict[str, list[str]] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = _COUNTED.match(line.strip())
        code, n = (match.group(1), int(match.group(2))) if match else (line, 1)
        try:
            counts[gtin_of_scan(code)] += n
        except InvalidIdentifier as exc:
            errors[_("line %(n)s", n=number)] = [exc.message]
    if errors:
        raise ValidationFailed(errors, detail=_("Some scanned lines are not codes we can read."))
    if not counts:
        raise ValidationFailed({"scans": [_("Scan at least one pack.")]})
    return tuple(svc.IssueLine(gtin, n) for gtin, n in counts.items())


def _location_id(work) -> tuple[int | None, list]:
    """The location the page is about: chosen, else the caller's first; the agency types an id."""
    locations = svc.locations_for(work)
    chosen = request.values.get("location_id", type=int)
    if chosen is None and locations:
        chosen = locations[0].id
    return chosen, locations


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("")
@login_required
def on_hand():
    work = uow()
    location_id, locations = _location_id(work)
    result, gtin_text = None, request.args.get("gtin", "").strip()
    if location_id is not None:
        try:
            gtin = gtin_of_scan(gtin_text) if gtin_text else None
            result = svc.stock_on_hand(work, svc.BalanceQuery(
                location_id, gtin, _day("expiring_before"), max(1, request.args.get("page", 1, type=int)), 50))
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/index.html", result=None, locations=locations, location_id=location_id,
                                   gtin=gtin_text), exc.status
    return render_template("stock/index.html", result=result, locations=locations, location_id=location_id,
                           gtin=gtin_text, page=result.page if result else None)


def _money(text: str, field: str) -> int:
    try:
        value = Decimal((text or "").replace(",", ".").strip())
    except InvalidOperation:
        raise ValidationFailed({field: [_("Give the cost as a number, e.g. 12.50.")]}) from None
    if value < 0:
        raise ValidationFailed({field: [_("The cost cannot be negative.")]})
    return int((value * 100).to_integral_value())


def _form_rows(form, fields: tuple[str, ...], build, value_error: str) -> tuple:
    """The filled rows of a table form (``<field>-<i>``), each built by ``build(raw, i)``; the bad rows
    are named together. ``value_error``: what a ValueError from ``build`` means to the person."""
    lines, errors = [], {}
    for i in range(RECEIPT_ROWS):
        raw = {k: form.get(f"{k}-{i}", "").strip() for k in fields}
        if not any(raw.values()):
            continue
        row = _("row %(n)s", n=i + 1)
        try:
            line = build(raw, i)
        except InvalidIdentifier as exc:
            errors[row] = [exc.message]
        except ValidationFailed as exc:
            errors[row] = [m for ms in exc.errors.values() for m in ms]
        except ValueError:
            errors[row] = [value_error]
        else:
            if line.quantity < 1:
                errors[row] = [_("The quantity must be at least 1.")]
            lines.append(line)
    if errors:
        raise ValidationFailed(errors)
    return tuple(lines)


def _receipt_lines(form) -> tuple[svc.ReceiptLine, ...]:
    return _form_rows(form, ("gtin", "batch", "expiry", "quantity", "cost"), lambda raw, i: svc.ReceiptLine(
        gtin_of_scan(raw["gtin"]), Batch.parse(raw["batch"]).value, date.fromisoformat(raw["expiry"]),
        int(raw["quantity"]), _money(raw["cost"], f"cost-{i}")),
        _("Give the expiry as a date and the quantity as a whole number."))


@bp.route("/receive", methods=["GET", "POST"])
@login_required
def receive():
    work = uow()
    locations = svc.locations_for(work, "stock.write")
    form = request.form
    if request.method == "POST":
        try:
            posted = svc.receive_stock(work, svc.ReceiveStock(
                form.get("location_id", type=int) or 0, form.get("document", ""), _receipt_lines(form),
                form.get("supplier", "").strip()[:200]))
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/receive.html", form=form, locations=locations, rows=RECEIPT_ROWS), exc.status
        units = sum(m["quantity"] for m in posted.movements)
        flash(ngettext("Received %(num)s unit, document %(doc)s.", "Received %(num)s units, document %(doc)s.", units,
                       doc=posted.document_id), "success")
        return redirect(url_for("stock_web.on_hand", location_id=posted.location_id))
    return render_template("stock/receive.html", form=form, locations=locations, rows=RECEIPT_ROWS)


@bp.route("/issue", methods=["GET", "POST"])
@login_required
def issue():
    work = uow()
    locations = svc.locations_for(work, "stock.write")
    form = request.form
    if request.method == "POST":
        try:
            posted = svc.issue_stock(work, svc.IssueStock(
                form.get("location_id", type=int) or 0, form.get("kind", "SALE"), form.get("document", ""),
                issue_lines(form.get("scans", ""))))
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/issue.html", form=form, locations=locations, kinds=ISSUE_KINDS,
                                   posted=None), exc.status
        units = -sum(m["quantity"] for m in posted.movements)
        flash(ngettext("Issued %(num)s unit, document %(doc)s.", "Issued %(num)s units, document %(doc)s.", units,
                       doc=posted.document_id), "success")
        return render_template("stock/issue.html", form={"location_id": str(posted.location_id),
                                                         "kind": form.get("kind")},
                               locations=locations, kinds=ISSUE_KINDS, posted=posted)
    return render_template("stock/issue.html", form=form, locations=locations, kinds=ISSUE_KINDS, posted=None)


@bp.route("/write-off", methods=["GET", "POST"])
@login_required
def write_off():
    work = uow()
    locations = svc.locations_for(work, "stock.write")
    form = request.values
    if request.method == "POST":
        try:
            line = svc.WriteOffLine(gtin_of_scan(form.get("gtin", "")), Batch.parse(form.get("batch", "")).value,
                                    form.get("quantity", type=int) or 0)
            posted = svc.write_off(work, svc.WriteOff(form.get("location_id", type=int) or 0, form.get("reason", ""),
                                                      form.get("document", ""), (line,), form.get("note", "")))
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/write_off.html", form=form, locations=locations,
                                   reasons=WRITE_OFF_REASONS), exc.status
        units = -sum(m["quantity"] for m in posted.movements)
        flash(ngettext("Wrote off %(num)s unit, document %(doc)s.", "Wrote off %(num)s units, document %(doc)s.", units,
                       doc=posted.document_id), "success")
        return redirect(url_for("stock_web.on_hand", location_id=posted.location_id))
    return render_template("stock/write_off.html", form=form, locations=locations, reasons=WRITE_OFF_REASONS)


@bp.get("/card")
@login_required
def card():
    work = uow()
    location_id, locations = _location_id(work)
    gtin_text, batch = request.args.get("gtin", "").strip(), request.args.get("batch", "").strip() or None
    date_to = _day("date_to") or today()
    date_from = _day("date_from") or date_to - timedelta(days=30)
    result = None
    if gtin_text and location_id is not None:
        try:
            result = svc.stock_card(work, location_id, gtin_of_scan(gtin_text), batch, date_from, date_to)
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/card.html", result=None, locations=locations, location_id=location_id,
                                   gtin=gtin_text, batch=batch, date_from=date_from, date_to=date_to), exc.status
    return render_template("stock/card.html", result=result, locations=locations, location_id=location_id,
                           gtin=gtin_text, batch=batch, date_from=date_from, date_to=date_to)


@bp.get("/movements")
@login_required
def movements():
    work = uow()
    location_id, locations = _location_id(work)
    kind = request.args.get("kind") if request.args.get("kind") in [k.value for k in Kind] else None
    gtin_text = request.args.get("gtin", "").strip()
    page = None
    if location_id is not None:
        try:
            page = svc.journal(work, svc.MovementQuery(
                location_id, gtin_of_scan(gtin_text) if gtin_text else None, None, kind, _day("date_from"),
                _day("date_to"), max(1, request.args.get("page", 1, type=int)), 50))
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/movements.html", page=None, locations=locations, location_id=location_id,
                                   gtin=gtin_text, kind=kind, kinds=list(Kind)), exc.status
    return render_template("stock/movements.html", page=page, locations=locations, location_id=location_id,
                           gtin=gtin_text, kind=kind, kinds=list(Kind))


def _transfer_lines(form) -> tuple:
    from pharma.stock.transfers import TransferLine

    return _form_rows(form, ("gtin", "batch", "quantity"), lambda raw, i: TransferLine(
        gtin_of_scan(raw["gtin"]), Batch.parse(raw["batch"]).value, int(raw["quantity"])),
        _("Give the quantity as a whole number."))


@bp.route("/transfer", methods=["GET", "POST"])
@login_required
def transfer():
    from pharma.stock.transfers import TransferStock, transfer_stock

    work = uow()
    locations = svc.locations_for(work, "stock.write")
    form = request.form
    if request.method == "POST":
        try:
            done = transfer_stock(work, TransferStock(
                form.get("from_location_id", type=int) or 0, form.get("to_location_id", type=int) or 0,
                form.get("document", ""), _transfer_lines(form), form.get("note", "").strip()[:500]))
        except PharmaError as exc:
            flash_error(exc)
            return render_template("stock/transfer.html", form=form, locations=locations, rows=RECEIPT_ROWS), exc.status
        units = -sum(m["quantity"] for m in done.sent.movements)
        flash(ngettext("Transferred %(num)s unit, transfer note %(doc)s.",
                       "Transferred %(num)s units, transfer note %(doc)s.", units, doc=done.document_id), "success")
        return redirect(url_for("stock_web.on_hand", location_id=done.received.location_id))
    return render_template("stock/transfer.html", form=form, locations=locations, rows=RECEIPT_ROWS)
