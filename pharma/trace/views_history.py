from flask import Blueprint

bp = Blueprint("history_web", __name__, url_prefix="/packs")
