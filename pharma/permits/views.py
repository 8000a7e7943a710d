"""Pages of import permits: an importer's permits and application form, the regulator's queue,
a permit's page with the decision forms, utilisation, and the public check of a printed permit."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pharma.extensions import db
from pharma.parties.policy import authorize
from pharma.permits import domain as d
from pharma.permits import schemas as s
from pharma.permits import services as svc
from pharma.register import services as register_svc
from pharma.shared.errors import PharmaError, ValidationFailed
from pharma.shared.http import flash_error, load_form, login_required, uow
from pharma.shared.time import today

bp = Blueprint("permits_web", __name__, url_prefix="/permits")

ROWS, MAX_ROWS = 6, 30
STATUSES = [st.value for st in d.PermitStatus]


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _int(text: str | None) -> int | str | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else (text or None)


def _query(**fixed) -> svc.PermitQuery:
    status = request.args.get("status") or None
    values = dict(status=status if status in STATUSES else None,
                  importer_id=request.args.get("importer_id", type=int),
                  product_id=request.args.get("product_id", type=int),
                  number=request.args.get("number", "").strip()[:32] or None,
                  applied_from=_day("applied_from"), applied_to=_day("applied_to"),
                  page=max(1, request.args.get("page", 1, type=int)))
    values.update(fixed)
    return svc.PermitQuery(**values)


@bp.get("/")
@login_required
def index():
    work = uow()
    page = svc.list_permits(work, _query())
    return render_template("permits/index.html", page=page, args=request.args, statuses=STATUSES, queue=False,
                           importers=svc.importing_organisations(work), products=svc.permitted_products(work),
                           today=today(), status_of=d.effective_status)


@bp.get("/queue")
@login_required
def queue():
    work = uow()
    authorize(work.actor, "permits.decide")  # the queue is the regulator's
    page = svc.list_permits(work, _query(status="APPLIED", oldest_first=True))
    return render_template("permits/index.html", page=page, args=request.args, statuses=STATUSES, queue=True,
                           importers=svc.importing_organisations(work), products=[], today=today(),
                           status_of=d.effective_status)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    work = uow()
    authorize(work.actor, "permits.apply", work.actor.org_id)
    rows = min(MAX_ROWS, max(ROWS, request.values.get("rows", ROWS, type=int)))
    form = request.form
    if request.method == "GET":
        return render_template("permits/new.html", form=form, rows=rows, choices={})
    choices: dict[int, list] = {}
    try:
        lines = _lines(work, form, rows, choices)
        args = load_form(s.PermitIn, {"requested_valid_until": form.get("requested_valid_until", ""), "lines": lines})
        permit = svc.apply_for_permit(work, s.application(args))
    except PharmaError as exc:
        flash_error(exc)
        return render_template("permits/new.html", form=form, rows=rows, choices=choices), exc.status
    flash(_("Application %(number)s sent to the agency.", number=permit.number), "success")
    return redirect(url_for("permits_web.permit", permit_id=permit.id))


def _lines(work, form, rows: int, choices: dict[int, list]) -> list[dict]:
    """Each filled row names its product by a scanned GTIN, a trade name, or the product chosen
    from the matches a name found; a name with several matches offers them in a select."""
    lines, errors = [], {}
    for i in range(rows):
        text, choice = form.get(f"product_{i}", "").strip(), form.get(f"choice_{i}", "")
        packs = form.get(f"packs_{i}", "").strip()
        if not (text or packs):
            continue
        line = {"packs_requested": _int(packs), "manufacturer": form.get(f"manufacturer_{i}", "").strip() or None,
                "country_of_origin": form.get(f"country_{i}", "").strip().upper() or None}
        gtin = register_svc.gtin_in_query(text)
        if choice.isdigit():
            line["product_id"] = int(choice)
        elif gtin:
            line["gtin"] = gtin
        elif text:
            found = register_svc.search_products(work, register_svc.ProductQuery(q=text, status="active",
                                                                                 per_page=20))
            if found.total == 1:
                line["product_id"] = found.items[0].id
            elif found.total == 0:
                errors[f"row {i + 1}"] = [_("No product with a registration in force matches “%(q)s”.", q=text)]
            else:
                choices[i] = found.items
                errors[f"row {i + 1}"] = [_("Several products match “%(q)s”: choose one.", q=text)]
        else:
            errors[f"row {i + 1}"] = [_("Name the product: scan its GTIN or type its trade name.")]
        lines.append(line)
    if errors:
        raise ValidationFailed(errors)
    return lines


@bp.get("/<int:permit_id>")
@login_required
def permit(permit_id: int):
    item = svc.get_permit(uow(), permit_id)
    return render_template("permits/permit.html", permit=item, today=today(),
                           status=d.effective_status(item.status, item.valid_until, today()))


@bp.post("/<int:permit_id>/<action>")
@login_required
def decide(permit_id: int, action: str):
    if action not in ("approve", "refuse", "revoke"):
        abort(404)
    try:
        if action == "approve":
            args = load_form(s.ApproveIn, _approval_payload(request.form))
            item = svc.approve_permit(uow(), permit_id, s.decision(args))
        else:
            reason = load_form(s.PermitReasonIn, {"reason": request.form.get("reason", "")})["reason"]
            act = svc.refuse_permit if action == "refuse" else svc.revoke_permit
            item = act(uow(), permit_id, reason)
    except PharmaError as exc:
        flash_error(exc)
    else:
        flash(_("Permit %(number)s is now %(status)s.", number=item.number,
                status=_status_label(item.status)), "success")
    return redirect(url_for("permits_web.permit", permit_id=permit_id))


def _status_label(status: str) -> str:
    from pharma.labels import label

    return label(status).lower()


def _approval_payload(form) -> dict:
    lines = [{"line_id": int(key.removeprefix("line_")), "packs_approved": _int(value)}
             for key, value in form.items() if key.startswith("line_") and key.removeprefix("line_").isdigit()]
    return {"lines": lines or None, "valid_from": form.get("valid_from") or None,
            "valid_until": form.get("valid_until") or None, "reason": form.get("reason", "").strip() or None}


@bp.get("/<int:permit_id>/pdf")
@login_required
def pdf(permit_id: int):
    body = svc.permit_document(uow(), permit_id, url_for("permits_web.verify", _external=True))
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="permit-{permit_id}.pdf"'})


@bp.get("/utilisation")
@login_required
def utilisation():
    work = uow()
    status = request.args.get("status") or None
    query = svc.UtilisationQuery(importer_id=request.args.get("importer_id", type=int),
                                 product_id=request.args.get("product_id", type=int),
                                 status=status if status in ("APPROVED", "EXPIRED", "REVOKED") else None,
                                 page=max(1, request.args.get("page", 1, type=int)))
    result = svc.permit_utilisation(work, query)
    return render_template("permits/utilisation.html", result=result, page=result.page, query=query,
                           importers=svc.importing_organisations(work), products=svc.permitted_products(work),
                           today=today(), status_of=d.effective_status)


@bp.get("/verify")
def verify():
    """Public: anyone holding a printed permit checks its number and fingerprint."""
    number = request.args.get("number", "").strip()[:32]
    code = request.args.get("code", "").strip()[:32]
    found = svc.verify_permit(db.session, number, code) if number and code else None
    return render_template("permits/verify.html", number=number, code=code, permit=found, today=today(),
                           checked=bool(number and code), status_of=d.effective_status)
