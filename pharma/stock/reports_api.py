"""/api/v1/stock/expiry and /api/v1/stock/reports/...: the expiry list and its acknowledgements, and
the stock reports as JSON pages or, with ``?format=csv|xlsx``, as whole files."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint
from marshmallow import validate

from pharma.shared.http import uow
from pharma.shared.identifiers import Gtin
from pharma.shared.schemas import PageQuery
from pharma.shared.tabular import download
from pharma.stock import expiry as exp
from pharma.stock import reports as rep
from pharma.stock.domain import Kind
from pharma.stock.schemas import _batch, _gtin

blp = Blueprint("stock_reports_api", __name__, url_prefix="/api/v1/stock",
                description="Expiring stock, and stock reports as JSON, CSV or XLSX")

_BAND = ma.fields.String(load_default=None, validate=validate.OneOf([b.value for b in exp.BANDS]),
                         metadata={"description": "EXPIRED, D30 (0-30 days left), D60 (31-60), D90 (61-90)"})


# ---------------------------------------------------------------- schemas


class ExpiryQueryIn(PageQuery):
    location_id = ma.fields.Integer(required=True)
    band = _BAND

    @ma.post_load
    def query(self, data, **kwargs):
        return exp.ExpiryQuery(data["location_id"], data["band"], data["page"], data["per_page"])


class ExpiringOut(ma.Schema):
    gtin = ma.fields.String()
    batch = ma.fields.String()
    expiry = ma.fields.Date()
    band = ma.fields.String()
    days_left = ma.fields.Integer(metadata={"description": "Negative: expired that many days ago"})
    quantity = ma.fields.Integer(metadata={"description": "On hand now"})
    value = ma.fields.Integer(metadata={"description": "On hand now, at weighted-average cost, minor units"})
    serialized = ma.fields.Boolean()
    trade_name = ma.fields.String(allow_none=True)
    product_id = ma.fields.Integer(allow_none=True)
    recalled = ma.fields.Boolean()
    marked_at = ma.fields.DateTime(allow_none=True, metadata={"description": "When the scan set the band"})
    acknowledged = ma.fields.Boolean()
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    acknowledged_by = ma.fields.Integer(allow_none=True)
    acknowledged_by_name = ma.fields.String(allow_none=True)


class BandTotalOut(ma.Schema):
    band = ma.fields.String()
    lines = ma.fields.Integer()
    units = ma.fields.Integer()
    value = ma.fields.Integer(metadata={"description": "Minor units"})


class ExpiryListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ExpiringOut))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    today = ma.fields.Date()
    bands = ma.fields.List(ma.fields.Nested(BandTotalOut))


class AcknowledgeIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    gtin = _gtin(required=True)
    batch = _batch(required=True)

    @ma.post_load
    def command(self, data, **kwargs):
        return exp.Acknowledge(data["location_id"], Gtin.parse(data["gtin"]).value, data["batch"])


class NoticeOut(ma.Schema):
    location_id = ma.fields.Integer()
    gtin = ma.fields.String()
    batch = ma.fields.String()
    expiry = ma.fields.Date()
    band = ma.fields.String()
    days_left = ma.fields.Integer()
    quantity = ma.fields.Integer()
    marked_at = ma.fields.DateTime()
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    acknowledged_by = ma.fields.Integer(allow_none=True)


class ReportQuery(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    format = ma.fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]),
                              metadata={"description": "json (a page), csv or xlsx (the whole report, streamed)"})
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = ma.fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class _Gtin(ma.Schema):
    @ma.post_load
    def normalise(self, data, **kwargs):
        if data.get("gtin"):
            data["gtin"] = Gtin.parse(data["gtin"]).value
        return data


class OnHandQuery(ReportQuery, _Gtin):
    gtin = _gtin(load_default=None)
    expiring_before = ma.fields.Date(load_default=None)


class PeriodQuery(ReportQuery):
    date_from = ma.fields.Date(load_default=None, metadata={"description": "Default: 30 days before date_to"})
    date_to = ma.fields.Date(load_default=None, metadata={"description": "Inclusive; default: today (UTC)"})


class MovementsQuery(PeriodQuery, _Gtin):
    gtin = _gtin(load_default=None)
    kind = ma.fields.String(load_default=None, validate=validate.OneOf([k.value for k in Kind]))


class CardQuery(PeriodQuery, _Gtin):
    gtin = _gtin(required=True)
    batch = _batch(load_default=None)


class ExpiryReportQuery(ReportQuery):
    band = _BAND


class ColumnOut(ma.Schema):
    key = ma.fields.String()
    title = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "text, int, date, datetime, money (minor units), decimal"})


def _report_schema(name: str, items: dict) -> type[ma.Schema]:
    item = type(f"{name}Line", (ma.Schema,), items)
    return type(f"{name}Report", (ma.Schema,), {
        "report": ma.fields.String(), "title": ma.fields.String(), "location_id": ma.fields.Integer(),
        "location_name": ma.fields.String(), "summary": ma.fields.Dict(),
        "columns": ma.fields.List(ma.fields.Nested(ColumnOut)),
        "items": ma.fields.List(ma.fields.Nested(item)), "page": ma.fields.Integer(),
        "per_page": ma.fields.Integer(),
        "has_more": ma.fields.Boolean(metadata={"description": "Another page follows"})})


def _fields(columns, **kinds) -> dict:
    kind_field = {"text": ma.fields.String, "int": ma.fields.Integer, "date": ma.fields.Date,
                  "datetime": ma.fields.DateTime, "money": ma.fields.Integer, "decimal": ma.fields.Float}
    return {c.key: kind_field[c.kind](allow_none=True) for c in columns} | kinds


OnHandOut = _report_schema("OnHand", _fields(rep.ON_HAND_COLUMNS))
MovementsOut = _report_schema("Movements", _fields(rep.MOVEMENT_COLUMNS))
CardOut = _report_schema("Card", _fields(rep.CARD_COLUMNS))
ExpiryReportOut = _report_schema("ExpiryReport", _fields(rep.EXPIRY_COLUMNS))
ConsumptionOut = _report_schema("Consumption", _fields(rep.CONSUMPTION_COLUMNS))


def _out(report: rep.Report, args: dict):
    fmt = args["format"]
    if fmt == "json":
        return report.page(args["page"], args["per_page"])
    return download(fmt, rep.file_name(report, fmt), report.columns, lambda: report.rows(whole=True),
                    sheet=str(report.title))


# ---------------------------------------------------------------- endpoints


@blp.get("/expiry")
@blp.arguments(ExpiryQueryIn, location="query")
@blp.response(200, ExpiryListOut)
def expiry_list(query):
    """A location's expired and expiring stock (within 90 days), earliest expiry first, with the
    quantity and value on hand now, each band's totals and the notices' acknowledgements."""
    return exp.expiry_list(uow(), query).to_dict()


@blp.post("/expiry/acknowledge")
@blp.arguments(AcknowledgeIn)
@blp.response(200, NoticeOut)
def acknowledge(cmd):
    """Acknowledge an expired or expiring batch in its current band (a later band asks again);
    twice keeps the first. No such batch on hand within 90 days: 404."""
    return exp.acknowledge(uow(), cmd)


@blp.get("/reports/on-hand")
@blp.arguments(OnHandQuery, location="query")
@blp.response(200, OnHandOut)
def on_hand(args):
    """Stock on hand by product, batch and expiry with totals; ``format=csv|xlsx``: the whole report
    as a file (money in major units there; in minor units in JSON)."""
    return _out(rep.on_hand(uow(), args["location_id"], args["gtin"], args["expiring_before"]), args)


@blp.get("/reports/card")
@blp.arguments(CardQuery, location="query")
@blp.response(200, CardOut)
def card(args):
    """A product's (or batch's) stock card: opening and closing balance in ``summary``, every movement
    with the balance after it; ``format=csv|xlsx`` adds OPENING and CLOSING lines."""
    return _out(rep.card(uow(), args["location_id"], args["gtin"], args["batch"], args["date_from"],
                         args["date_to"]), args)


@blp.get("/reports/movements")
@blp.arguments(MovementsQuery, location="query")
@blp.response(200, MovementsOut)
def movements(args):
    """The journal of movements over a period, oldest first; ``format=csv|xlsx`` for the whole period."""
    return _out(rep.movements(uow(), args["location_id"], args["date_from"], args["date_to"], args["gtin"],
                              args["kind"]), args)


@blp.get("/reports/expiry")
@blp.arguments(ExpiryReportQuery, location="query")
@blp.response(200, ExpiryReportOut)
def expiry_report(args):
    """Expired and expiring stock by band as a report; ``format=csv|xlsx`` for a file."""
    return _out(rep.expiry(uow(), args["location_id"], args["band"]), args)


@blp.get("/reports/consumption")
@blp.arguments(PeriodQuery, location="query")
@blp.response(200, ConsumptionOut)
def consumption(args):
    """Units sold and dispensed per product (GTIN) over a period, with the average per day and the value
    at cost; ``format=csv|xlsx`` for a file."""
    return _out(rep.consumption(uow(), args["location_id"], args["date_from"], args["date_to"]), args)
