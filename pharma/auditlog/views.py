"""The audit log page for regulators and administrators."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from pharma.auditlog import services as svc
from pharma.auditlog.schemas import AuditQueryIn
from pharma.shared.errors import ValidationFailed
from pharma.shared.http import login_required, uow

bp = Blueprint("auditlog_web", __name__, url_prefix="/audit")


@bp.get("/")
@login_required
def index():
    raw = {k: v for k, v in request.args.items() if v != ""}
    errors = AuditQueryIn().validate(raw)
    if errors:
        raise ValidationFailed(errors)
    args = AuditQueryIn().load(raw)
    page = svc.list_entries(uow(), svc.AuditQuery(**args))
    return render_template("auditlog/index.html", page=page, q=args)
