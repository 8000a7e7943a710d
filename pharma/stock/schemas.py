"""Request and response payloads of the stock API. Money is in minor units, as integers.

GTINs in any 8/12/13/14-digit form are kept as 14 digits; batches are 1 to 20 characters of the
GS1 set 82. Syntax is checked here; existence and rules by the services.
"""

from __future__ import annotations

from datetime import timedelta

import marshmallow as ma
from marshmallow import validate

from pharma.shared.errors import InvalidIdentifier
from pharma.shared.identifiers import Batch, Gtin
from pharma.shared.schemas import PageQuery, page_schema
from pharma.shared.time import today
from pharma.stock import services as svc
from pharma.stock.domain import ISSUE_KINDS, WRITE_OFF_REASONS, Kind

_LINES = validate.Length(min=1, max=1000)
_QUANTITY = validate.Range(min=1, max=1_000_000)


def _identifier(parser):
    def check(value: str) -> None:
        try:
            parser(value)
        except InvalidIdentifier as exc:
            raise ma.ValidationError(exc.message) from None

    return check


def _gtin(**kwargs):
    kwargs.setdefault("metadata", {"description": "GTIN-8/12/13/14; kept as 14"})
    return ma.fields.String(validate=_identifier(Gtin.parse), **kwargs)


def _batch(**kwargs):
    kwargs.setdefault("metadata", {"description": "AI 10: 1 to 20 characters"})
    return ma.fields.String(validate=_identifier(Batch.parse), **kwargs)


_DOCUMENT = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))


class ReceiptLineIn(ma.Schema):
    gtin = _gtin(required=True)
    batch = _batch(required=True)
    expiry = ma.fields.Date(required=True)
    quantity = ma.fields.Integer(required=True, validate=_QUANTITY)
    unit_cost = ma.fields.Integer(required=True, validate=validate.Range(min=0),
                                  metadata={"description": "Purchase cost of one unit, minor units"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.ReceiptLine(Gtin.parse(data["gtin"]).value, data["batch"], data["expiry"], data["quantity"],
                               data["unit_cost"])


class ReceiptIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    document = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"description": "The supplier's invoice or delivery note"})
    supplier = ma.fields.String(load_default="", validate=validate.Length(max=200))
    lines = ma.fields.List(ma.fields.Nested(ReceiptLineIn), required=True, validate=_LINES)

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.ReceiveStock(data["location_id"], data["document"], tuple(data["lines"]), data["supplier"])


class IssueLineIn(ma.Schema):
    gtin = _gtin(required=True)
    quantity = ma.fields.Integer(required=True, validate=_QUANTITY)
    batch = _batch(load_default=None, allow_none=True,
                   metadata={"description": "Only this batch; leave out for FEFO (earliest expiry first)"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.IssueLine(Gtin.parse(data["gtin"]).value, data["quantity"], data["batch"])


class IssueIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    kind = ma.fields.String(load_default=Kind.SALE.value, validate=validate.OneOf([k.value for k in ISSUE_KINDS]))
    document = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"description": "The fiscal receipt (SALE) or the prescription (DISPENSE)"})
    lines = ma.fields.List(ma.fields.Nested(IssueLineIn), required=True, validate=_LINES)

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.IssueStock(data["location_id"], data["kind"], data["document"], tuple(data["lines"]))


class WriteOffLineIn(ma.Schema):
    gtin = _gtin(required=True)
    batch = _batch(required=True)
    quantity = ma.fields.Integer(required=True, validate=_QUANTITY)

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.WriteOffLine(Gtin.parse(data["gtin"]).value, data["batch"], data["quantity"])


class WriteOffIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True, validate=validate.OneOf([r.value for r in WRITE_OFF_REASONS]))
    document = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"description": "The write-off act"})
    note = ma.fields.String(load_default="", validate=validate.Length(max=500))
    lines = ma.fields.List(ma.fields.Nested(WriteOffLineIn), required=True, validate=_LINES)

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.WriteOff(data["location_id"], data["reason"], data["document"], tuple(data["lines"]), data["note"])


class MovementOut(ma.Schema):
    id = ma.fields.Integer()
    location_id = ma.fields.Integer()
    gtin = ma.fields.String()
    batch = ma.fields.String()
    expiry = ma.fields.Date()
    expiry_raw = ma.fields.String()
    kind = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    quantity = ma.fields.Integer(metadata={"description": "Signed: + in, - out"})
    unit_cost = ma.fields.Integer(allow_none=True)
    value = ma.fields.Integer(metadata={"description": "Signed value moved at weighted-average cost, minor units"})
    document_type = ma.fields.String()
    document_id = ma.fields.String()
    trace_event_id = ma.fields.Integer(allow_none=True)
    serialized = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    user_id = ma.fields.Integer(allow_none=True)


class PostedOut(ma.Schema):
    location_id = ma.fields.Integer()
    document_type = ma.fields.String()
    document_id = ma.fields.String()
    movements = ma.fields.List(ma.fields.Nested(MovementOut))


