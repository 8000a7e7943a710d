"""/api/v1/parties: organisations, licences, locations, users, tokens, devices."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.parties import schemas as s
from pharma.parties import services as svc
from pharma.shared.http import actor_or_401, uow

blp = Blueprint("parties_api", __name__, url_prefix="/api/v1/parties",
                description="Organisations, their licences, locations, users, tokens and devices")


@blp.get("/me")
@blp.response(200, s.WhoAmI)
def me():
    """Who the caller is: user or device, organisation and roles."""
    return actor_or_401()


@blp.get("/organisations")
@blp.arguments(s.OrganisationQuery, location="query")
@blp.response(200, s.OrganisationPage)
def list_organisations(args):
    """Search the directory of organisations."""
    return svc.list_organisations(uow(), svc.OrgQuery(**args)).to_dict()


@blp.post("/organisations")
@blp.arguments(s.OrganisationIn)
@blp.response(201, s.OrganisationDetail)
def create_organisation(args):
    """Enter a new organisation."""
    return svc.create_organisation(uow(), svc.NewOrganisation(**args))


@blp.get("/organisations/<int:org_id>")
@blp.response(200, s.OrganisationDetail)
def get_organisation(org_id):
    """One organisation with its licences and locations."""
    return svc.get_organisation(uow(), org_id)


@blp.post("/organisations/<int:org_id>/active")
@blp.arguments(s.ActiveIn)
@blp.response(200, s.OrganisationDetail)
def set_organisation_active(args, org_id):
    """Deactivate or reactivate an organisation."""
    return svc.set_organisation_active(uow(), org_id, args["active"], args["reason"])


@blp.post("/organisations/<int:org_id>/licences")
@blp.arguments(s.LicenceIn)
@blp.response(201, s.LicenceOut)
def grant_licence(args, org_id):
    """Record a licence granted to the organisation."""
    return svc.grant_licence(uow(), svc.NewLicence(organisation_id=org_id, **args))


@blp.post("/licences/<int:licence_id>/status")
@blp.arguments(s.LicenceStatusIn)
@blp.response(200, s.LicenceOut)
def set_licence_status(args, licence_id):
    """Suspend, reinstate or revoke a licence, with a reason."""
    return svc.set_licence_status(uow(), licence_id, args["status"], args["reason"])


@blp.post("/organisations/<int:org_id>/locations")
@blp.arguments(s.LocationIn)
@blp.response(201, s.LocationOut)
def add_location(args, org_id):
    """Add a location identified by its GLN."""
    return svc.add_location(uow(), svc.NewLocation(organisation_id=org_id, **args))


@blp.get("/users")
@blp.arguments(s.UserQuery, location="query")
@blp.response(200, s.UserPage)
def list_users(args):
    """Users, limited to the caller's organisation unless the caller administers all."""
    return svc.list_users(uow(), args["organisation_id"], args["page"], args["per_page"]).to_dict()


@blp.post("/users")
@blp.arguments(s.UserIn)
@blp.response(201, s.UserOut)
def create_user(args):
    """Create a user account with roles that fit its organisation."""
    args["roles"] = tuple(args["roles"])
    return svc.create_user(uow(), svc.NewUser(**args))


@blp.put("/users/<int:user_id>/roles")
@blp.arguments(s.RolesIn)
@blp.response(200, s.UserOut)
def set_user_roles(args, user_id):
    """Replace a user's roles; the user's sessions end."""
    return svc.set_user_roles(uow(), user_id, tuple(args["roles"]))


@blp.post("/users/<int:user_id>/active")
@blp.arguments(s.ActiveIn)
@blp.response(200, s.UserOut)
def set_user_active(args, user_id):
    """Disable or enable a user account."""
    return svc.set_user_active(uow(), user_id, args["active"])


@blp.post("/me/password")
@blp.arguments(s.PasswordIn)
@blp.response(204)
def change_password(args):
    """Change your own password."""
    svc.change_password(uow(), args["current_password"], args["new_password"])


@blp.get("/tokens")
@blp.arguments(s.TokenQuery, location="query")
@blp.response(200, s.TokenOut(many=True))
def list_tokens(args):
    """Your API tokens (administrators: another user's with user_id)."""
    return svc.list_tokens(uow(), args["user_id"])


@blp.post("/tokens")
@blp.arguments(s.TokenIn)
@blp.response(201, s.IssuedTokenOut)
def issue_token(args):
    """Issue a bearer token; the token itself is in this response only."""
    return svc.issue_token(uow(), args["name"], args["days"], args["user_id"])


@blp.delete("/tokens/<int:token_id>")
@blp.response(200, s.TokenOut)
def revoke_token(token_id):
    """Revoke a token at once."""
    return svc.revoke_token(uow(), token_id)


@blp.get("/devices")
@blp.arguments(s.DeviceQuery, location="query")
@blp.response(200, s.DeviceOut(many=True))
def list_devices(args):
    """Cash registers, limited to the caller's pharmacy unless the caller sees all."""
    return svc.list_devices(uow(), args["organisation_id"])


@blp.post("/devices")
@blp.arguments(s.DeviceIn)
@blp.response(201, s.IssuedTokenOut)
def register_device(args):
    """Bind a cash register to a pharmacy location; returns the device's token once."""
    return svc.register_device(uow(), svc.NewDevice(**args))


@blp.post("/devices/<int:device_id>/deactivate")
@blp.response(200, s.DeviceOut)
def deactivate_device(device_id):
    """Take a cash register out of service."""
    return svc.deactivate_device(uow(), device_id)
