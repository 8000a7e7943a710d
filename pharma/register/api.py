from flask_smorest import Blueprint

blp = Blueprint("register_api", __name__, url_prefix="/api/v1/register",
                description="The register of medicinal products")
