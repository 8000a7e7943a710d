"""The pack page: type or scan a pack (GTIN + serial, or a GS1 string), see its facts and history."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, redirect, render_template, request, url_for

from pharma.parties.policy import authorize
from pharma.shared.errors import InvalidIdentifier, PharmaError
from pharma.shared.http import flash_error, login_required, uow
from pharma.trace import history
from pharma.trace.scans import CommissionedPacks, ScannedPack, parse_scan

bp = Blueprint("history_web", __name__, url_prefix="/packs")


def parse_pack_query(text: str, known: CommissionedPacks | None = None) -> tuple[str, str]:
    """A pack typed or scanned on the pack page (the forms of ``pharma.trace.scans``); returns
    (GTIN-14, serial), both validated. A case or anything that is not a pack is refused."""
    try:
        scanned = parse_scan(text, known)
    except InvalidIdentifier as exc:
        if exc.field != "scan":  # a GTIN or serial at fault: say which
            raise
        scanned = None
    if not isinstance(scanned, ScannedPack):
        raise InvalidIdentifier("q", "Type a GTIN and a serial, or scan the pack's code: (01)<GTIN>(21)<serial>.")
    return scanned.gtin, scanned.serial


def pack_url(gtin: str, serial: str) -> str:
    return url_for("history_web.pack", gtin=gtin, serial=serial)


@bp.get("/")
@login_required
def search():
    authorize(uow().actor, history.READ)
    q = request.args.get("q", "")[:200]
    if not q.strip():
        return render_template("trace/history/pack.html", q="", pack=None, events=[])
    try:
        gtin, serial = parse_pack_query(q, CommissionedPacks(uow().session))
    except PharmaError as exc:
        flash_error(exc)
        return render_template("trace/history/pack.html", q=q, pack=None, events=[]), exc.status
    return redirect(pack_url(gtin, serial))


@bp.get("/<gtin>/<path:serial>")
@login_required
def pack(gtin: str, serial: str):
    try:
        found, events = history.pack_with_history(uow(), gtin, serial)
    except PharmaError as exc:
        if exc.status == 403:
            raise
        flash_error(exc)
        return render_template("trace/history/pack.html", q=f"{gtin} {serial}", pack=None, events=[]), exc.status
    epcis_url = f"/api/v1/packs/{found.gtin}/{quote(found.serial, safe='')}/epcis"
    return render_template("trace/history/pack.html", q="", pack=found, events=events, epcis_url=epcis_url)
