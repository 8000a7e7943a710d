"""Pages for the stock documents: write-off acts (draft by scanning, confirm, print) and returns to
the supplier (draft by scanning, send; the supplier confirms or rejects). A keyboard-wedge scanner
types each pack's code and Enter into the scan box: one pack per line."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from pharma.parties.models import Location, Organisation
from pharma.parties.policy import allowed
from pharma.shared.errors import InvalidIdentifier, PharmaError, ValidationFailed
from pharma.shared.http import flash_error, login_required, uow
from pharma.shared.identifiers import Batch
from pharma.stock import acts, returns
from pharma.stock import services as svc
from pharma.stock.documents import AddLines, BatchLine
from pharma.stock.documents_models import ACT_REASONS, ACT_STATES, RETURN_REASONS, RETURN_STATES
from pharma.stock.views import gtin_of_scan

bp = Blueprint("stock_documents_web", __name__, url_prefix="/stock")


def _lines(form) -> AddLines:
    """The scan box (one pack per line) and the batch row of a document's page."""
    scans = tuple(line.strip() for line in form.get("scans", "").splitlines() if line.strip())
    batches: tuple = ()
    gtin, batch, quantity = (form.get(k, "").strip() for k in ("gtin", "batch", "quantity"))
    if gtin or batch or quantity:
        try:
            batches = (BatchLine(gtin_of_scan(gtin), Batch.parse(batch).value, int(quantity)),)
        except InvalidIdentifier as exc:
            raise ValidationFailed({_("batch line"): [exc.message]}) from None
        except ValueError:
            raise ValidationFailed({_("batch line"): [_("Give the quantity as a whole number.")]}) from None
    return AddLines(scans=scans, batches=batches)


def _names(work, *ids) -> dict:
    """Location id -> "organisation, location (GLN)" for the page."""
    ids = [i for i in ids if i]
    if not ids:
        return {}
    rows = work.session.execute(
        select(Location.id, Location.name, Location.gln, Organisation.name)
        .join(Organisation, Organisation.id == Location.organisation_id).where(Location.id.in_(ids)))
    return {r[0]: f"{r[3]}, {r[1]} ({r[2]})" for r in rows}


# ---------------------------------------------------------------- write-off acts


@bp.get("/acts")
@login_required
def acts_index():
    work = uow()
    locations = svc.locations_for(work)
    status = request.args.get("status") if request.args.get("status") in ACT_STATES else None
    page = acts.list_acts(work, acts.ActQuery(request.args.get("location_id", type=int), status,
                                              max(1, request.args.get("page", 1, type=int)), 25))
    names = _names(work, *{a["location_id"] for a in page.items})
    return render_template("stock/acts.html", page=page, locations=locations, reasons=ACT_REASONS, states=ACT_STATES,
                           status=status, names=names, form=request.form)


@bp.post("/acts")
@login_required
def act_create():
    work = uow()
    form = request.form
    try:
        act = acts.create_act(work, acts.NewAct(form.get("location_id", type=int) or 0, form.get("reason", ""),
                                                form.get("note", "")))
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("stock_documents_web.acts_index"))
    flash(_("Write-off act %(number)s drafted. Scan the packs to write off.", number=act.number), "success")
    return redirect(url_for("stock_documents_web.act_page", act_id=act.id))


def _act_page(work, act_id: int, status: int = 200, problems=None):
    act = acts.get_act(work, act_id)
    may_write = act.status == "DRAFT" and allowed(work.actor, "stock.act.write", act.organisation_id)
    may_confirm = act.status == "DRAFT" and allowed(work.actor, "stock.act.confirm", act.organisation_id)
    return render_template("stock/act.html", act=act, names=_names(work, act.location_id), may_write=may_write,
                           may_confirm=may_confirm, problems=problems or []), status


@bp.get("/acts/<int:act_id>")
@login_required
def act_page(act_id: int):
    return _act_page(uow(), act_id)


@bp.get("/acts/<int:act_id>/print")
@login_required
def act_print(act_id: int):
    work = uow()
    act = acts.get_act(work, act_id)
    return render_template("stock/act_print.html", act=act, names=_names(work, act.location_id))


@bp.get("/acts/<int:act_id>/pdf")
@login_required
def act_pdf(act_id: int):
    from pharma.stock.acts_pdf import render_act

    work = uow()
    act = acts.get_act(work, act_id)
    body = render_act(act, _names(work, act.location_id).get(act.location_id, ""))
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{act.number}.pdf"'})


def _act_step(act_id: int, step, done: str):
    work = uow()
    try:
        step(work)
    except PharmaError as exc:
        flash_error(exc)
        return _act_page(uow(), act_id, exc.status, exc.extra.get("lines"))
    flash(done, "success")
    return redirect(url_for("stock_documents_web.act_page", act_id=act_id))


