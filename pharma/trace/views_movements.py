from flask import Blueprint

bp = Blueprint("movements_web", __name__, url_prefix="/trace")
