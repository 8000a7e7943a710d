from flask_smorest import Blueprint

blp = Blueprint("declarations_api", __name__,
                url_prefix="/api/v1/declarations",
                description="Arrival declarations that commission serialized packs")
