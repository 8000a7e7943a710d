"""Request and response payloads of the custody movements API.

Packs are ``{"gtin": "...", "serial": "..."}`` (a GTIN in any 8/12/13/14-digit form, kept as 14),
cases ``{"sscc": "..."}``. Syntax is checked here; existence and rules by the services.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pharma.shared.errors import InvalidIdentifier
from pharma.shared.identifiers import Gtin, Serial, Sscc
from pharma.shared.schemas import PageQuery, page_schema
from pharma.trace import movements as svc
from pharma.trace.domain import DECOMMISSION_REASONS, Resolution
from pharma.trace.missing import ResolveMissing

_REASON = validate.Length(min=3, max=500)
_MAX_ITEMS = validate.Length(max=100_000)


def _identifier(parser):
    def check(value: str) -> None:
        try:
            parser(value)
        except InvalidIdentifier as exc:
            raise ma.ValidationError(exc.message) from None

    return check


class PackIn(ma.Schema):
    gtin = ma.fields.String(required=True, validate=_identifier(Gtin.parse),
                            metadata={"description": "GTIN-8/12/13/14; stored as 14 digits"})
    serial = ma.fields.String(required=True, validate=_identifier(Serial.parse),
                              metadata={"description": "AI 21: 1 to 20 characters of GS1 set 82"})

    @ma.post_load
    def normalise(self, data, **kwargs):
        return svc.PackRef(Gtin.parse(data["gtin"]).value, data["serial"])


class CaseIn(ma.Schema):
    sscc = ma.fields.String(required=True, validate=_identifier(Sscc.parse),
                            metadata={"description": "18 digits with check digit"})


class ShipIn(ma.Schema):
    from_location_id = ma.fields.Integer(required=True, metadata={"description": "The sender's location"})
    to_location_id = ma.fields.Integer(required=True, metadata={"description": "The receiver's location"})
    kind = ma.fields.String(load_default="DELIVERY", validate=validate.OneOf([k.value for k in svc.ShipmentKind]))
    return_of_id = ma.fields.Integer(load_default=None, allow_none=True,
                                     metadata={"description": "For a RETURN: the delivery it sends back"})
    packs = ma.fields.List(ma.fields.Nested(PackIn), load_default=list, validate=_MAX_ITEMS)
    cases = ma.fields.List(ma.fields.Nested(CaseIn), load_default=list, validate=_MAX_ITEMS,
                           metadata={"description": "A case ships its packs; a pallet its cases' packs"})

    @ma.validates_schema
    def needs_something_to_ship(self, data, **kwargs):
        if not data.get("packs") and not data.get("cases"):
            raise ma.ValidationError("List at least one pack or case.", "packs")


def ship_command(args: dict) -> svc.ShipPacks:
    return svc.ShipPacks(from_location_id=args["from_location_id"], to_location_id=args["to_location_id"],
                         packs=tuple(args["packs"]), cases=tuple(c["sscc"] for c in args["cases"]),
                         kind=args["kind"], return_of_id=args["return_of_id"])


class ReceiveIn(ma.Schema):
    packs = ma.fields.List(ma.fields.Nested(PackIn), load_default=list, validate=_MAX_ITEMS,
                           metadata={"description": "Packs scanned on arrival"})
    cases = ma.fields.List(ma.fields.Nested(CaseIn), load_default=list, validate=_MAX_ITEMS,
                           metadata={"description": "Cases scanned on arrival: all their packs arrived"})
    damaged = ma.fields.List(ma.fields.Nested(PackIn), load_default=list, validate=_MAX_ITEMS,
                             metadata={"description": "Packs that arrived damaged (received, flagged)"})

    @ma.validates_schema
    def needs_a_scan(self, data, **kwargs):
        if not data.get("packs") and not data.get("cases") and not data.get("damaged"):
            raise ma.ValidationError("Scan at least one pack or case.", "packs")


def receipt(args: dict) -> svc.Receipt:
    return svc.Receipt(packs=tuple(args["packs"]), cases=tuple(c["sscc"] for c in args["cases"]),
                       damaged=tuple(args["damaged"]))


class DecommissionIn(ma.Schema):
    location_id = ma.fields.Integer(required=True, metadata={"description": "Where the packs are"})
    packs = ma.fields.List(ma.fields.Nested(PackIn), required=True, validate=validate.Length(min=1, max=100_000))
    reason = ma.fields.String(required=True, validate=validate.OneOf([r.value for r in DECOMMISSION_REASONS]))
    note = ma.fields.String(load_default="", validate=validate.Length(max=500))
    document = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                                metadata={"description": "The act or report number, if any"})


class UndoIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    packs = ma.fields.List(ma.fields.Nested(PackIn), required=True, validate=validate.Length(min=1, max=100_000))
    reason = ma.fields.String(required=True, validate=_REASON)


class ResolveMissingIn(ma.Schema):
    packs = ma.fields.List(ma.fields.Nested(PackIn), required=True, validate=validate.Length(min=1, max=100_000),
                           metadata={"description": "Packs MISSING at receipt on this shipment, not resolved yet"})
    resolution = ma.fields.String(required=True, validate=validate.OneOf([r.value for r in Resolution]), metadata={
        "description": "FOUND (by the receiver: custody moves to it), RETURNED (by the sender: they stay with it) "
                       "or LOST (by the sender: they become STOLEN at its location)"})
    note = ma.fields.String(load_default="", validate=validate.Length(max=500),
                            metadata={"description": "Why; required (3 to 500 characters) for LOST"})


def resolve_command(args: dict) -> ResolveMissing:
    return ResolveMissing(packs=tuple(args["packs"]), resolution=args["resolution"], note=args["note"])


class RecallIn(ma.Schema):
    gtin = ma.fields.String(required=True, validate=_identifier(Gtin.parse))
    batch = ma.fields.String(required=True, metadata={"description": "AI 10, as printed"})
    reason = ma.fields.String(required=True, validate=_REASON)


class WithdrawIn(ma.Schema):
    product_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True, validate=_REASON)


class ShipmentQuery(PageQuery):
    direction = ma.fields.String(load_default=None, validate=validate.OneOf(["incoming", "outgoing"]),
                                 metadata={"description": "For your organisation; omit for both"})
    status = ma.fields.String(load_default=None, validate=validate.OneOf([s.value for s in svc.ShipmentStatus]))


class RecallQuery(PageQuery):
    pass


class ShipmentPacksQuery(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1),
                             metadata={"description": "Which page of the shipment's packs"})
    per_page = ma.fields.Integer(load_default=svc.PACKS_PER_PAGE, validate=validate.Range(min=1, max=10_000),
                                 metadata={"description": "Packs per page (an ordinary shipment fits one)"})
    outcome = ma.fields.String(load_default=None, validate=validate.OneOf(svc.PACK_FILTERS), metadata={
        "description": "Only packs with this outcome; IN_TRANSIT: not received yet"})


def pack_list_query(args: dict) -> svc.PackListQuery:
    return svc.PackListQuery(page=args["page"], per_page=args["per_page"], outcome=args["outcome"])


# ---------------------------------------------------------------- out


class MovedPackOut(ma.Schema):
    gtin = ma.fields.String()
    serial = ma.fields.String()


class ShipmentLocationOut(ma.Schema):
    id = ma.fields.Integer()
    gln = ma.fields.String()
    name = ma.fields.String()
    organisation_id = ma.fields.Integer()


class ShipmentPackOut(ma.Schema):
    gtin = ma.fields.String()
    serial = ma.fields.String()
    batch = ma.fields.String()
    expiry = ma.fields.Date()
    sscc = ma.fields.String(allow_none=True, metadata={"description": "The case it travelled in"})
    outcome = ma.fields.String(allow_none=True,
                               metadata={"description": "RECEIVED, DAMAGED, MISSING or EXTRA; null until received"})
    resolution = ma.fields.String(allow_none=True, metadata={
        "description": "For a MISSING pack, how it was cleared up: FOUND, RETURNED or LOST; null while unresolved"})
    resolved_at = ma.fields.DateTime(allow_none=True)


class DiscrepanciesOut(ma.Schema):
    missing = ma.fields.Integer()
    extra = ma.fields.Integer()
    damaged = ma.fields.Integer()
    extra_items = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "What was scanned but not shipped: {gtin, serial, known} or {sscc, known}"})


class ShipmentOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "SH-<year>-<number>"})
    kind = ma.fields.String(metadata={"description": "DELIVERY or RETURN"})
    status = ma.fields.String(metadata={"description": "IN_TRANSIT, RECEIVED or CANCELLED"})
    from_location = ma.fields.Nested(ShipmentLocationOut)
    to_location = ma.fields.Nested(ShipmentLocationOut)
    return_of_id = ma.fields.Integer(allow_none=True)
    packs_count = ma.fields.Integer()
    shipped_at = ma.fields.DateTime()
    received_at = ma.fields.DateTime(allow_none=True)
    discrepancies = ma.fields.Nested(DiscrepanciesOut)


class PackCountsOut(ma.Schema):
    in_transit = ma.fields.Integer(metadata={"description": "Not received yet"})
    received = ma.fields.Integer()
    damaged = ma.fields.Integer()
    missing = ma.fields.Integer(metadata={"description": "Missing at receipt, resolved or not"})
    extra = ma.fields.Integer()
    missing_unresolved = ma.fields.Integer(metadata={"description": "Missing packs not cleared up yet"})
    found = ma.fields.Integer()
    returned = ma.fields.Integer()
    lost = ma.fields.Integer()


class PackPageOut(ma.Schema):
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer(metadata={"description": "Packs matching the filter, on every page"})
    pages = ma.fields.Integer()
    outcome = ma.fields.String(allow_none=True, metadata={"description": "The outcome filter, if any"})


class ShipmentDetail(ShipmentOut):
    packs = ma.fields.List(ma.fields.Nested(ShipmentPackOut), metadata={
        "description": "One page of the shipment's packs (see packs_page), by GTIN and serial"})
    pack_counts = ma.fields.Nested(PackCountsOut, attribute="counts")
    packs_page = ma.fields.Function(
        lambda v: PackPageOut().dump({"page": v.pack_page.page, "per_page": v.pack_page.per_page,
                                      "total": v.pack_page.total, "pages": v.pack_page.pages,
                                      "outcome": v.pack_filter}),
        metadata={"description": "Which page of the packs this is: {page, per_page, total, pages, outcome}"})


ShipmentPage = page_schema(ShipmentOut, "ShipmentPage")


class StateChangeOut(ma.Schema):
    event_id = ma.fields.Integer()
    location_id = ma.fields.Integer()
    state = ma.fields.String(metadata={"description": "The packs' stored state now"})
    packs = ma.fields.List(ma.fields.Nested(MovedPackOut))


class BatchRecallOut(ma.Schema):
    gtin = ma.fields.String()
    batch = ma.fields.String()
    expiry = ma.fields.Date()
    product_id = ma.fields.Integer()
    recalled_at = ma.fields.DateTime()
    recall_reason = ma.fields.String()


class WithdrawalOut(ma.Schema):
    product_id = ma.fields.Integer(attribute="id")
    trade_name = ma.fields.String()
    withdrawn_at = ma.fields.DateTime()
    withdrawal_reason = ma.fields.String()


class RecallNoticeOut(ma.Schema):
    kind = ma.fields.String(metadata={"description": "RECALL (a batch) or WITHDRAWAL (a product)"})
    at = ma.fields.DateTime()
    reason = ma.fields.String()
    product_id = ma.fields.Integer()
    trade_name = ma.fields.String()
    gtin = ma.fields.String(allow_none=True)
    batch = ma.fields.String(allow_none=True)
    expiry = ma.fields.Date(allow_none=True)


RecallPage = page_schema(RecallNoticeOut, "RecallPage")
