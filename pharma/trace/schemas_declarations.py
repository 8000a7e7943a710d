from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from pharma.shared.schemas import PageQuery, page_schema


class DeclarationForm(ma.Schema):
    permit_id = ma.fields.Integer(required=True)
    location_id = ma.fields.Integer(required=True, metadata={"description": "The importer's arrival location"})
    format = ma.fields.String(load_default=None, validate=validate.OneOf(["csv", "json"]),
                              metadata={"description": "csv or json; by default from the file name"})


class DeclarationFile(ma.Schema):
    file = Upload(required=True, metadata={"description": "CSV (gtin,batch,expiry,serial[,manufactured,sscc,"
                                                          "parent_sscc,unit_cost]) or JSON {\"packs\": [...]}; "
                                                          "unit_cost: the import cost of one pack, minor units"})


class LineError(ma.Schema):
    line = ma.fields.Integer()
    field = ma.fields.String()
    code = ma.fields.String()
    message = ma.fields.String()


class DeclarationOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    importer_id = ma.fields.Integer()
    permit_id = ma.fields.Integer()
    location_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "RECEIVED, PROCESSING, ACCEPTED or REJECTED"})
    source_format = ma.fields.String()
    filename = ma.fields.String()
    packs_total = ma.fields.Integer()
    packs_done = ma.fields.Integer()
    percent = ma.fields.Integer()
    error_count = ma.fields.Integer()
    first_errors = ma.fields.Function(lambda d: (d.errors or [])[:20], metadata={"description": "The first 20"})
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)


DeclarationPage = page_schema(DeclarationOut, "DeclarationPage")


class DeclarationQuery(PageQuery):
    status = ma.fields.String(load_default=None,
                              validate=validate.OneOf(["RECEIVED", "PROCESSING", "ACCEPTED", "REJECTED"]))
