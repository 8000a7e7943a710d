"""Pages: sign-in, organisations, users, API tokens, cash registers."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from pharma.extensions import db
from pharma.parties import services as svc
from pharma.parties.auth import start_session
from pharma.parties.domain import LicenceKind, OrgType, Role
from pharma.shared.errors import PharmaError, TooManyRequests, Unauthenticated
from pharma.shared.http import flash_error, login_required, uow

bp = Blueprint("parties_web", __name__)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        return render_template("parties/sign_in.html", next=request.args.get("next", ""))
    settings = current_app.config["PHARMA"]
    try:
        user = svc.sign_in(
            db.session,
            svc.SignIn(request.form.get("username", ""), request.form.get("password", ""),
                       request.remote_addr or "unknown"),
            settings.signin_max_failures,
            settings.signin_window_minutes,
            request_id=g.get("request_id"),
        )
    except (Unauthenticated, TooManyRequests) as exc:
        flash(exc.detail, "error")
        status = exc.status
        return render_template("parties/sign_in.html", next=request.form.get("next", ""),
                               username=request.form.get("username", "")), status
    start_session(user)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/sign-out")
def sign_out():
    session.clear()
    flash(_("You have signed out."), "success")
    return redirect(url_for("parties_web.sign_in"))


@bp.get("/organisations")
@login_required
def organisations():
    query = svc.OrgQuery(q=request.args.get("q", ""), type=request.args.get("type") or None,
                         region=request.args.get("region") or None,
                         page=max(1, request.args.get("page", 1, type=int)))
    page = svc.list_organisations(uow(), query)
    return render_template("parties/organisations.html", page=page, query=query,
                           types=[t.value for t in OrgType])


@bp.get("/organisations/<int:org_id>")
@login_required
def organisation(org_id: int):
    org = svc.get_organisation(uow(), org_id)
    work = uow()
    devices = []
    from pharma.parties.policy import allowed

    if allowed(work.actor, "parties.device.read", org.id) and org.type == OrgType.PHARMACY.value:
        devices = svc.list_devices(work, org.id)
    return render_template("parties/organisation.html", org=org, devices=devices,
                           licence_kinds=[k.value for k in LicenceKind])


@bp.post("/organisations/<int:org_id>/devices")
@login_required
def register_device(org_id: int):
    try:
        issued = svc.register_device(uow(), svc.NewDevice(
            location_id=request.form.get("location_id", type=int) or 0,
            registration_number=request.form.get("registration_number", "").strip().upper(),
            serial_number=request.form.get("serial_number", ""),
            model=request.form.get("model", ""),
        ))
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("parties_web.organisation", org_id=org_id))
    return render_template("parties/token_issued.html", issued=issued,
                           back=url_for("parties_web.organisation", org_id=org_id))


@bp.get("/users")
@login_required
def users():
    page = svc.list_users(uow(), request.args.get("organisation_id", type=int),
                          max(1, request.args.get("page", 1, type=int)), 50)
    return render_template("parties/users.html", page=page, roles=[r.value for r in Role])


@bp.post("/users")
@login_required
def create_user():
    try:
        user = svc.create_user(uow(), svc.NewUser(
            organisation_id=request.form.get("organisation_id", type=int) or 0,
            username=request.form.get("username", ""),
            full_name=request.form.get("full_name", ""),
            password=request.form.get("password", ""),
            roles=tuple(request.form.getlist("roles")),
            email=request.form.get("email") or None,
        ))
    except PharmaError as exc:
        flash_error(exc)
    else:
        flash(_("User %(name)s created.", name=user.username), "success")
    return redirect(url_for("parties_web.users"))


@bp.get("/tokens")
@login_required
def tokens():
    return render_template("parties/tokens.html", tokens=svc.list_tokens(uow()))


@bp.post("/tokens")
@login_required
def issue_token():
    try:
        issued = svc.issue_token(uow(), request.form.get("name", "").strip() or "token",
                                 request.form.get("days", 365, type=int))
    except PharmaError as exc:
        flash_error(exc)
        return redirect(url_for("parties_web.tokens"))
    return render_template("parties/token_issued.html", issued=issued,
                           back=url_for("parties_web.tokens"))


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    try:
        svc.revoke_token(uow(), token_id)
        flash(_("Token revoked."), "success")
    except PharmaError as exc:
        flash_error(exc)
    return redirect(url_for("parties_web.tokens"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    if request.method == "POST":
        try:
            user = svc.change_password(uow(), request.form.get("current_password", ""),
                                       request.form.get("new_password", ""))
        except PharmaError as exc:
            flash_error(exc)
        else:
            start_session(user)
            flash(_("Password changed; your other sessions have ended."), "success")
            return redirect(url_for("web.home"))
    return render_template("parties/password.html")


def _form_date(name: str):
    from datetime import date

    from pharma.shared.errors import ValidationFailed

    raw = request.form.get(name, "")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed({name: ["Enter a date as YYYY-MM-DD."]}) from None


def _act(action, success: str, back: str):
    """Run a regulator's act from a form: flash the outcome, go back to the page."""
    try:
        action()
    except PharmaError as exc:
        flash_error(exc)
    else:
        flash(success, "success")
    return redirect(back)


@bp.post("/organisations")
@login_required
def create_organisation():
    def act():
        org = svc.create_organisation(uow(), svc.NewOrganisation(
            key=request.form.get("key", "").strip().lower(), type=request.form.get("type", ""),
            name=request.form.get("name", "").strip(), tax_id=request.form.get("tax_id") or None))
        created.append(org)

    created: list = []
    response = _act(act, _("Organisation created."), url_for("parties_web.organisations"))
    if created:
        return redirect(url_for("parties_web.organisation", org_id=created[0].id))
    return response


@bp.post("/organisations/<int:org_id>/licences")
@login_required
def grant_licence(org_id: int):
    back = url_for("parties_web.organisation", org_id=org_id)
    return _act(lambda: svc.grant_licence(uow(), svc.NewLicence(
        organisation_id=org_id, number=request.form.get("number", "").strip(),
        kind=request.form.get("kind", ""), valid_from=_form_date("valid_from"),
        valid_until=_form_date("valid_until"))), _("Licence recorded."), back)


@bp.post("/organisations/<int:org_id>/licences/<int:licence_id>/status")
@login_required
def set_licence_status(org_id: int, licence_id: int):
    back = url_for("parties_web.organisation", org_id=org_id)
    return _act(lambda: svc.set_licence_status(uow(), licence_id, request.form.get("status", ""),
                                               request.form.get("reason", "").strip()),
                _("Licence status changed."), back)


@bp.post("/organisations/<int:org_id>/locations")
@login_required
def add_location(org_id: int):
    back = url_for("parties_web.organisation", org_id=org_id)
    return _act(lambda: svc.add_location(uow(), svc.NewLocation(
        organisation_id=org_id, gln=request.form.get("gln", "").strip(), name=request.form.get("name", ""),
        region=request.form.get("region", ""), city=request.form.get("city", ""),
        address=request.form.get("address", ""))), _("Location added."), back)


@bp.post("/organisations/<int:org_id>/active")
@login_required
def set_organisation_active(org_id: int):
    back = url_for("parties_web.organisation", org_id=org_id)
    active = request.form.get("active") == "1"
    return _act(lambda: svc.set_organisation_active(uow(), org_id, active, request.form.get("reason", "")),
                _("Organisation updated."), back)
