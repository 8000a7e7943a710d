"""/api/v1/audit: the audit log of every write."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.auditlog import services as svc
from pharma.auditlog.schemas import AuditPage, AuditQueryIn
from pharma.shared.http import uow

blp = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit",
                description="Who did what, to which object, when (regulators and administrators)")


@blp.get("/entries")
@blp.arguments(AuditQueryIn, location="query")
@blp.response(200, AuditPage)
def list_entries(args):
    """Filter the audit log, newest first."""
    return svc.list_entries(uow(), svc.AuditQuery(**args)).to_dict()
