from flask import Blueprint

bp = Blueprint("declarations_web", __name__, url_prefix="/declarations")
