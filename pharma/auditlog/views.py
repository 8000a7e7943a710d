from flask import Blueprint

bp = Blueprint("auditlog_web", __name__, url_prefix="/audit")


@bp.get("/")
def index():
    return ""
