"""/api/v1/verify: verdicts for scans and photos; /api/v1/alerts: the regulator's alert cases.

An unparseable scan is answered 200 with the verdict INVALID_CODE. An ``Idempotency-Key``
header makes a retried verification count once (pharma.shared.idempotency replays the answer).
Verification answers are built by ``schemas.verification_json`` (a bulk's by ``schemas.results_text``),
exactly as ``VerificationOut`` documents them (tested), because a bulk of 1,000 is served faster so
than by a generic dump.
"""

from __future__ import annotations

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint

from pharma.shared.http import autocommit_reads, uow
from pharma.shared.idempotency import HEADER
from pharma.verify import schemas as s
from pharma.verify import services as svc
from pharma.verify import services_alerts as alerts

blp = Blueprint("verify_api", __name__, url_prefix="/api/v1/verify",
                description="Verification of scans and photos at the counter")
alerts_blp = Blueprint("alerts_api", __name__, url_prefix="/api/v1/alerts",
                       description="Alert cases raised by verifications, worked by the regulator")


def _key() -> str | None:
    return request.headers.get(HEADER) or None


def _results(results: list, one: bool = False) -> Response:
    """``jsonify({"results": [...]})`` (``one``: ``jsonify`` of the one result), byte for byte,
    written by ``schemas.results_text``."""
    provider = current_app.json
    if (provider.compact is None and current_app.debug) or provider.compact is False \
            or not getattr(provider, "sort_keys", False) or not getattr(provider, "ensure_ascii", False):
        answers = [s.verification_json(r) for r in results]  # not compact, sorted and ASCII: jsonify itself
        return jsonify(answers[0] if one else {"results": answers})
    text = s.results_text(results, lambda value: provider.dumps(value, separators=(",", ":")), one)
    return current_app.response_class(f"{text}\n", mimetype=provider.mimetype)


@blp.post("")
@autocommit_reads
@blp.arguments(s.VerifyIn())
@blp.response(200, s.VerificationOut)
def verify(args):
    """Verify one raw scan: verdict, findings, repairs made to the scan, product and pack facts."""
    result = svc.verify_scan(uow(), svc.Scan(args["scan"], args["symbology"]), args["location_gln"], _key())
    return _results([result], one=True)


@blp.post("/bulk")
@autocommit_reads
@blp.arguments(s.BulkIn())
@blp.response(200, s.ResultsOut)
def verify_bulk(args):
    """Verify 1 to 1,000 raw scans at once, each with its own verdict, in the order sent."""
    scans = tuple(svc.Scan(x["scan"], x["symbology"]) for x in args["scans"])
    return _results(svc.verify_bulk(uow(), svc.VerifyScans(scans, args["location_gln"], _key())))


@blp.post("/photo")
@autocommit_reads
@blp.arguments(s.PhotoForm, location="form")
@blp.arguments(s.PhotoFile, location="files")
@blp.response(200, s.ResultsOut)
def verify_photo(form, files):
    """Decode every code in a PNG or JPEG photo and verify each; no result when no code is found."""
    content = files["photo"].read()
    return _results(svc.verify_photo(uow(), content, form["location_gln"], _key()))


@alerts_blp.get("")
@alerts_blp.arguments(s.AlertQueryIn, location="query")
@alerts_blp.response(200, s.AlertPage)
def list_alerts(args):
    """Alert cases filtered by verdict, region, pharmacy, status and opening date, newest first."""
    return alerts.list_alerts(uow(), alerts.AlertQuery(**args)).to_dict()


@alerts_blp.get("/rate")
@alerts_blp.arguments(s.RateQuery, location="query")
@alerts_blp.response(200, s.RateOut)
def alert_rate(args):
    """Per day: verifications, alerting verifications, cases opened, and the alert rate."""
    return {"days": alerts.alert_rate(uow(), args["date_from"], args["date_to"])}


@alerts_blp.get("/<int:alert_id>")
@alerts_blp.response(200, s.AlertDetailOut)
def get_alert(alert_id):
    """One alert case with its sightings (each verification that opened or added to it)."""
    alert, sightings = alerts.read_alert(uow(), alert_id)
    return {"alert": alert, "sightings": sightings}


@alerts_blp.post("/<int:alert_id>/investigate")
@alerts_blp.response(200, s.AlertOut)
def investigate(alert_id):
    """Take a NEW case up for investigation (regulator)."""
    return alerts.investigate(uow(), alert_id)


@alerts_blp.post("/<int:alert_id>/close")
@alerts_blp.arguments(s.CloseIn)
@alerts_blp.response(200, s.AlertOut)
def close(args, alert_id):
    """Close a case with a reason: CONFIRMED_COUNTERFEIT, TECHNICAL_ERROR, PROCESS_ERROR or OTHER (regulator)."""
    return alerts.close(uow(), alert_id, args["reason"], args["note"])
