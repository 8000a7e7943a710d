"""Pages: an importer uploads a declaration and follows it; everyone allowed reads the result."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from pharma.extensions import db
from pharma.parties.models import Location
from pharma.parties.policy import allowed
from pharma.shared.errors import PharmaError, ValidationFailed
from pharma.shared.http import flash_error, login_required, uow
from pharma.trace import declarations as svc

bp = Blueprint("declarations_web", __name__, url_prefix="/declarations")


def submit_and_process(permit_id: int, location_id: int, upload, fmt: str | None):
    """Store the upload, then hand it to a worker (or run it here when no broker is set)."""
    from pharma.trace.tasks import process_declaration

    name = upload.filename or ""
    fmt = fmt or ("json" if name.lower().endswith(".json") else "csv" if name.lower().endswith(".csv") else "")
    if not fmt:
        raise ValidationFailed({"format": ["Give format=csv or json, or a file name ending in .csv or .json."]})
    declaration = svc.submit_declaration(uow(), svc.NewDeclaration(
        permit_id=permit_id, location_id=location_id, source_format=fmt, filename=name,
        content=upload.read()))
    process_declaration.delay(declaration.id)
    db.session.expire(declaration)  # a worker (or the inline run) has moved it on
    return svc.get_declaration(uow(), declaration.id)


@bp.get("/")
@login_required
def index():
    work = uow()
    page = svc.list_declarations(work, request.args.get("status") or None,
                                 max(1, request.args.get("page", 1, type=int)), 25)
    locations, permits = [], []
    if allowed(work.actor, "trace.declare", work.actor.org_id) and work.actor.org_id:
        locations = list(db.session.scalars(select(Location).where(Location.organisation_id == work.actor.org_id)))
        permits = svc.usable_permits(db.session, work.actor.org_id)
    return render_template("trace/declarations/index.html", page=page, locations=locations, permits=permits)


@bp.post("/")
@login_required
def submit():
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed({"file": [_("Choose a CSV or JSON file.")]})
        declaration = submit_and_process(request.form.get("permit_id", type=int) or 0,
                                         request.form.get("location_id", type=int) or 0, upload,
                                         request.form.get("format") or None)
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("declarations_web.index"))
    flash(_("Declaration %(number)s received.", number=declaration.number), "success")
    return redirect(url_for("declarations_web.show", declaration_id=declaration.id))


@bp.get("/<int:declaration_id>")
@login_required
def show(declaration_id: int):
    declaration = svc.get_declaration(uow(), declaration_id)
    return render_template("trace/declarations/show.html", d=declaration)


@bp.get("/<int:declaration_id>/errors.csv")
@login_required
def errors_csv(declaration_id: int):
    declaration = svc.get_declaration(uow(), declaration_id)
    return Response(svc.error_report_csv(declaration), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{declaration.number}-errors.csv"'})
