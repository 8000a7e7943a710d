"""/api/v1/declarations: upload an arrival declaration, follow its progress, read its errors."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from pharma.shared.http import uow
from pharma.trace import declarations as svc
from pharma.trace import schemas_declarations as s
from pharma.trace import tasks as _tasks  # noqa: F401  (the worker learns the task here)
from pharma.trace.views_declarations import submit_and_process

blp = Blueprint("declarations_api", __name__, url_prefix="/api/v1/declarations",
                description="Arrival declarations that commission serialized packs")


@blp.post("")
@blp.arguments(s.DeclarationForm, location="form")
@blp.arguments(s.DeclarationFile, location="files")
@blp.response(202, s.DeclarationOut)
def submit(form, files):
    """Upload a declaration (CSV or JSON); it is checked and commissioned in the background."""
    return submit_and_process(form["permit_id"], form["location_id"], files["file"], form["format"])


@blp.get("")
@blp.arguments(s.DeclarationQuery, location="query")
@blp.response(200, s.DeclarationPage)
def list_declarations(args):
    """Declarations, the caller's own unless the caller sees all."""
    return svc.list_declarations(uow(), args["status"], args["page"], args["per_page"]).to_dict()


@blp.get("/<int:declaration_id>")
@blp.response(200, s.DeclarationOut)
def get_declaration(declaration_id):
    """A declaration's status and progress (percent, packs done) and its first errors."""
    return svc.get_declaration(uow(), declaration_id)


@blp.get("/<int:declaration_id>/errors")
@blp.response(200, {"type": "string"}, content_type="text/csv")
def error_report(declaration_id):
    """The error report of a rejected declaration as CSV: line, field, code, message."""
    declaration = svc.get_declaration(uow(), declaration_id)
    return Response(svc.error_report_csv(declaration), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{declaration.number}-errors.csv"'})