@bp.post("/acts/<int:act_id>/lines")
@login_required
def act_lines(act_id: int):
    return _act_step(act_id, lambda w: acts.add_act_lines(w, act_id, _lines(request.form)), _("Lines added."))


@bp.post("/acts/<int:act_id>/lines/<int:line_id>/remove")
@login_required
def act_line_remove(act_id: int, line_id: int):
    return _act_step(act_id, lambda w: acts.remove_act_line(w, act_id, line_id), _("Line removed."))


@bp.post("/acts/<int:act_id>/confirm")
@login_required
def act_confirm(act_id: int):
    return _act_step(act_id, lambda w: acts.confirm_act(w, act_id),
                     _("Write-off act confirmed: the stock is written off."))


@bp.post("/acts/<int:act_id>/cancel")
@login_required
def act_cancel(act_id: int):
    return _act_step(act_id, lambda w: acts.cancel_act(w, act_id), _("Write-off act cancelled."))


# ---------------------------------------------------------------- returns to the supplier


@bp.get("/returns")
@login_required
def returns_index():
    work = uow()
    direction = request.args.get("direction") if request.args.get("direction") in ("incoming", "outgoing") else None
    status = request.args.get("status") if request.args.get("status") in RETURN_STATES else None
    page = returns.list_returns(work, returns.ReturnQuery(direction, status, None,
                                                          max(1, request.args.get("page", 1, type=int)), 25))
    may_write = allowed(work.actor, "stock.return.write")
    locations = svc.locations_for(work, "stock.return.write") if may_write else []
    suppliers = returns.supplier_locations(work) if may_write else []
    names = _names(work, *{r["location_id"] for r in page.items}, *{r["supplier_location_id"] for r in page.items})
    return render_template("stock/returns.html", page=page, locations=locations, suppliers=suppliers,
                           reasons=RETURN_REASONS, states=RETURN_STATES, status=status, direction=direction,
                           names=names, may_write=may_write)


@bp.post("/returns")
@login_required
def return_create():
    work = uow()
    form = request.form
    try:
        ret = returns.create_return(work, returns.NewReturn(
            form.get("location_id", type=int) or 0, form.get("reason", ""), form.get("note", ""),
            form.get("supplier_location_id", type=int) or None))
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("stock_documents_web.returns_index"))
    flash(_("Return %(number)s drafted. Scan the packs to send back.", number=ret.number), "success")
    return redirect(url_for("stock_documents_web.return_page", return_id=ret.id))


def _return_page(work, return_id: int, status: int = 200, problems=None):
    ret = returns.get_return(work, return_id)
    may_write = ret.status == "DRAFT" and allowed(work.actor, "stock.return.write", ret.organisation_id)
    may_decide = (ret.status == "SENT" and ret.supplier_org_id is not None
                  and allowed(work.actor, "stock.return.confirm", ret.supplier_org_id))
    return render_template("stock/return.html", ret=ret, names=_names(work, ret.location_id, ret.supplier_location_id),
                           may_write=may_write, may_decide=may_decide, problems=problems or []), status


@bp.get("/returns/<int:return_id>")
@login_required
def return_page(return_id: int):
    return _return_page(uow(), return_id)


def _return_step(return_id: int, step, done: str):
    work = uow()
    try:
        step(work)
    except PharmaError as exc:
        flash_error(exc)
        return _return_page(uow(), return_id, exc.status, exc.extra.get("lines"))
    flash(done, "success")
    return redirect(url_for("stock_documents_web.return_page", return_id=return_id))


@bp.post("/returns/<int:return_id>/lines")
@login_required
def return_lines(return_id: int):
    return _return_step(return_id, lambda w: returns.add_return_lines(w, return_id, _lines(request.form)),
                        _("Lines added."))


@bp.post("/returns/<int:return_id>/lines/<int:line_id>/remove")
@login_required
def return_line_remove(return_id: int, line_id: int):
    return _return_step(return_id, lambda w: returns.remove_return_line(w, return_id, line_id), _("Line removed."))


@bp.post("/returns/<int:return_id>/send")
@login_required
def return_send(return_id: int):
    return _return_step(return_id, lambda w: returns.send_return(w, return_id),
                        _("Return sent: the stock is on its way back to the supplier."))


@bp.post("/returns/<int:return_id>/cancel")
@login_required
def return_cancel(return_id: int):
    return _return_step(return_id, lambda w: returns.cancel_return(w, return_id), _("Return cancelled."))


@bp.post("/returns/<int:return_id>/confirm")
@login_required
def return_confirm(return_id: int):
    return _return_step(return_id, lambda w: returns.confirm_return(w, return_id),
                        _("Return confirmed: the stock is on your books."))


@bp.post("/returns/<int:return_id>/reject")
@login_required
def return_reject(return_id: int):
    return _return_step(return_id, lambda w: returns.reject_return(w, return_id, request.form.get("reason", "")),
                        _("Return rejected: the stock goes back to the pharmacy."))

