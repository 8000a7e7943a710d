"""The pack page: type or scan a pack (GTIN + serial, or a GS1 string), see its facts and history."""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Blueprint, redirect, render_template, request, url_for

from pharma.parties.policy import authorize
from pharma.shared.errors import InvalidIdentifier, PharmaError
from pharma.shared.http import flash_error, login_required, uow
from pharma.shared.identifiers import Gtin, Serial
from pharma.trace import history

bp = Blueprint("history_web", __name__, url_prefix="/packs")

GS = "\x1d"
_PARENS = re.compile(r"\((\d{2,4})\)([^(]*)")
_SYMBOLOGY = re.compile(r"^\][A-Za-z][0-9]")


def parse_pack_query(text: str) -> tuple[str, str]:
    """A pack typed or scanned: ``(01)<gtin>(21)<serial>``, ``01<gtin>21<serial>`` (a GS ends the
    serial), or ``<gtin> <serial>``. Returns (GTIN-14, serial), both validated. The full GS1 scan
    parser comes with verification; this reads only these simple forms."""
    text = _SYMBOLOGY.sub("", text.strip())
    if text.startswith("("):
        fields = {ai: value.strip() for ai, value in _PARENS.findall(text)}
        if "01" in fields and "21" in fields:
            return _valid(fields["01"], fields["21"])
    elif re.match(r"^01[0-9]{14}21", text):
        return _valid(text[2:16], text[18:].split(GS, 1)[0])
    else:
        parts = text.split()
        if len(parts) == 2:
            return _valid(parts[0], parts[1])
    raise InvalidIdentifier("q", "Type a GTIN and a serial, or scan the pack's code: (01)<GTIN>(21)<serial>.")


def _valid(gtin: str, serial: str) -> tuple[str, str]:
    return Gtin.parse(gtin).value, Serial.parse(serial).value


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
        gtin, serial = parse_pack_query(q)
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
