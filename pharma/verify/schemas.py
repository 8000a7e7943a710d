"""Payloads of the verification and alert API."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from pharma.shared.schemas import PageQuery, page_schema
from pharma.verify import domain as d
from pharma.verify import services as svc

MAX_SCAN = 4096
_VERDICTS = [v.value for v in d.Verdict]
_SYMBOLOGY = validate.Regexp(r"^\][A-Za-z][0-9A-Za-z]$", error="A symbology identifier such as ]d2, ]Q3, ]C1, ]E0.")


def _gln():
    return ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20),
                            metadata={"description": "The scanning location's GLN; by default the device's "
                                                     "or the organisation's only location"})


# ---------------------------------------------------------------- in


class ScanItemIn(ma.Schema):
    scan = ma.fields.String(required=True, validate=validate.Length(max=MAX_SCAN),
                            metadata={"description": "The raw scan as received, GS (0x1d) as \\u001d"})
    symbology = ma.fields.String(load_default=None, allow_none=True, validate=_SYMBOLOGY,
                                 metadata={"description": "The AIM symbology identifier, when the reader "
                                                          "reported it apart from the data"})


class VerifyIn(ScanItemIn):
    location_gln = _gln()


class BulkIn(ma.Schema):
    scans = ma.fields.List(ma.fields.Nested(ScanItemIn), required=True,
                           validate=validate.Length(min=1, max=svc.MAX_BULK))
    location_gln = _gln()


class PhotoForm(ma.Schema):
    location_gln = _gln()


class PhotoFile(ma.Schema):
    photo = Upload(required=True, metadata={"description": "A PNG or JPEG photo of one or more codes"})


class AlertQueryIn(PageQuery):
    verdict = ma.fields.String(load_default=None, validate=validate.OneOf(sorted(d.ALERTING | {"INACTIVE"})))
    region = ma.fields.String(load_default=None, validate=validate.Length(max=64))
    organisation_id = ma.fields.Integer(load_default=None, metadata={"description": "The scanning pharmacy"})
    status = ma.fields.String(load_default=None, validate=validate.OneOf([*(s.value for s in d.AlertStatus), "OPEN"]),
                              metadata={"description": "NEW, INVESTIGATING, CLOSED, or OPEN for the first two"})
    date_from = ma.fields.Date(load_default=None, data_key="from", metadata={"description": "Opened on or after"})
    date_to = ma.fields.Date(load_default=None, data_key="to", metadata={"description": "Opened on or before"})


class CloseIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.OneOf([r.value for r in d.ClosingReason]))
    note = ma.fields.String(load_default="", validate=validate.Length(max=1000),
                            metadata={"description": "What was found; required for OTHER"})


class RateQuery(ma.Schema):
    date_from = ma.fields.Date(required=True, data_key="from")
    date_to = ma.fields.Date(required=True, data_key="to")


# ---------------------------------------------------------------- out


class RepairOut(ma.Schema):
    code = ma.fields.String(metadata={"description": "GS_RECOVERED, GS_SUBSTITUTE, CAPS_LOCK, LAYOUT_RU, ..."})
    message = ma.fields.String()


class ScanOut(ma.Schema):
    raw = ma.fields.String()
    symbology = ma.fields.String(allow_none=True)
    kind = ma.fields.String(allow_none=True, metadata={"description": "PACK, GTIN or CASE; null when refused"})
    gtin = ma.fields.String(allow_none=True)
    serial = ma.fields.String(allow_none=True)
    batch = ma.fields.String(allow_none=True)
    expiry = ma.fields.String(allow_none=True, metadata={"description": "AI 17 as printed, YYMMDD"})
    expiry_date = ma.fields.Date(allow_none=True)
    sscc = ma.fields.String(allow_none=True)
    repairs = ma.fields.List(ma.fields.Nested(RepairOut))


class FindingOut(ma.Schema):
    code = ma.fields.String(metadata={"description": "A verdict code"})
    message = ma.fields.String()
    reason = ma.fields.String(allow_none=True, metadata={
        "description": "The parser's refusal code for INVALID_CODE, the pack state for INACTIVE"})


class ScannedSubstanceOut(ma.Schema):
    inn = ma.fields.String()
    strength = ma.fields.String()


class ScannedCertificateOut(ma.Schema):
    number = ma.fields.String(allow_none=True)
    status = ma.fields.String(allow_none=True, metadata={"description": "active, suspended, revoked or expired"})
    valid_until = ma.fields.Date(allow_none=True)


class ScannedProductOut(ma.Schema):
    gtin = ma.fields.String()
    product_id = ma.fields.Integer()
    trade_name = ma.fields.String()
    substances = ma.fields.List(ma.fields.Nested(ScannedSubstanceOut))
    dosage_form = ma.fields.String()
    rx = ma.fields.Boolean()
    pack_size = ma.fields.Integer()
    pack_unit = ma.fields.String()
    certificate = ma.fields.Nested(ScannedCertificateOut)
    withdrawn = ma.fields.Boolean()


class PackOut(ma.Schema):
    state = ma.fields.String(metadata={"description": "Effective state: ACTIVE, DISPENSED, ..., EXPIRED"})
    custody = ma.fields.String(metadata={
        "description": "HERE (held at, or in transit to, the scanning location), ORGANISATION (another location "
                       "of the caller's organisation) or ELSEWHERE (held by another location: no details)"})
    batch = ma.fields.String(allow_none=True)
    expiry = ma.fields.String(allow_none=True, metadata={"description": "AI 17 as recorded, YYMMDD"})
    expiry_date = ma.fields.Date(allow_none=True)
    stored_state = ma.fields.String(allow_none=True)
    custodian_location = ma.fields.String(allow_none=True)
    in_transit = ma.fields.Boolean(allow_none=True)


class VerificationOut(ma.Schema):
    """A verification's answer. The API builds it with ``verification_json`` (a bulk answers a
    thousand of them, faster than a generic dump); tests check that it is exactly this schema."""

    verdict = ma.fields.String(metadata={"description": f"One of {', '.join(_VERDICTS)}"})
    findings = ma.fields.List(ma.fields.Nested(FindingOut))
    alert = ma.fields.Boolean(metadata={"description": "The verdict opened or added to an alert case"})
    alert_id = ma.fields.Integer(allow_none=True)
    scan = ma.fields.Nested(ScanOut)
    product = ma.fields.Nested(ScannedProductOut, allow_none=True)
    pack = ma.fields.Nested(PackOut, allow_none=True)


class ResultsOut(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(VerificationOut))


def _iso(day) -> str | None:
    return day.isoformat() if day is not None else None


def _scan_json(r: svc.VerificationResult) -> dict:
    scan = r.scan
    if scan is None:
        return {"raw": r.raw, "symbology": r.symbology, "kind": None, "gtin": None, "serial": None, "batch": None,
                "expiry": None, "expiry_date": None, "sscc": None, "repairs": []}
    expiry = scan.expiry
    return {"raw": r.raw, "symbology": scan.symbology, "kind": scan.kind, "gtin": scan.gtin, "serial": scan.serial,
            "batch": scan.batch, "expiry": expiry.raw if expiry else None,
            "expiry_date": _iso(expiry.date) if expiry else None, "sscc": scan.sscc,
            "repairs": [{"code": x.code, "message": x.message} for x in scan.repairs]}


def _product_json(p: d.ProductFacts | None) -> dict | None:
    if p is None:
        return None
    return {"gtin": p.gtin, "product_id": p.product_id, "trade_name": p.trade_name,
            "substances": [{"inn": inn, "strength": strength} for inn, strength in p.substances],
            "dosage_form": p.dosage_form, "rx": p.rx, "pack_size": p.pack_size, "pack_unit": p.pack_unit,
            "certificate": {"number": p.certificate_number, "status": p.certificate_status,
                            "valid_until": _iso(p.valid_until)},
            "withdrawn": p.withdrawn}


def _pack_json(sight: svc.PackSight | None) -> dict | None:
    if sight is None:
        return None
    rec = sight.record
    if rec is None:
        return {"state": sight.state, "custody": sight.custody, "batch": None, "expiry": None, "expiry_date": None,
                "stored_state": None, "custodian_location": None, "in_transit": None}
    return {"state": sight.state, "custody": sight.custody, "batch": rec.batch, "expiry": rec.expiry.raw,
            "expiry_date": _iso(rec.expiry.date), "stored_state": rec.state, "custodian_location": rec.location_name,
            "in_transit": rec.transit_to is not None}


def verification_json(r: svc.VerificationResult) -> dict:
    """A result as VerificationOut describes it."""
    return {"verdict": r.verdict.value,
            "findings": [{"code": f.code, "message": f.message, "reason": f.reason} for f in r.findings],
            "alert": r.alert, "alert_id": r.alert_id, "scan": _scan_json(r), "product": _product_json(r.product),
            "pack": _pack_json(r.pack)}


class PlaceOut(ma.Schema):
    id = ma.fields.Integer(attribute="location_id")
    name = ma.fields.String(attribute="location_name")
    gln = ma.fields.String(attribute="location_gln")


class AlertOut(ma.Schema):
    id = ma.fields.Integer()
    verdict = ma.fields.String()
    status = ma.fields.String(metadata={"description": "NEW, INVESTIGATING or CLOSED"})
    gtin = ma.fields.String()
    serial = ma.fields.Function(lambda a: a.serial or None, metadata={"description": "null for a GTIN-only scan"})
    batch = ma.fields.String(allow_none=True, metadata={"description": "As printed on the first sighting"})
    trade_name = ma.fields.String(allow_none=True)
    location = ma.fields.Function(lambda a: PlaceOut().dump(a))
    organisation = ma.fields.Function(lambda a: {"id": a.organisation_id, "name": a.organisation_name})
    region = ma.fields.String()
    opened_at = ma.fields.DateTime()
    last_seen_at = ma.fields.DateTime()
    sightings = ma.fields.Integer()
    investigated_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    closing_reason = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


AlertPage = page_schema(AlertOut, "AlertPage")


class SightingOut(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "The verification's id"})
    at = ma.fields.DateTime()
    verdict = ma.fields.String()
    raw = ma.fields.String()
    username = ma.fields.String(allow_none=True)
    device = ma.fields.String(allow_none=True, metadata={"description": "A cash register's registration number"})


class AlertDetailOut(ma.Schema):
    alert = ma.fields.Nested(AlertOut)
    sightings = ma.fields.List(ma.fields.Nested(SightingOut), metadata={"description": "Newest first, up to 500"})


class DayRateOut(ma.Schema):
    day = ma.fields.Date()
    verifications = ma.fields.Integer()
    alerting = ma.fields.Integer(metadata={"description": "Verifications whose verdict alerted"})
    alerts_opened = ma.fields.Integer(metadata={"description": "New alert cases"})
    rate = ma.fields.Float(metadata={"description": "alerting / verifications"})


class RateOut(ma.Schema):
    days = ma.fields.List(ma.fields.Nested(DayRateOut))