class BalanceQueryIn(PageQuery):
    location_id = ma.fields.Integer(required=True)
    gtin = _gtin(load_default=None)
    expiring_before = ma.fields.Date(load_default=None)

    @ma.post_load
    def query(self, data, **kwargs):
        gtin = Gtin.parse(data["gtin"]).value if data.get("gtin") else None
        return svc.BalanceQuery(data["location_id"], gtin, data["expiring_before"], data["page"], data["per_page"])


class BalanceOut(ma.Schema):
    gtin = ma.fields.String()
    batch = ma.fields.String()
    expiry = ma.fields.Date()
    expiry_raw = ma.fields.String()
    product_id = ma.fields.Integer(allow_none=True)
    trade_name = ma.fields.String(allow_none=True)
    quantity = ma.fields.Integer()
    value = ma.fields.Integer(metadata={"description": "At weighted-average cost, minor units"})
    max_retail_price = ma.fields.Integer(allow_none=True,
                                         metadata={"description": "Today's regulated maximum retail price of a pack"})
    retail_value = ma.fields.Integer(allow_none=True, metadata={"description": "quantity * max_retail_price"})
    serialized = ma.fields.Boolean()
    recalled = ma.fields.Boolean()
    expired = ma.fields.Boolean()
    sellable = ma.fields.Boolean(metadata={"description": "May be issued by quantity (FEFO) now"})
    updated_at = ma.fields.DateTime()


class StockOnHandOut(page_schema(BalanceOut, "BalancePage")):
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    lines = ma.fields.Integer(metadata={"description": "Batches on hand (matching the filters)"})
    units = ma.fields.Integer()
    value = ma.fields.Integer(metadata={"description": "Stock value at cost, minor units"})
    retail_value = ma.fields.Integer(metadata={"description": "At today's regulated maximum retail prices"})


class MovementQueryIn(PageQuery):
    location_id = ma.fields.Integer(required=True)
    gtin = _gtin(load_default=None)
    batch = _batch(load_default=None)
    kind = ma.fields.String(load_default=None, validate=validate.OneOf([k.value for k in Kind]))
    date_from = ma.fields.Date(load_default=None)
    date_to = ma.fields.Date(load_default=None)

    @ma.post_load
    def query(self, data, **kwargs):
        gtin = Gtin.parse(data["gtin"]).value if data.get("gtin") else None
        return svc.MovementQuery(data["location_id"], gtin, data["batch"], data["kind"], data["date_from"],
                                 data["date_to"], data["page"], data["per_page"])


MovementPage = page_schema(MovementOut, "MovementPage")


class CardQueryIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    gtin = _gtin(required=True)
    batch = _batch(load_default=None)
    date_from = ma.fields.Date(load_default=None, metadata={"description": "Default: 30 days ago"})
    date_to = ma.fields.Date(load_default=None, metadata={"description": "Inclusive; default: today"})

    @ma.post_load
    def normalise(self, data, **kwargs):
        data["gtin"] = Gtin.parse(data["gtin"]).value
        data["date_to"] = data["date_to"] or today()
        data["date_from"] = data["date_from"] or data["date_to"] - timedelta(days=30)
        return data


class CardMovementOut(MovementOut):
    balance = ma.fields.Integer(metadata={"description": "The balance after this movement"})


class StockCardOut(ma.Schema):
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    gtin = ma.fields.String()
    batch = ma.fields.String(allow_none=True)
    trade_name = ma.fields.String(allow_none=True)
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()
    opening = ma.fields.Integer()
    opening_value = ma.fields.Integer()
    movements = ma.fields.List(ma.fields.Nested(CardMovementOut))
    closing = ma.fields.Integer()
    closing_value = ma.fields.Integer()


class TransferLineIn(ma.Schema):
    gtin = _gtin(required=True)
    batch = _batch(required=True)
    quantity = ma.fields.Integer(required=True, validate=_QUANTITY)

    @ma.post_load
    def command(self, data, **kwargs):
        from pharma.stock.transfers import TransferLine

        return TransferLine(Gtin.parse(data["gtin"]).value, data["batch"], data["quantity"])


class TransferIn(ma.Schema):
    from_location_id = ma.fields.Integer(required=True)
    to_location_id = ma.fields.Integer(required=True, metadata={"description": "Another location of the same "
                                                                              "organisation"})
    document = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"description": "The transfer note"})
    note = ma.fields.String(load_default="", validate=validate.Length(max=500))
    lines = ma.fields.List(ma.fields.Nested(TransferLineIn), required=True, validate=_LINES)

    @ma.post_load
    def command(self, data, **kwargs):
        from pharma.stock.transfers import TransferStock

        return TransferStock(data["from_location_id"], data["to_location_id"], data["document"],
                             tuple(data["lines"]), data["note"])


class TransferredOut(ma.Schema):
    document_id = ma.fields.String()
    sent = ma.fields.Nested(PostedOut, metadata={"description": "TRANSFER_OUT at the sending location"})
    received = ma.fields.Nested(PostedOut, metadata={"description": "TRANSFER_IN at the receiving location, at the "
                                                                     "value that left the sender"})
