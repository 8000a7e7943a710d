from flask_smorest import Blueprint

blp = Blueprint("permits_api", __name__,
                url_prefix="/api/v1/permits",
                description="Import permits: applications, decisions, drawdown")
