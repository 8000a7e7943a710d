"""Request and response payloads of the register API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pharma.register import domain as d
from pharma.register import services as svc
from pharma.shared.schemas import PageQuery, page_schema
from pharma.shared.time import today

_FORMS = validate.OneOf([f.value for f in d.DosageForm])
_ROUTES = validate.OneOf([r.value for r in d.Route])
_PACK_UNITS = validate.OneOf(list(d.PACK_UNITS))
_SCHEDULES = validate.OneOf(list(d.SCHEDULES))
_STATUSES = validate.OneOf([s.value for s in d.CertificateStatus])
_REASON = validate.Length(min=3, max=500)
_ATC = validate.Regexp(r"^[A-Za-z][0-9]{2}[A-Za-z]{2}[0-9]{2}$", error="Use a 7-character ATC code such as J01CR02.")


# ---------------------------------------------------------------- out


class SubstanceOut(ma.Schema):
    inn = ma.fields.String()
    strength = ma.fields.String(attribute="strength_text", metadata={"description": "Such as '875 mg'"})
    strength_value = ma.fields.Decimal(as_string=True)
    strength_unit = ma.fields.String()


class HistoryOut(ma.Schema):
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    valid_until = ma.fields.Date()
    reason = ma.fields.String()
    username = ma.fields.String()
    at = ma.fields.DateTime()


class CertificateOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    holder = ma.fields.String()
    manufacturer = ma.fields.String()
    country = ma.fields.String()
    issued_on = ma.fields.Date()
    valid_until = ma.fields.Date()
    status = ma.fields.String(metadata={"description": "active, suspended, revoked or expired"})


class CertificateDetail(CertificateOut):
    history = ma.fields.List(ma.fields.Nested(HistoryOut))


class PriceOut(ma.Schema):
    max_retail_price = ma.fields.Integer(metadata={"description": "Qəpik (AZN minor unit)"})
    effective_from = ma.fields.Date()
    effective_to = ma.fields.Date(allow_none=True, metadata={"description": "Inclusive; null = open"})


class ProductOut(ma.Schema):
    id = ma.fields.Integer()
    trade_name = ma.fields.String()
    atc_code = ma.fields.String()
    dosage_form = ma.fields.String()
    route = ma.fields.String()
    pack_size = ma.fields.Integer()
    pack_unit = ma.fields.String()
    rx = ma.fields.Boolean()
    controlled_schedule = ma.fields.String(allow_none=True)
    substances = ma.fields.List(ma.fields.Nested(SubstanceOut))
    gtins = ma.fields.Function(lambda p: [g.gtin for g in p.gtins])
    certificate = ma.fields.Nested(CertificateOut, allow_none=True)
    max_retail_price = ma.fields.Function(
        lambda p: (lambda r: r.max_retail_price if r else None)(p.price_on(today())),
        metadata={"description": "The maximum retail price in force today, in qəpik"})


class ProductDetail(ProductOut):
    certificate = ma.fields.Nested(CertificateDetail, allow_none=True)
    prices = ma.fields.List(ma.fields.Nested(PriceOut))


ProductPage = page_schema(ProductOut, "ProductPage")


class GtinLookupOut(ma.Schema):
    gtin = ma.fields.String(metadata={"description": "GTIN-14"})
    product_id = ma.fields.Integer()
    trade_name = ma.fields.String()
    atc_code = ma.fields.String()
    dosage_form = ma.fields.String()
    pack_size = ma.fields.Integer()
    pack_unit = ma.fields.String()
    rx = ma.fields.Boolean()
    controlled_schedule = ma.fields.String(allow_none=True)
    certificate_id = ma.fields.Integer(allow_none=True)
    certificate_number = ma.fields.String(allow_none=True)
    certificate_status = ma.fields.String(allow_none=True)
    valid_until = ma.fields.Date(allow_none=True)
    in_force = ma.fields.Boolean(metadata={"description": "Certificate active and within its validity today"})
    max_retail_price = ma.fields.Integer(allow_none=True)


class Icd10Out(ma.Schema):
    code = ma.fields.String()
    title = ma.fields.String()


# ---------------------------------------------------------------- in


class ProductQuery(PageQuery):
    q = ma.fields.String(load_default="", validate=validate.Length(max=200),
                         metadata={"description": "Trade name, INN, ATC prefix, GTIN or registration number"})
    status = ma.fields.String(load_default=None, validate=_STATUSES)
    rx = ma.fields.Boolean(load_default=None)
    dosage_form = ma.fields.String(load_default=None, validate=_FORMS)
    controlled = ma.fields.Boolean(load_default=None)


class SubstanceIn(ma.Schema):
    inn = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))
    strength = ma.fields.String(required=True, validate=validate.Length(min=2, max=40),
                                metadata={"description": "Amount and unit, such as '875 mg'"})


class CertificateIn(ma.Schema):
    number = ma.fields.String(required=True, validate=validate.Length(min=3, max=40))
    holder = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))
    manufacturer = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))
    country = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO 3166 alpha-2"))
    issued = ma.fields.Date(required=True)
    valid_until = ma.fields.Date(required=True)


class ProductIn(ma.Schema):
    trade_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    substances = ma.fields.List(ma.fields.Nested(SubstanceIn), required=True, validate=validate.Length(min=1))
    atc_code = ma.fields.String(required=True, validate=_ATC)
    dosage_form = ma.fields.String(required=True, validate=_FORMS)
    route = ma.fields.String(required=True, validate=_ROUTES)
    pack_size = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100000))
    pack_unit = ma.fields.String(required=True, validate=_PACK_UNITS)
    gtins = ma.fields.List(ma.fields.String(), required=True, validate=validate.Length(min=1))
    rx = ma.fields.Boolean(required=True)
    controlled_schedule = ma.fields.String(load_default=None, allow_none=True, validate=_SCHEDULES)
    certificate = ma.fields.Nested(CertificateIn, required=True)
    max_retail_price = ma.fields.Integer(load_default=None, allow_none=True, strict=True,
                                         validate=validate.Range(min=1))
    price_from = ma.fields.Date(load_default=None, allow_none=True)


class ProductPatch(ma.Schema):
    reason = ma.fields.String(required=True, validate=_REASON)
    trade_name = ma.fields.String(validate=validate.Length(min=1, max=200))
    atc_code = ma.fields.String(validate=_ATC)
    dosage_form = ma.fields.String(validate=_FORMS)
    route = ma.fields.String(validate=_ROUTES)
    pack_size = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=100000))
    pack_unit = ma.fields.String(validate=_PACK_UNITS)
    rx = ma.fields.Boolean()
    controlled_schedule = ma.fields.String(allow_none=True, validate=_SCHEDULES)
    holder = ma.fields.String(validate=validate.Length(min=2, max=200))
    manufacturer = ma.fields.String(validate=validate.Length(min=2, max=200))
    country = ma.fields.String(validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO 3166 alpha-2"))
    substances = ma.fields.List(ma.fields.Nested(SubstanceIn), validate=validate.Length(min=1))
    add_gtins = ma.fields.List(ma.fields.String())


class ReasonIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=_REASON)


class RenewIn(ReasonIn):
    valid_until = ma.fields.Date(required=True)


class PriceIn(ma.Schema):
    max_retail_price = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1),
                                         metadata={"description": "Qəpik (AZN minor unit)"})
    effective_from = ma.fields.Date(required=True)
    effective_to = ma.fields.Date(load_default=None, allow_none=True)
    reason = ma.fields.String(load_default="", validate=validate.Length(max=500))


class Icd10Query(ma.Schema):
    q = ma.fields.String(load_default="", validate=validate.Length(max=100))
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


# ---------------------------------------------------------------- payload -> command


def new_product(args: dict) -> svc.NewProduct:
    return svc.NewProduct(
        trade_name=args["trade_name"],
        substances=tuple(svc.SubstanceLine(**line) for line in args["substances"]),
        atc_code=args["atc_code"], dosage_form=args["dosage_form"], route=args["route"],
        pack_size=args["pack_size"], pack_unit=args["pack_unit"], gtins=tuple(args["gtins"]),
        rx=args["rx"], controlled_schedule=args.get("controlled_schedule"),
        certificate=svc.NewCertificate(**args["certificate"]),
        max_retail_price=args.get("max_retail_price"), price_from=args.get("price_from"),
    )


def product_changes(args: dict) -> svc.ProductChanges:
    values = dict(args)
    reason = values.pop("reason")
    substances = values.pop("substances", None)
    add_gtins = tuple(values.pop("add_gtins", ()))
    return svc.ProductChanges(
        reason=reason,
        values=values,
        add_gtins=add_gtins,
        substances=None if substances is None else tuple(svc.SubstanceLine(**line) for line in substances),
    )
