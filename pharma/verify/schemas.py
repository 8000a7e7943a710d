"""Payloads of the verification and alert API."""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring_ascii

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from pharma.shared.schemas import PageQuery, page_schema
from pharma.verify import domain as d
from pharma.verify import services as svc

MAX_SCAN = 4096
_GLN_LONGEST = 20
_VERDICTS = [v.value for v in d.Verdict]
_SYMBOLOGY = validate.Regexp(r"^\][A-Za-z][0-9A-Za-z]$", error="A symbology identifier such as ]d2, ]Q3, ]C1, ]E0.")


def _gln():
    return ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=_GLN_LONGEST),
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

    def load(self, data, *, many=None, partial=None, unknown=None):
        """A plain valid request in a few checks (a counter's every scan: marshmallow's load is a
        tenth of the request's time), anything else through marshmallow; the same either way (tested).
        The checks are the fields' own: a field, validator or hook added here must be added to them."""
        if many is None and partial is None and unknown is None and type(data) is dict \
                and _VERIFY_KEYS.issuperset(data):
            item = _plain_item({k: v for k, v in data.items() if k != "location_gln"})
            gln = data.get("location_gln")
            if item is not None and (gln is None or (type(gln) is str and len(gln) <= _GLN_LONGEST)):
                item["location_gln"] = gln
                return item
        return super().load(data, many=many, partial=partial, unknown=unknown)


