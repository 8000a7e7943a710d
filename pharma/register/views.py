"""Pages of the register: search (a scanned GTIN works in the box), a product's page, and the
regulator's forms: register a product, act on its certificate, set its maximum price."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pharma.parties.policy import authorize
from pharma.register import domain as d
from pharma.register import schemas as s
from pharma.register import services as svc
from pharma.register import tasks as _tasks  # noqa: F401  (the worker learns the register's tasks)
from pharma.shared.errors import PharmaError
from pharma.shared.http import flash_error, load_form, login_required, uow
from pharma.shared.time import today

bp = Blueprint("register_web", __name__, url_prefix="/register")

ACTIONS = {
    "suspend": (svc.suspend_certificate, s.ReasonIn),
    "reinstate": (svc.reinstate_certificate, s.ReasonIn),
    "revoke": (svc.revoke_certificate, s.ReasonIn),
    "renew": (svc.renew_certificate, s.RenewIn),
}
SUBSTANCE_ROWS = 3


def money(qepik: int | None) -> str:
    if qepik is None:
        return "—"
    return f"{qepik // 100}.{qepik % 100:02d} AZN"


def _choices() -> dict:
    return {"forms": [f.value for f in d.DosageForm], "routes": [r.value for r in d.Route],
            "pack_units": list(d.PACK_UNITS), "schedules": list(d.SCHEDULES),
            "statuses": [st.value for st in d.CertificateStatus]}


def _flag(name: str) -> bool | None:
    value = request.args.get(name, "")
    return {"yes": True, "no": False}.get(value)


def _qepik(text: str) -> int | str:
    """'12.50' (AZN, as typed on the page) → 1250 qəpik; anything else is left for the schema to refuse."""
    try:
        amount = Decimal(text.replace(",", ".").strip())
    except InvalidOperation:
        return text
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        return text
    return int(amount * 100)


@bp.get("/")
@login_required
def search():
    query = svc.ProductQuery(
        q=request.args.get("q", "")[:200], status=request.args.get("status") or None,
        rx=_flag("rx"), controlled=_flag("controlled"),
        dosage_form=request.args.get("dosage_form") or None,
        page=max(1, request.args.get("page", 1, type=int)))
    if query.status and query.status not in _choices()["statuses"]:
        query = svc.ProductQuery(q=query.q, page=query.page)
    page = svc.search_products(uow(), query)
    # a scanned GTIN that names exactly one product opens it, so the scanner's Enter is enough
    if page.total == 1 and svc.gtin_in_query(query.q):
        return redirect(url_for("register_web.product", product_id=page.items[0].id))
    return render_template("register/search.html", page=page, query=query, args=request.args,
                           money=money, today=today(), **_choices())


@bp.get("/products/<int:product_id>")
@login_required
def product(product_id: int):
    item = svc.get_product(uow(), product_id)
    return render_template("register/product.html", product=item, money=money, today=today(),
                           current=item.price_on(today()), **_choices())


@bp.post("/certificates/<int:certificate_id>/<action>")
@login_required
def certificate_action(certificate_id: int, action: str):
    if action not in ACTIONS:
        abort(404)
    act, schema = ACTIONS[action]
    back = request.form.get("product_id", type=int)
    try:
        args = load_form(schema, {k: v for k, v in request.form.items() if k in schema().fields})
        cert = act(uow(), certificate_id, **args)
    except PharmaError as exc:
        flash_error(exc)
    else:
        back = cert.product_id
        flash(_("Certificate %(number)s is now %(status)s.", number=cert.number, status=_(cert.status)),
              "success")
    if back is None:
        return redirect(url_for("register_web.search"))
    return redirect(url_for("register_web.product", product_id=back))


@bp.post("/products/<int:product_id>/prices")
@login_required
def set_price(product_id: int):
    try:
        data = {k: v for k, v in request.form.items() if k in s.PriceIn().fields and v != ""}
        if "max_retail_price" in data:
            data["max_retail_price"] = _qepik(data["max_retail_price"])
        args = load_form(s.PriceIn, data)
        record = svc.set_max_price(uow(), product_id, svc.NewPrice(**args))
    except PharmaError as exc:
        flash_error(exc)
    else:
        flash(_("Maximum retail price %(price)s from %(day)s.", price=money(record.max_retail_price),
                day=record.effective_from.isoformat()), "success")
    return redirect(url_for("register_web.product", product_id=product_id))


@bp.route("/products/new", methods=["GET", "POST"])
@login_required
def new_product():
    work = uow()
    authorize(work.actor, "register.manage")  # the form itself is the regulator's
    form = request.form
    if request.method == "POST":
        try:
            args = load_form(s.ProductIn, _product_payload(form))
            item = svc.register_product(work, s.new_product(args))
        except PharmaError as exc:
            flash_error(exc)
            return render_template("register/new_product.html", form=form, rows=SUBSTANCE_ROWS,
                                   **_choices()), exc.status
        flash(_("%(name)s registered.", name=item.trade_name), "success")
        return redirect(url_for("register_web.product", product_id=item.id))
    return render_template("register/new_product.html", form=form, rows=SUBSTANCE_ROWS, **_choices())


def _product_payload(form) -> dict:
    substances = [{"inn": form.get(f"inn_{i}", "").strip(), "strength": form.get(f"strength_{i}", "").strip()}
                  for i in range(SUBSTANCE_ROWS)]
    payload = {
        "trade_name": form.get("trade_name", "").strip(),
        "substances": [line for line in substances if line["inn"] or line["strength"]],
        "atc_code": form.get("atc_code", "").strip().upper(),
        "dosage_form": form.get("dosage_form", ""),
        "route": form.get("route", ""),
        "pack_size": form.get("pack_size", type=int),
        "pack_unit": form.get("pack_unit", ""),
        "gtins": [g for g in form.get("gtins", "").replace(",", " ").split() if g],
        "rx": form.get("rx") == "yes",
        "controlled_schedule": form.get("controlled_schedule") or None,
        "certificate": {
            "number": form.get("number", "").strip(),
            "holder": form.get("holder", "").strip(),
            "manufacturer": form.get("manufacturer", "").strip(),
            "country": form.get("country", "").strip().upper(),
            "issued": form.get("issued", ""),
            "valid_until": form.get("valid_until", ""),
        },
    }
    if form.get("max_retail_price"):
        payload["max_retail_price"] = _qepik(form.get("max_retail_price", ""))
        payload["price_from"] = form.get("price_from") or None
    return payload
