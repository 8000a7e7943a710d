"""Request and response payloads of the stock count API (``/api/v1/stock/counts``) and of the count
findings (``/api/v1/stock/findings``). GTINs in any 8/12/13/14-digit form are kept as 14 digits."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pharma.shared.identifiers import Gtin
from pharma.shared.schemas import PageQuery, page_schema
from pharma.stock import counts as svc
from pharma.stock.schemas import _batch, _gtin

_MAX_LINES = 20_000
_STATES = [s.value for s in svc.CountState]
_KINDS = [k.value for k in svc.FindingKind]
_FINDING_STATES = [s.value for s in svc.FindingStatus]


class OpenCountIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    gtins = ma.fields.List(_gtin(), load_default=list, validate=validate.Length(max=1000),
                           metadata={"description": "Count only these products; leave out to count everything"})
    note = ma.fields.String(load_default="", validate=validate.Length(max=500))

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.OpenCount(data["location_id"], tuple(Gtin.parse(g).value for g in data["gtins"]), data["note"])


class CountedLineIn(ma.Schema):
    gtin = _gtin(required=True)
    batch = _batch(required=True)
    counted = ma.fields.Integer(required=True, validate=validate.Range(min=0, max=1_000_000),
                                metadata={"description": "Units found; replaces what was entered before"})
    expiry = ma.fields.Date(load_default=None, allow_none=True,
                            metadata={"description": "Only for a batch this location has never kept"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.CountedLine(Gtin.parse(data["gtin"]).value, data["batch"], data["counted"], data["expiry"])


class CountScanIn(ma.Schema):
    raw = ma.fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "What the scanner sent: a pack's GS1 code (counted once, "
                                                    "however often scanned) or an EAN-13 (one unit per scan)"})
    batch = _batch(load_default=None, allow_none=True,
                   metadata={"description": "The batch an EAN-13 scan counts (needed when the code carries none "
                                            "and the product is in several batches)"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.CountScan(data["raw"], data["batch"])


class RecordLinesIn(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(CountedLineIn), load_default=list,
                           validate=validate.Length(max=_MAX_LINES))
    scans = ma.fields.List(ma.fields.Nested(CountScanIn), load_default=list, validate=validate.Length(max=_MAX_LINES))

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.RecordLines(tuple(data["lines"]), tuple(data["scans"]))


class CountSubmitIn(ma.Schema):
    uncounted_as_zero = ma.fields.Boolean(load_default=False, metadata={
        "description": "Batches nobody counted were not found (counted 0); else they refuse the submission"})


class CountNoteIn(ma.Schema):
    note = ma.fields.String(required=True, validate=validate.Length(min=3, max=500))


class CountQueryIn(PageQuery):
    location_id = ma.fields.Integer(load_default=None)
    status = ma.fields.String(load_default=None, validate=validate.OneOf(_STATES))

    @ma.post_load
    def query(self, data, **kwargs):
        return svc.CountQuery(data["location_id"], data["status"], data["page"], data["per_page"])


class CountLinesQueryIn(ma.Schema):
    differences = ma.fields.Boolean(load_default=False,
                                    metadata={"description": "Only batches uncounted or with a difference"})
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = ma.fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class CountSummaryOut(ma.Schema):
    lines = ma.fields.Integer(metadata={"description": "Batches in the count"})
    lines_counted = ma.fields.Integer()
    lines_uncounted = ma.fields.Integer()
    units_expected = ma.fields.Integer()
    units_counted = ma.fields.Integer()
    lines_with_difference = ma.fields.Integer()
    units_different = ma.fields.Integer(metadata={"description": "Sum of |counted - expected|"})
    packs_expected = ma.fields.Integer()
    packs_scanned = ma.fields.Integer()
    packs_not_scanned = ma.fields.Integer()
    packs_not_ours = ma.fields.Integer(metadata={"description": "Scanned packs this location does not hold"})


class CountOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String(metadata={"description": "OPEN, SUBMITTED, APPROVED or CANCELLED"})
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    location_gln = ma.fields.String()
    organisation_id = ma.fields.Integer()
    gtins = ma.fields.List(ma.fields.String(), metadata={"description": "The scope; empty: everything"})
    note = ma.fields.String()
    opened_at = ma.fields.DateTime()
    opened_by = ma.fields.Integer(allow_none=True)
    submitted_at = ma.fields.DateTime(allow_none=True)
    submitted_by = ma.fields.Integer(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True, metadata={"description": "Approved, returned or cancelled"})
    decided_by = ma.fields.Integer(allow_none=True)
    decision_note = ma.fields.String()
    result = ma.fields.Dict(allow_none=True, metadata={"description": "What approval posted: movements, "
                                                                      "surplus/shortage units, packs, findings"})
    summary = ma.fields.Nested(CountSummaryOut)


class CountLineOut(ma.Schema):
    gtin = ma.fields.String()
    trade_name = ma.fields.String(allow_none=True, metadata={"description": "The registered product of the GTIN"})
    batch = ma.fields.String()
    expiry = ma.fields.Date(allow_none=True)
    serialized = ma.fields.Boolean()
    expected = ma.fields.Integer(metadata={"description": "On the books when the count opened"})
    counted = ma.fields.Integer(allow_none=True, metadata={"description": "None: not counted yet"})
    difference = ma.fields.Integer(allow_none=True, metadata={"description": "counted - expected"})
    on_hand = ma.fields.Integer(metadata={"description": "The balance now"})
    moved_since_open = ma.fields.Integer(allow_none=True,
                                         metadata={"description": "on_hand - expected: sold or received meanwhile"})
    counted_at = ma.fields.DateTime(allow_none=True)


class CountPackOut(ma.Schema):
    gtin = ma.fields.String()
    serial = ma.fields.String()
    batch = ma.fields.String(allow_none=True)
    problem = ma.fields.String(allow_none=True, metadata={
        "description": "UNKNOWN_PACK, NOT_IN_CUSTODY, PACK_IN_TRANSIT or INACTIVE"})
    scanned_at = ma.fields.DateTime(allow_none=True)


class CountDetailOut(CountOut):
    lines = ma.fields.Nested(page_schema(CountLineOut, "CountLinePage"))
    missing_packs = ma.fields.List(ma.fields.Nested(CountPackOut),
                                   metadata={"description": "Expected and not scanned (first 500)"})
    surplus_packs = ma.fields.List(ma.fields.Nested(CountPackOut),
                                   metadata={"description": "Scanned and not this location's (first 500)"})


class CountListItemOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    organisation_id = ma.fields.Integer()
    gtins = ma.fields.List(ma.fields.String())
    expected_lines = ma.fields.Integer()
    expected_units = ma.fields.Integer()
    expected_packs = ma.fields.Integer()
    opened_at = ma.fields.DateTime()
    submitted_at = ma.fields.DateTime(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    result = ma.fields.Dict(allow_none=True)


CountPage = page_schema(CountListItemOut, "CountPage")


class CountScanOutcomeOut(ma.Schema):
    index = ma.fields.Integer(metadata={"description": "Position in ``scans``"})
    kind = ma.fields.String(metadata={"description": "PACK or UNIT"})
    gtin = ma.fields.String()
    serial = ma.fields.String(allow_none=True)
    batch = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(metadata={"description": "COUNTED, ALREADY_COUNTED or NOT_OURS"})
    counted = ma.fields.Integer(allow_none=True, metadata={"description": "A unit scan: the batch's count now"})
    problem = ma.fields.String(allow_none=True)


class CountRecordedOut(ma.Schema):
    count = ma.fields.Nested(CountOut)
    outcomes = ma.fields.List(ma.fields.Nested(CountScanOutcomeOut))


class CountFindingQueryIn(PageQuery):
    location_id = ma.fields.Integer(load_default=None)
    region = ma.fields.String(load_default=None, validate=validate.Length(max=64))
    kind = ma.fields.String(load_default=None, validate=validate.OneOf(_KINDS))
    status = ma.fields.String(load_default=None, validate=validate.OneOf(_FINDING_STATES))
    count_id = ma.fields.Integer(load_default=None)
    date_from = ma.fields.Date(load_default=None)
    date_to = ma.fields.Date(load_default=None, metadata={"description": "Inclusive"})

    @ma.post_load
    def query(self, data, **kwargs):
        return svc.FindingQuery(data["location_id"], data["region"] or None, data["kind"], data["status"],
                                data["count_id"], data["date_from"], data["date_to"], data["page"], data["per_page"])


class CountFindingOut(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "MISSING_PACK, SURPLUS_PACK, SHORTAGE or SURPLUS"})
    count_id = ma.fields.Integer()
    count_number = ma.fields.String()
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    region = ma.fields.String()
    organisation_id = ma.fields.Integer()
    gtin = ma.fields.String()
    batch = ma.fields.String(allow_none=True)
    serial = ma.fields.String(allow_none=True)
    quantity = ma.fields.Integer()
    detail = ma.fields.String(allow_none=True, metadata={"description": "A surplus pack's problem"})
    status = ma.fields.String(metadata={"description": "NEW or REVIEWED"})
    created_at = ma.fields.DateTime()
    reviewed_at = ma.fields.DateTime(allow_none=True)
    reviewed_by = ma.fields.Integer(allow_none=True)


CountFindingPage = page_schema(CountFindingOut, "CountFindingPage")
