"""The start page and the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from pharma.i18n import LOCALES
from pharma.parties.auth import current_actor
from pharma.parties.policy import allowed

bp = Blueprint("web", __name__)


@bp.app_context_processor
def inject_actor():
    return {"actor": current_actor(), "allowed": allowed}


@bp.get("/")
def home():
    if current_actor() is None:
        return redirect(url_for("parties_web.sign_in"))
    return render_template("home.html")


@bp.post("/locale")
def set_locale():
    locale = request.form.get("locale", "")
    if locale in LOCALES:
        session["locale"] = locale
    target = request.form.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    return redirect(target)


@bp.get("/healthz")
def healthz():
    from sqlalchemy import text

    from pharma.extensions import db

    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
