"""/api/v1/permits: import permit applications, the agency's decisions, the document, utilisation."""

from __future__ import annotations

from flask import Response, url_for
from flask_smorest import Blueprint

from pharma.permits import schemas as s
from pharma.permits import services as svc
from pharma.shared.http import uow

blp = Blueprint("permits_api", __name__,
                url_prefix="/api/v1/permits",
                description="Import permits: applications, decisions, drawdown")

PDF = {"description": "The permit document", "content": {"application/pdf": {"schema": {"type": "string",
                                                                                     "format": "binary"}}}}


@blp.post("")
@blp.arguments(s.PermitIn)
@blp.response(201, s.PermitOut)
def apply_for_permit(args):
    """Apply for an import permit for registered products (importer)."""
    return svc.apply_for_permit(uow(), s.application(args))


@blp.get("")
@blp.arguments(s.PermitQuery, location="query")
@blp.response(200, s.PermitPage)
def list_permits(args):
    """List permits by status, importer, product, number and dates; importers see their own."""
    return svc.list_permits(uow(), svc.PermitQuery(**args)).to_dict()


@blp.get("/utilisation")
@blp.arguments(s.UtilisationQuery, location="query")
@blp.response(200, s.UtilisationOut)
def permit_utilisation(args):
    """Approved, used and left packs per permit and line, with totals per importer and product."""
    return svc.permit_utilisation(uow(), svc.UtilisationQuery(**args))


@blp.get("/<int:permit_id>")
@blp.response(200, s.PermitOut)
def get_permit(permit_id):
    """One permit with its lines and how much of each is used."""
    return svc.get_permit(uow(), permit_id)


@blp.post("/<int:permit_id>/approve")
@blp.arguments(s.ApproveIn)
@blp.response(200, s.PermitOut)
def approve_permit(args, permit_id):
    """Approve an application, possibly for fewer packs or a shorter validity (regulator)."""
    return svc.approve_permit(uow(), permit_id, s.decision(args))


@blp.post("/<int:permit_id>/refuse")
@blp.arguments(s.PermitReasonIn)
@blp.response(200, s.PermitOut)
def refuse_permit(args, permit_id):
    """Refuse an application, with a reason (regulator)."""
    return svc.refuse_permit(uow(), permit_id, args["reason"])


@blp.post("/<int:permit_id>/revoke")
@blp.arguments(s.PermitReasonIn)
@blp.response(200, s.PermitOut)
def revoke_permit(args, permit_id):
    """Revoke an approved permit for good, with a reason (regulator)."""
    return svc.revoke_permit(uow(), permit_id, args["reason"])


@blp.get("/<int:permit_id>/pdf")
@blp.response(200, description="The permit document")
@blp.doc(responses={"200": PDF})
def permit_pdf(permit_id):
    """The permit as a PDF document with its number, importer, validity, lines and verification line."""
    body = svc.permit_document(uow(), permit_id, url_for("permits_web.verify", _external=True))
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="permit-{permit_id}.pdf"'})
