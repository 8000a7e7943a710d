from flask import Blueprint, render_template

from pharma.shared.http import login_required

bp = Blueprint("register_web", __name__, url_prefix="/register")


@bp.get("/")
@login_required
def search():
    return render_template("error.html", status=200, title="Register", detail="coming")
