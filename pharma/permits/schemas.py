"""Request and response payloads of the import permits API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pharma.permits import domain as d
from pharma.permits import services as svc
from pharma.shared.schemas import PageQuery, page_schema
from pharma.shared.time import today

_STATUSES = validate.OneOf([s.value for s in d.PermitStatus])
_USED_STATUSES = validate.OneOf(["APPROVED", "EXPIRED", "REVOKED"])
_REASON = validate.Length(min=3, max=500)
_COUNTRY = validate.Regexp(r"^[A-Z]{2}$", error="Use the two-letter ISO 3166 country code.")


# ---------------------------------------------------------------- out


class ImporterOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    tax_id = ma.fields.String(allow_none=True)


class PermitLineOut(ma.Schema):
    id = ma.fields.Integer()
    product_id = ma.fields.Integer()
    trade_name = ma.fields.Function(lambda line: line.product.trade_name)
    gtins = ma.fields.Function(lambda line: [g.gtin for g in line.product.gtins])
    manufacturer = ma.fields.String()
    country_of_origin = ma.fields.String()
    packs_requested = ma.fields.Integer()
    packs_approved = ma.fields.Integer()
    packs_used = ma.fields.Integer(metadata={"description": "Drawn down by accepted declarations"})
    packs_left = ma.fields.Integer()


class PermitOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "Such as IP-2026-000123"})
    importer = ma.fields.Nested(ImporterOut)
    status = ma.fields.String(metadata={"description": "APPLIED, APPROVED, REFUSED or REVOKED (as stored)"})
    effective_status = ma.fields.Function(
        lambda p: d.effective_status(p.status, p.valid_until, today()).value,
        metadata={"description": "The status with EXPIRED for an approved permit past its validity"})
    requested_valid_until = ma.fields.Date()
    valid_from = ma.fields.Date(allow_none=True)
    valid_until = ma.fields.Date(allow_none=True)
    applied_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revoke_reason = ma.fields.String(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(PermitLineOut))


PermitPage = page_schema(PermitOut, "PermitPage")


class UsageOut(ma.Schema):
    approved = ma.fields.Integer()
    used = ma.fields.Integer()
    left = ma.fields.Integer()
    percent = ma.fields.Integer(metadata={"description": "Whole percent used, rounded down"})


class LineUsageOut(UsageOut):
    line_id = ma.fields.Integer()
    product_id = ma.fields.Integer()
    trade_name = ma.fields.String()


class PermitUsageOut(UsageOut):
    permit_id = ma.fields.Function(lambda u: u.permit.id)
    number = ma.fields.Function(lambda u: u.permit.number)
    importer_id = ma.fields.Function(lambda u: u.permit.importer_id)
    importer_name = ma.fields.Function(lambda u: u.permit.importer.name)
    status = ma.fields.Function(lambda u: d.effective_status(u.permit.status, u.permit.valid_until, today()).value)
    valid_from = ma.fields.Function(lambda u: u.permit.valid_from.isoformat())
    valid_until = ma.fields.Function(lambda u: u.permit.valid_until.isoformat())
    lines = ma.fields.List(ma.fields.Nested(LineUsageOut))


class GroupUsageOut(UsageOut):
    id = ma.fields.Integer()
    name = ma.fields.String()


class UtilisationOut(ma.Schema):
    items = ma.fields.Function(lambda u: PermitUsageOut(many=True).dump(u.page.items),
                               metadata={"description": "Permits of this page, with their lines"})
    total_permits = ma.fields.Function(lambda u: u.page.total)
    page = ma.fields.Function(lambda u: u.page.page)
    per_page = ma.fields.Function(lambda u: u.page.per_page)
    by_importer = ma.fields.List(ma.fields.Nested(GroupUsageOut))
    by_product = ma.fields.List(ma.fields.Nested(GroupUsageOut))
    total = ma.fields.Nested(UsageOut)


# ---------------------------------------------------------------- in


class PermitLineIn(ma.Schema):
    product_id = ma.fields.Integer(load_default=None, allow_none=True, strict=True)
    gtin = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=14),
                            metadata={"description": "Instead of product_id: any GTIN of the product"})
    packs_requested = ma.fields.Integer(required=True, strict=True,
                                        validate=validate.Range(min=1, max=d.MAX_PACKS_PER_LINE))
    manufacturer = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(min=2, max=200),
                                    metadata={"description": "Defaults to the certificate's manufacturer"})
    country_of_origin = ma.fields.String(load_default=None, allow_none=True, validate=_COUNTRY,
                                         metadata={"description": "Defaults to the certificate's country"})

    @ma.validates_schema
    def _one_product(self, data, **_kwargs):
        if (data.get("product_id") is None) == (not data.get("gtin")):
            raise ma.ValidationError("Give either product_id or gtin.", "product_id")


class PermitIn(ma.Schema):
    requested_valid_until = ma.fields.Date(required=True)
    lines = ma.fields.List(ma.fields.Nested(PermitLineIn), required=True,
                           validate=validate.Length(min=1, max=d.MAX_LINES))


class ApprovedLineIn(ma.Schema):
    line_id = ma.fields.Integer(required=True, strict=True)
    packs_approved = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class ApproveIn(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(ApprovedLineIn), load_default=None,
                           metadata={"description": "Packs per line; lines left out are approved as requested"})
    valid_from = ma.fields.Date(load_default=None, allow_none=True, metadata={"description": "Default: today"})
    valid_until = ma.fields.Date(load_default=None, allow_none=True,
                                 metadata={"description": "Default and latest: the requested validity"})
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @ma.validates("lines")
    def _once_each(self, lines, **_kwargs):
        ids = [line["line_id"] for line in lines or []]
        if len(ids) != len(set(ids)):
            raise ma.ValidationError("Each line may be listed once.")


class PermitReasonIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=_REASON)


class PermitQuery(PageQuery):
    status = ma.fields.String(load_default=None, validate=_STATUSES)
    importer_id = ma.fields.Integer(load_default=None)
    product_id = ma.fields.Integer(load_default=None)
    number = ma.fields.String(load_default=None, validate=validate.Length(max=32))
    applied_from = ma.fields.Date(load_default=None)
    applied_to = ma.fields.Date(load_default=None)
    valid_on = ma.fields.Date(load_default=None, metadata={"description": "Approved permits valid on this day"})
    oldest_first = ma.fields.Boolean(load_default=False)


class UtilisationQuery(PageQuery):
    importer_id = ma.fields.Integer(load_default=None)
    product_id = ma.fields.Integer(load_default=None)
    status = ma.fields.String(load_default=None, validate=_USED_STATUSES)


# ---------------------------------------------------------------- payload -> command


def application(args: dict) -> svc.PermitApplication:
    return svc.PermitApplication(requested_valid_until=args["requested_valid_until"],
                                 lines=tuple(svc.LineRequest(**line) for line in args["lines"]))


def decision(args: dict) -> svc.Decision:
    lines = args.get("lines")
    return svc.Decision(packs=None if lines is None else {x["line_id"]: x["packs_approved"] for x in lines},
                        valid_from=args.get("valid_from"), valid_until=args.get("valid_until"),
                        reason=args.get("reason"))
