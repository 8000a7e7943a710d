from flask import Blueprint

bp = Blueprint("permits_web", __name__, url_prefix="/permits")
