from flask_smorest import Blueprint

blp = Blueprint("history_api", __name__,
                url_prefix="/api/v1/packs",
                description="Pack facts, histories and EPCIS 2.0 exports")
