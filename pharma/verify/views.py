"""Pages of verification: the counter page (a scan box for a keyboard-wedge scanner, and a photo
upload), the regulator's alert queue, an alert's page with its sightings and the case forms, and
the daily alert rate."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from pharma.parties.policy import POLICY, authorize
from pharma.shared.errors import PharmaError
from pharma.shared.http import flash_error, login_required, uow
from pharma.shared.time import today
from pharma.trace.movements import locations_of
from pharma.verify import domain as d
from pharma.verify import services as svc
from pharma.verify import services_alerts as alerts

bp = Blueprint("verify_web", __name__)

RECENT = 8
VERDICT_TEXT = {
    d.Verdict.OK: _l("Genuine: you may sell it"),
    d.Verdict.INVALID_CODE: _l("The code cannot be read: scan it again"),
    d.Verdict.UNREGISTERED_PRODUCT: _l("Not registered: do not sell"),
    d.Verdict.REGISTRATION_SUSPENDED: _l("Registration suspended: do not sell"),
    d.Verdict.REGISTRATION_REVOKED: _l("Registration revoked: do not sell"),
    d.Verdict.REGISTRATION_EXPIRED: _l("Registration expired: do not sell"),
    d.Verdict.UNKNOWN_PACK: _l("Unknown pack: suspected counterfeit"),
    d.Verdict.BATCH_MISMATCH: _l("Batch differs from the record: suspected counterfeit"),
    d.Verdict.EXPIRY_MISMATCH: _l("Expiry differs from the record: suspected counterfeit"),
    d.Verdict.ALREADY_DISPENSED: _l("Already dispensed or sold: suspected copy"),
    d.Verdict.RECALLED: _l("Batch recalled: do not sell"),
    d.Verdict.WITHDRAWN: _l("Product withdrawn: do not sell"),
    d.Verdict.EXPIRED: _l("Expired: do not sell"),
    d.Verdict.INACTIVE: _l("Out of circulation: do not sell"),
    d.Verdict.NOT_IN_CUSTODY: _l("Held by another location: do not sell"),
    d.Verdict.NOT_RELEASED: _l("Not released into circulation: do not sell"),
}
CASE_TEXT = {"NEW": _l("New"), "INVESTIGATING": _l("Investigating"), "CLOSED": _l("Closed"), "OPEN": _l("Open"),
             "CONFIRMED_COUNTERFEIT": _l("Confirmed counterfeit"), "TECHNICAL_ERROR": _l("Technical error"),
             "PROCESS_ERROR": _l("Process error"), "OTHER": _l("Another reason")}
CUSTODY_TEXT = {"HERE": _l("Here"), "ORGANISATION": _l("At another of your locations"),
                "ELSEWHERE": _l("Held by another location")}


@bp.app_template_filter("verdict_text")
def verdict_text(code: str) -> str:
    return str(VERDICT_TEXT.get(code, code))


@bp.app_template_filter("case_text")
def case_text(code: str | None) -> str:
    """An alert case's status or closing reason, for people."""
    return str(CASE_TEXT.get(code, code or ""))


@bp.app_template_filter("custody_text")
def custody_text(code: str) -> str:
    return str(CUSTODY_TEXT.get(code, code))


# ---------------------------------------------------------------- the counter


def _counter(results: list | None = None, status: int = 200):
    work = uow()
    authorize(work.actor, svc.SCAN)
    agency = bool(work.actor.roles & POLICY[svc.SCAN].any_org)
    locations = [] if agency else locations_of(work, svc.SCAN)
    return render_template("verify/counter.html", results=results or [], agency=agency, locations=locations,
                           gln=session.get("verify_gln", ""), recent=session.get("verify_recent", [])), status


def _remember(results: list[svc.VerificationResult]) -> None:
    rows = [{"verdict": r.verdict.value, "gtin": r.scan.gtin if r.scan else None,
             "serial": r.scan.serial if r.scan else None,
             "name": r.product.trade_name if r.product else None} for r in results]
    session["verify_recent"] = (rows[::-1] + session.get("verify_recent", []))[:RECENT]


def _verify(act):
    gln = request.form.get("location_gln", "").strip()[:20]
    session["verify_gln"] = gln
    try:
        results = act(uow(), gln or None)
    except PharmaError as exc:
        flash_error(exc)
        return _counter(status=exc.status)
    _remember(results)
    if not results:
        flash(_("No code was found in the photo."), "error")
    return _counter(results)


@bp.get("/verify/")
@login_required
def counter():
    return _counter()


@bp.post("/verify/")
@login_required
def verify():
    raw = request.form.get("scan", "").rstrip("\r\n")[:4096]
    return _verify(lambda work, gln: [svc.verify_scan(work, svc.Scan(raw), gln)])


@bp.post("/verify/photo")
@login_required
def verify_photo():
    photo = request.files.get("photo")
    content = photo.read() if photo else b""
    return _verify(lambda work, gln: svc.verify_photo(work, content, gln))


# ---------------------------------------------------------------- the alert queue


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _choice(name: str, allowed: list[str], default: str | None = None) -> str | None:
    value = request.args.get(name, default)
    return value if value in allowed else None


@bp.get("/alerts/")
@login_required
def queue():
    work = uow()
    verdicts = sorted(v.value for v in d.ALERTING | {d.Verdict.INACTIVE})
    statuses = [*alerts.STATUSES, "OPEN"]
    query = alerts.AlertQuery(
        verdict=_choice("verdict", verdicts), region=request.args.get("region", "").strip()[:64] or None,
        organisation_id=request.args.get("organisation_id", type=int),
        status=_choice("status", statuses, "OPEN"), date_from=_day("from"), date_to=_day("to"),
        page=max(1, request.args.get("page", 1, type=int)))
    page = alerts.list_alerts(work, query)
    regions, organisations = alerts.alert_filters(work)
    return render_template("verify/alerts.html", page=page, query=query, verdicts=verdicts, statuses=statuses,
                           regions=regions, organisations=organisations)


@bp.get("/alerts/<int:alert_id>")
@login_required
def alert(alert_id: int):
    case, sightings = alerts.read_alert(uow(), alert_id)
    return render_template("verify/alert.html", alert=case, sightings=sightings,
                           reasons=[r.value for r in d.ClosingReason])


@bp.post("/alerts/<int:alert_id>/<action>")
@login_required
def work_alert(alert_id: int, action: str):
    try:
        if action == "investigate":
            alerts.investigate(uow(), alert_id)
            flash(_("Alert %(id)s is under investigation.", id=alert_id), "success")
        elif action == "close":
            alerts.close(uow(), alert_id, request.form.get("reason", ""), request.form.get("note", ""))
            flash(_("Alert %(id)s is closed.", id=alert_id), "success")
        else:
            return redirect(url_for("verify_web.alert", alert_id=alert_id))
    except PharmaError as exc:
        if exc.status == 403:
            raise
        flash_error(exc)
    return redirect(url_for("verify_web.alert", alert_id=alert_id))


@bp.get("/alerts/rate")
@login_required
def rate():
    date_to = _day("to") or today()
    date_from = _day("from") or date_to - timedelta(days=29)
    try:
        days = alerts.alert_rate(uow(), date_from, date_to)
    except PharmaError as exc:
        if exc.status == 403:
            raise
        flash_error(exc)
        days = []
    return render_template("verify/rate.html", days=days, date_from=date_from, date_to=date_to)
