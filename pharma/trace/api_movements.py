from flask_smorest import Blueprint

blp = Blueprint("movements_api", __name__,
                url_prefix="/api/v1/trace",
                description="Shipments, receipts, decommissioning, recalls and withdrawals")
