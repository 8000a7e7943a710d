"""The labels page: type a pack's data (or an SSCC, or a GTIN-13), see its label, download it."""

from __future__ import annotations

import base64

from flask import Blueprint, render_template, request, url_for

from pharma.barcodes import services as svc
from pharma.parties.policy import authorize
from pharma.shared.errors import PharmaError
from pharma.shared.http import flash_error, login_required, uow

bp = Blueprint("labels_web", __name__, url_prefix="/labels")

KINDS = ("pack", "sscc", "ean13")
FIELDS = ("gtin", "serial", "batch", "expiry", "sscc")


@bp.get("/")
@login_required
def index():
    work = uow()
    authorize(work.actor, svc.DRAW)
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else "pack"
    form = {name: request.args.get(name, "")[:64] for name in FIELDS}
    if not request.args.get("kind"):
        return render_template("barcodes/labels.html", kind=kind, form=form, label=None, links={})
    try:
        label = _draw(work, kind, form, "svg")
    except PharmaError as exc:
        flash_error(exc)
        return render_template("barcodes/labels.html", kind=kind, form=form, label=None, links={}), exc.status
    preview = "data:image/svg+xml;base64," + base64.b64encode(label.body).decode()
    return render_template("barcodes/labels.html", kind=kind, form=form, label=label, preview=preview,
                           links={fmt: _api_url(kind, form, fmt) for fmt in svc.MEDIA_TYPES})


def _draw(work, kind: str, form: dict, fmt: str) -> svc.Label:
    if kind == "pack":
        return svc.draw_pack_label(work, form["gtin"], form["serial"], form["batch"], form["expiry"], fmt)
    if kind == "sscc":
        return svc.draw_sscc_label(work, form["sscc"], fmt)
    return svc.draw_ean13_label(work, form["gtin"], fmt)


def _api_url(kind: str, form: dict, fmt: str) -> str:
    """The API address that serves the same label, for the download links (the session signs it in)."""
    if kind == "pack":
        return url_for("labels_api.pack_label", format=fmt,
                       **{name: form[name] for name in ("gtin", "serial", "batch", "expiry")})
    if kind == "sscc":
        return url_for("labels_api.sscc_label", sscc=form["sscc"].strip(), format=fmt)
    return url_for("labels_api.ean13_label", gtin=form["gtin"].strip(), format=fmt)
