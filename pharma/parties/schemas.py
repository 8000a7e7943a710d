"""Request and response payloads of the parties API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pharma.parties.domain import LicenceKind, LicenceStatus, OrgType, Role
from pharma.shared.schemas import PageQuery, page_schema

_KEY = validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,63}$", error="Use 2-64 lower-case letters, digits and hyphens.")


class LicenceOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    kind = ma.fields.String()
    valid_from = ma.fields.Date()
    valid_until = ma.fields.Date()
    status = ma.fields.String()


class LocationOut(ma.Schema):
    id = ma.fields.Integer()
    organisation_id = ma.fields.Integer()
    gln = ma.fields.String()
    name = ma.fields.String()
    region = ma.fields.String()
    city = ma.fields.String()
    address = ma.fields.String()
    active = ma.fields.Boolean()


class OrganisationOut(ma.Schema):
    id = ma.fields.Integer()
    key = ma.fields.String()
    type = ma.fields.String()
    name = ma.fields.String()
    tax_id = ma.fields.String(allow_none=True)
    country = ma.fields.String()
    active = ma.fields.Boolean()


class OrganisationDetail(OrganisationOut):
    licences = ma.fields.List(ma.fields.Nested(LicenceOut))
    locations = ma.fields.List(ma.fields.Nested(LocationOut))


OrganisationPage = page_schema(OrganisationOut, "OrganisationPage")


class OrganisationQuery(PageQuery):
    q = ma.fields.String(load_default="")
    type = ma.fields.String(load_default=None, validate=validate.OneOf([t.value for t in OrgType]))
    region = ma.fields.String(load_default=None)


class OrganisationIn(ma.Schema):
    key = ma.fields.String(required=True, validate=_KEY)
    type = ma.fields.String(required=True, validate=validate.OneOf([t.value for t in OrgType]))
    name = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))
    tax_id = ma.fields.String(load_default=None,
                              validate=validate.Regexp(r"^[0-9]{10}$", error="A tax id (VÖEN) has 10 digits."))
    country = ma.fields.String(load_default="AZ", validate=validate.Regexp(r"^[A-Z]{2}$"))


class ActiveIn(ma.Schema):
    active = ma.fields.Boolean(required=True)
    reason = ma.fields.String(load_default="", validate=validate.Length(max=500))


class LicenceIn(ma.Schema):
    number = ma.fields.String(required=True, validate=validate.Length(min=3, max=40))
    kind = ma.fields.String(required=True, validate=validate.OneOf([k.value for k in LicenceKind]))
    valid_from = ma.fields.Date(required=True)
    valid_until = ma.fields.Date(required=True)


class LicenceStatusIn(ma.Schema):
    status = ma.fields.String(required=True, validate=validate.OneOf([s.value for s in LicenceStatus]))
    reason = ma.fields.String(required=True, validate=validate.Length(min=3, max=500))


class LocationIn(ma.Schema):
    gln = ma.fields.String(required=True)
    name = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))
    region = ma.fields.String(required=True, validate=validate.Length(min=2, max=64))
    city = ma.fields.String(required=True, validate=validate.Length(min=2, max=100))
    address = ma.fields.String(required=True, validate=validate.Length(min=2, max=300))


class UserOut(ma.Schema):
    id = ma.fields.Integer()
    organisation_id = ma.fields.Integer()
    username = ma.fields.String()
    full_name = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    roles = ma.fields.Function(lambda u: sorted(u.roles))
    active = ma.fields.Boolean()
    locale = ma.fields.String()


UserPage = page_schema(UserOut, "UserPage")


class UserQuery(PageQuery):
    organisation_id = ma.fields.Integer(load_default=None)


class UserIn(ma.Schema):
    organisation_id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._-]{3,64}$"))
    full_name = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=200))
    roles = ma.fields.List(ma.fields.String(validate=validate.OneOf([r.value for r in Role])),
                           required=True, validate=validate.Length(min=1))
    email = ma.fields.Email(load_default=None)
    locale = ma.fields.String(load_default="en", validate=validate.OneOf(["en", "az", "ru"]))


class RolesIn(ma.Schema):
    roles = ma.fields.List(ma.fields.String(validate=validate.OneOf([r.value for r in Role])),
                           required=True, validate=validate.Length(min=1))


class PasswordIn(ma.Schema):
    current_password = ma.fields.String(required=True, load_only=True)
    new_password = ma.fields.String(required=True, load_only=True)


class TokenIn(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    days = ma.fields.Integer(load_default=365, allow_none=True, validate=validate.Range(min=1, max=3650))
    user_id = ma.fields.Integer(load_default=None)


class TokenOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String()
    user_id = ma.fields.Integer(allow_none=True)
    device_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    last_used_at = ma.fields.DateTime(allow_none=True)


class IssuedTokenOut(ma.Schema):
    token = ma.fields.String(metadata={"description": "Shown once; only its hash is stored"})
    details = ma.fields.Nested(TokenOut, attribute="row")


class TokenQuery(ma.Schema):
    user_id = ma.fields.Integer(load_default=None)


class DeviceIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    registration_number = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9-]{4,32}$"))
    serial_number = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    model = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))


class DeviceOut(ma.Schema):
    id = ma.fields.Integer()
    registration_number = ma.fields.String()
    serial_number = ma.fields.String()
    model = ma.fields.String()
    location_id = ma.fields.Integer()
    active = ma.fields.Boolean()


class DeviceQuery(ma.Schema):
    organisation_id = ma.fields.Integer(load_default=None)


class WhoAmI(ma.Schema):
    user_id = ma.fields.Integer(allow_none=True)
    device_id = ma.fields.Integer(allow_none=True)
    organisation_id = ma.fields.Integer(attribute="org_id", allow_none=True)
    username = ma.fields.String()
    roles = ma.fields.Function(lambda a: sorted(a.roles))
    location_id = ma.fields.Integer(allow_none=True)
