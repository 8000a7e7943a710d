from flask_smorest import Blueprint

blp = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit", description="Audit log")
