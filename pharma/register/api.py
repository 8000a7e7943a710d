"""/api/v1/register: the register of medicinal products, their certificates and prices."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.register import schemas as s
from pharma.register import services as svc
from pharma.register import tasks as _tasks  # noqa: F401  (the worker learns the register's tasks)
from pharma.shared.http import uow

blp = Blueprint("register_api", __name__, url_prefix="/api/v1/register",
                description="The register of medicinal products")


@blp.get("/products")
@blp.arguments(s.ProductQuery, location="query")
@blp.response(200, s.ProductPage)
def search_products(args):
    """Search products by trade name, INN, ATC prefix, GTIN or registration number."""
    return svc.search_products(uow(), svc.ProductQuery(**args)).to_dict()


@blp.post("/products")
@blp.arguments(s.ProductIn)
@blp.response(201, s.ProductDetail)
def register_product(args):
    """Register a product with its certificate and GTINs (regulator)."""
    return svc.register_product(uow(), s.new_product(args))


@blp.get("/products/<int:product_id>")
@blp.response(200, s.ProductDetail)
def get_product(product_id):
    """One product: substances, GTINs, certificate with its history, price periods."""
    return svc.get_product(uow(), product_id)


@blp.patch("/products/<int:product_id>")
@blp.arguments(s.ProductPatch)
@blp.response(200, s.ProductDetail)
def amend_product(args, product_id):
    """Amend a product's facts; only the fields sent change (regulator)."""
    return svc.amend_product(uow(), product_id, s.product_changes(args))


@blp.post("/products/<int:product_id>/prices")
@blp.arguments(s.PriceIn)
@blp.response(201, s.PriceOut)
def set_max_price(args, product_id):
    """Set the regulated maximum retail price from a date; the open period before it closes."""
    return svc.set_max_price(uow(), product_id, svc.NewPrice(**args))


@blp.get("/gtins/<gtin>")
@blp.response(200, s.GtinLookupOut)
def product_by_gtin(gtin):
    """Look up a GTIN (8, 12, 13 or 14 digits): the product, its certificate and price in force."""
    return svc.product_by_gtin(uow(), gtin)


@blp.post("/certificates/<int:certificate_id>/suspend")
@blp.arguments(s.ReasonIn)
@blp.response(200, s.CertificateDetail)
def suspend_certificate(args, certificate_id):
    """Suspend an active certificate, with a reason (regulator)."""
    return svc.suspend_certificate(uow(), certificate_id, args["reason"])


@blp.post("/certificates/<int:certificate_id>/reinstate")
@blp.arguments(s.ReasonIn)
@blp.response(200, s.CertificateDetail)
def reinstate_certificate(args, certificate_id):
    """Lift a certificate's suspension, with a reason (regulator)."""
    return svc.reinstate_certificate(uow(), certificate_id, args["reason"])


@blp.post("/certificates/<int:certificate_id>/revoke")
@blp.arguments(s.ReasonIn)
@blp.response(200, s.CertificateDetail)
def revoke_certificate(args, certificate_id):
    """Revoke a certificate for good, with a reason (regulator)."""
    return svc.revoke_certificate(uow(), certificate_id, args["reason"])


@blp.post("/certificates/<int:certificate_id>/renew")
@blp.arguments(s.RenewIn)
@blp.response(200, s.CertificateDetail)
def renew_certificate(args, certificate_id):
    """Extend a certificate's validity; an expired one becomes active again (regulator)."""
    return svc.renew_certificate(uow(), certificate_id, args["valid_until"], args["reason"])


@blp.get("/icd10")
@blp.arguments(s.Icd10Query, location="query")
@blp.response(200, s.Icd10Out(many=True))
def search_icd10(args):
    """ICD-10 codes by code prefix or words of the title."""
    return svc.search_icd10(uow(), args["q"], args["limit"])
