from __future__ import annotations

import marshmallow as ma

from pharma.shared.schemas import PageQuery, page_schema


class AuditQueryIn(PageQuery):
    action = ma.fields.String(load_default=None, metadata={"description": "Action prefix, e.g. 'licence.'"})
    object_type = ma.fields.String(load_default=None)
    object_id = ma.fields.String(load_default=None)
    username = ma.fields.String(load_default=None)
    organisation_id = ma.fields.Integer(load_default=None)
    request_id = ma.fields.String(load_default=None)
    date_from = ma.fields.Date(load_default=None)
    date_to = ma.fields.Date(load_default=None)


class AuditEntryOut(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    user_id = ma.fields.Integer(allow_none=True)
    device_id = ma.fields.Integer(allow_none=True)
    organisation_id = ma.fields.Integer(allow_none=True)
    username = ma.fields.String()
    action = ma.fields.String()
    object_type = ma.fields.String()
    object_id = ma.fields.String()
    request_id = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    count = ma.fields.Integer()
    change = ma.fields.Dict()


AuditPage = page_schema(AuditEntryOut, "AuditPage")