class ScanItems(ma.fields.List):
    """A list of ``ScanItemIn`` (and documented as one), read for a bulk of 1,000 in a tight loop:
    an item passes when it holds exactly what ``ScanItemIn`` accepts; at the first item that does
    not, the whole list goes through marshmallow's own load, so refusals read as marshmallow words
    them. Both ways give the same items (tested)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(ma.fields.Nested(ScanItemIn), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list:
            items = [_plain_item(item) for item in value]
            if None not in items:
                return items
        return super()._deserialize(value, attr, data, **kwargs)


_ITEM_KEYS = frozenset({"scan", "symbology"})
_VERIFY_KEYS = _ITEM_KEYS | {"location_gln"}


def _plain_item(item) -> dict | None:
    """The item as ``ScanItemIn`` loads it, or None for anything but a plain valid one."""
    if type(item) is not dict or not _ITEM_KEYS.issuperset(item):
        return None
    scan, symbology = item.get("scan"), item.get("symbology")
    if type(scan) is not str or len(scan) > MAX_SCAN:
        return None
    if symbology is not None and (type(symbology) is not str or not _SYMBOLOGY.regex.match(symbology)):
        return None
    return {"scan": scan, "symbology": symbology}


class BulkIn(ma.Schema):
    scans = ScanItems(required=True, validate=validate.Length(min=1, max=svc.MAX_BULK))
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


# The answer's parts, keys in the order the JSON answer shows them (sorted); ``_result_text``
# writes the same result from a template (tested byte for byte against jsonify).

def _scan_json(r: svc.VerificationResult) -> dict:
    scan = r.scan
    if scan is None:
        return {"batch": None, "expiry": None, "expiry_date": None, "gtin": None, "kind": None, "raw": r.raw,
                "repairs": [], "serial": None, "sscc": None, "symbology": r.symbology}
    expiry = scan.expiry
    return {"batch": scan.batch, "expiry": expiry.raw if expiry else None,
            "expiry_date": _iso(expiry.date) if expiry else None, "gtin": scan.gtin, "kind": scan.kind, "raw": r.raw,
            "repairs": [{"code": x.code, "message": x.message} for x in scan.repairs], "serial": scan.serial,
            "sscc": scan.sscc, "symbology": scan.symbology}


def _product_json(p: d.ProductFacts | None) -> dict | None:
    if p is None:
        return None
    return {"certificate": {"number": p.certificate_number, "status": p.certificate_status,
                            "valid_until": _iso(p.valid_until)},
            "dosage_form": p.dosage_form, "gtin": p.gtin, "pack_size": p.pack_size, "pack_unit": p.pack_unit,
            "product_id": p.product_id, "rx": p.rx,
            "substances": [{"inn": inn, "strength": strength} for inn, strength in p.substances],
            "trade_name": p.trade_name, "withdrawn": p.withdrawn}


def _pack_json(sight: svc.PackSight | None) -> dict | None:
    if sight is None:
        return None
    rec = sight.record
    if rec is None:
        return {"batch": None, "custodian_location": None, "custody": sight.custody, "expiry": None,
                "expiry_date": None, "in_transit": None, "state": sight.state, "stored_state": None}
    return {"batch": rec.batch, "custodian_location": rec.location_name, "custody": sight.custody,
            "expiry": rec.expiry.raw, "expiry_date": _iso(rec.expiry.date), "in_transit": rec.transit_to is not None,
            "state": sight.state, "stored_state": rec.state}


def verification_json(r: svc.VerificationResult) -> dict:
    """A result as VerificationOut describes it."""
    return _verification_json(r, _product_json(r.product), _pack_json(r.pack))


def _verification_json(r: svc.VerificationResult, product, pack) -> dict:
    return {"alert": r.alert, "alert_id": r.alert_id,
            "findings": [{"code": f.code, "message": f.message, "reason": f.reason} for f in r.findings],
            "pack": pack, "product": product, "scan": _scan_json(r), "verdict": r.verdict.value}


def results_text(results: list[svc.VerificationResult], dumps: Callable[[object], str], one: bool = False) -> str:
    """``{"results": [...]}`` exactly as ``json.dumps`` writes it compact, with sorted keys and
    ASCII only (jsonify's text, tested byte for byte), in a fifth of the time: each result is
    written from a template, its strings escaped by the json module's own function, and each
    distinct product and pack part encoded once by ``dumps`` (a bulk's thousand scans are mostly a
    few products, and the packs of one batch held at one place show the same part). ``one``: the
    one result alone, as a single verification answers."""
    products: dict[int, str] = {}
    packs: dict[tuple | None, str] = {}
    out = []
    for r in results:
        product = products.get(id(r.product))
        if product is None:
            product = products[id(r.product)] = dumps(_product_json(r.product))
        key = _pack_key(r.pack)
        pack = packs.get(key)
        if pack is None:
            pack = packs[key] = dumps(_pack_json(r.pack))
        out.append(_result_text(r, product, pack))
    if one:
        return out[0]
    return '{"results":[' + ",".join(out) + "]}"


_str = encode_basestring_ascii  # what json.dumps(ensure_ascii=True) writes for a str


def _opt(value: str | None) -> str:
    return "null" if value is None else _str(value)


def _result_text(r: svc.VerificationResult, product: str, pack: str) -> str:
    """One result as json.dumps writes ``_verification_json(r, ...)``: keys sorted, compact."""
    findings = ",".join([f'{{"code":{_str(f.code)},"message":{_str(f.message)},"reason":{_opt(f.reason)}}}'
                         for f in r.findings])
    alert = "true" if r.alert else "false"
    alert_id = "null" if r.alert_id is None else str(int(r.alert_id))
    scan = r.scan
    if scan is None:
        scan_text = (f'{{"batch":null,"expiry":null,"expiry_date":null,"gtin":null,"kind":null,"raw":{_str(r.raw)},'
                     f'"repairs":[],"serial":null,"sscc":null,"symbology":{_opt(r.symbology)}}}')
    else:
        expiry = scan.expiry
        repairs = ",".join([f'{{"code":{_str(x.code)},"message":{_str(x.message)}}}' for x in scan.repairs])
        scan_text = (f'{{"batch":{_opt(scan.batch)},"expiry":{_opt(expiry.raw) if expiry else "null"},'
                     f'"expiry_date":{_opt(_iso(expiry.date)) if expiry else "null"},"gtin":{_opt(scan.gtin)},'
                     f'"kind":{_str(scan.kind)},"raw":{_str(r.raw)},"repairs":[{repairs}],'
                     f'"serial":{_opt(scan.serial)},"sscc":{_opt(scan.sscc)},"symbology":{_opt(scan.symbology)}}}')
    return (f'{{"alert":{alert},"alert_id":{alert_id},"findings":[{findings}],"pack":{pack},"product":{product},'
            f'"scan":{scan_text},"verdict":{_str(r.verdict.value)}}}')


def _pack_key(sight: svc.PackSight | None) -> tuple | None:
    if sight is None:
        return None
    rec = sight.record
    if rec is None:
        return sight.state, sight.custody
    return (sight.state, sight.custody, rec.batch, rec.expiry.raw, rec.expiry.date, rec.state, rec.location_name,
            rec.transit_to is not None)


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
