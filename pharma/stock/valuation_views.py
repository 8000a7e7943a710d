"""Pages: retail prices (the head pharmacist sets them; a scanner types the GTIN), the stock value
of a location and of every location (the agency), and the valuation method with its cost layers."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pharma.parties.policy import allowed, scoped_org
from pharma.shared.errors import InvalidIdentifier, PharmaError, ValidationFailed
from pharma.shared.http import flash_error, login_required, uow
from pharma.stock import prices as svc
from pharma.stock import services as stock_svc
from pharma.stock import valuation
from pharma.stock.views import _money, gtin_of_scan

bp = Blueprint("stock_valuation_web", __name__, url_prefix="/stock")


def _location_id(work) -> tuple[int | None, list]:
    locations = stock_svc.locations_for(work)
    chosen = request.values.get("location_id", type=int)
    if chosen is None and locations:
        chosen = locations[0].id
    return chosen, locations


def _gtin(text: str, field: str = "gtin") -> str:
    try:
        return gtin_of_scan(text)
    except InvalidIdentifier as exc:
        raise ValidationFailed({field: [exc.message]}, detail=exc.message) from None


@bp.route("/prices", methods=["GET", "POST"])
@login_required
def prices():
    work = uow()
    locations = stock_svc.locations_for(work)
    form = request.form
    status = 200
    if request.method == "POST":
        try:
            valid_from = form.get("valid_from", "").strip()
            location_id = form.get("location_id", type=int)
            price = svc.set_retail_price(work, svc.SetRetailPrice(
                _gtin(form.get("gtin", "")), _money(form.get("price", ""), "price"), None,
                location_id if form.get("scope") == "location" else None,
                date.fromisoformat(valid_from) if valid_from else None))
        except ValueError:
            flash(_("Give the date as YYYY-MM-DD."), "error")
            status = 422
        except PharmaError as exc:
            flash_error(exc)
            status = exc.status
        else:
            flash(_("Price %(price)s set for %(gtin)s from %(day)s.", price="%.2f" % (price["price"] / 100),
                    gtin=price["gtin"], day=price["valid_from"].isoformat()), "success")
            return redirect(url_for("stock_valuation_web.prices", gtin=price["gtin"]))
    gtin_text = request.args.get("gtin", "").strip()
    page = None
    try:
        gtin = _gtin(gtin_text) if gtin_text else None
        page = svc.list_prices(work, svc.PriceQuery(
            request.args.get("organisation_id", type=int), None, gtin, request.args.get("history") == "1",
            max(1, request.args.get("page", 1, type=int)), 50))
    except PharmaError as exc:
        flash_error(exc)
        status = status if status != 200 else exc.status
    may_set = allowed(work.actor, "stock.price.manage", work.actor.org_id)
    return render_template("stock/prices.html", page=page, locations=locations, form=form, gtin=gtin_text,
                           may_set=may_set, today=date.today()), status


@bp.get("/value")
@login_required
def value():
    work = uow()
    location_id, locations = _location_id(work)
    result, overview = None, None
    try:
        if location_id is not None:
            result = svc.stock_value(work, location_id, max(1, request.args.get("page", 1, type=int)), 50)
        elif scoped_org(work.actor, "stock.read") is None:
            overview = svc.value_by_location(work, request.args.get("organisation_id", type=int),
                                             max(1, request.args.get("page", 1, type=int)), 50)
    except PharmaError as exc:
        flash_error(exc)
        return render_template("stock/value.html", result=None, overview=None, locations=locations,
                               location_id=location_id), exc.status
    return render_template("stock/value.html", result=result, overview=overview, locations=locations,
                           location_id=location_id, page=result.page if result else overview)


@bp.route("/valuation", methods=["GET", "POST"])
@login_required
def method():
    work = uow()
    location_id, locations = _location_id(work)
    status = 200
    if request.method == "POST":
        try:
            change = valuation.set_method(work, None, request.form.get("method", ""))
        except PharmaError as exc:
            flash_error(exc)
            status = exc.status
        else:
            if change.method == change.previous:
                flash(_("The valuation method stays %(method)s.", method=_method_label(change.method)), "success")
            else:
                flash(_("Stock is now valued by %(method)s; %(n)s balances revalued.",
                        method=_method_label(change.method), n=change.balances), "success")
            return redirect(url_for("stock_valuation_web.method"))
    current, layers = None, []
    try:
        if work.actor.org_id is not None and allowed(work.actor, "stock.read", work.actor.org_id) and locations:
            current = valuation.get_method(work, work.actor.org_id)
        if location_id is not None:
            layers = valuation.layers_of(work, location_id)
    except PharmaError as exc:
        flash_error(exc)
        status = status if status != 200 else exc.status
    may_set = work.actor.org_id is not None and allowed(work.actor, "stock.valuation.manage", work.actor.org_id)
    return render_template("stock/valuation.html", current=current, layers=layers, locations=locations,
                           location_id=location_id, may_set=may_set, methods=list(valuation.Method),
                           label=_method_label), status


def _method_label(method: str) -> str:
    return {"FIFO": _("first in, first out (FIFO)"), "WEIGHTED_AVERAGE": _("weighted average cost")}.get(method,
                                                                                                        method)
