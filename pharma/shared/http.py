"""The HTTP edge shared by every context: request ids, problem+json, auth guards, paging."""

from __future__ import annotations

import functools
import gc
import logging
import re
import uuid

import marshmallow as ma
from flask import (
    Flask,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_smorest import Api
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError as WtfValidationError

from pharma.shared.errors import (
    Forbidden,
    PharmaError,
    Unauthenticated,
    ValidationFailed,
)
from pharma.shared.uow import UnitOfWork

log = logging.getLogger("pharma.http")
PROBLEM = "application/problem+json"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
}


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details; ``code`` is the stable machine-readable reason."""

    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    code = ma.fields.String(metadata={"description": "Stable error code clients may rely on"})
    detail = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "Messages per field, for VALIDATION_FAILED"})
    request_id = ma.fields.String()


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, code: str, title: str, detail: str, **extra):
    body = {
        "type": f"https://pharma.example/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "request_id": g.get("request_id"),
    }
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM
    return response


class PharmaApi(Api):
    """flask-smorest's Api with every error rendered as problem+json (or a page)."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException):
        status = error.code or 500
        if not is_api_request():
            return _error_page(status, error.name, error.description or "")
        data = getattr(error, "data", None) or {}
        code = HTTP_CODES.get(status, f"HTTP_{status}")
        extra = {}
        if status == 422 and "messages" in data:
            extra["errors"] = _flatten_locations(data["messages"])
            detail = "One or more fields are not valid."
        elif isinstance(error, CSRFError):
            code, detail = "CSRF_FAILED", error.description
        else:
            detail = data.get("message") or error.description or error.name
        response = problem(status, code, error.name, detail, **extra)
        for k, v in (data.get("headers") or {}).items():
            response.headers[k] = v
        return response


def _flatten_locations(messages: dict) -> dict:
    # webargs nests messages under the location ("json", "query"); clients want field names
    if set(messages) <= {"json", "query", "form", "files", "headers", "view_args"}:
        flat: dict = {}
        for part in messages.values():
            flat.update(part)
        return flat
    return messages


def _error_page(status: int, title: str, detail: str):
    return render_template("error.html", status=status, title=title, detail=detail), status


def handle_pharma_error(error: PharmaError):
    if is_api_request():
        body = error.to_problem()
        return problem(body.pop("status"), body.pop("code"), body.pop("title"),
                       body.pop("detail"), **{k: v for k, v in body.items() if k != "type"})
    if isinstance(error, Unauthenticated):
        return redirect(url_for("parties_web.sign_in", next=request.full_path))
    return _error_page(error.status, error.title, error.detail)


def handle_unexpected(error: Exception):
    log.exception("unhandled error in %s %s", request.method, request.path)
    if is_api_request():
        return problem(500, "INTERNAL_ERROR", "Internal server error",
                       "The server failed; the request id identifies it in the logs.")
    return _error_page(500, "Internal server error", "Something went wrong on our side.")


def assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def add_request_id(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response


def guard_api():
    """Every API call needs a caller; a cookie-authenticated write also needs the CSRF header."""
    if not request.path.startswith("/api/v1/"):
        return
    from pharma.parties.auth import current_actor

    actor = current_actor()
    if actor is None:
        raise Unauthenticated("Send a valid bearer token in the Authorization header.")
    if actor.via == "session" and request.method in UNSAFE:
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except WtfValidationError as exc:
            raise PharmaError(f"The CSRF token is missing or invalid: {exc}") from exc
    from pharma.shared.idempotency import claim

    return claim()


def actor_or_401():
    from pharma.parties.auth import current_actor

    actor = current_actor()
    if actor is None:
        raise Unauthenticated("Sign in to continue.")
    return actor


def uow() -> UnitOfWork:
    """A unit of work for this request, acting as its caller."""
    from pharma.extensions import db

    return UnitOfWork(db.session, actor_or_401(), g.get("request_id"), request.remote_addr)


def autocommit_reads(view):
    """A write endpoint whose work is mostly reading, like a GET: its session reads in autocommit
    mode (no BEGIN and COMMIT round trips around the reads), and it must write either in one
    statement or inside ``UnitOfWork.atomic()``. Put it right under the route decorator."""
    view.autocommit_reads = True
    return view


def login_required(view):
    """Pages: send anonymous visitors to the sign-in page."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        actor_or_401()
        return view(*args, **kwargs)

    return wrapped


def load_form(schema: type[ma.Schema], data: dict) -> dict:
    """A page's form through the same marshmallow schema as the API; refusals name each field."""
    try:
        return schema().load(data)
    except ma.ValidationError as exc:
        raise ValidationFailed(_flat_messages(exc.messages)) from None


def _flat_messages(messages, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in (messages.items() if isinstance(messages, dict) else [("", messages)]):
        name = f"{prefix}.{key}" if prefix and key != "" else str(key) or prefix
        if isinstance(value, dict):
            out.update(_flat_messages(value, name))
        else:
            out[name] = value if isinstance(value, list) else [value]
    return out


def flash_error(error: PharmaError) -> None:
    """The refusal on the page, in the page's language where its texts are ``Text``."""
    from pharma.i18n import translate

    flash(translate(error.detail), "error")
    if isinstance(error, ValidationFailed):
        for field, messages in error.errors.items():
            for message in messages if isinstance(messages, list) else [messages]:
                flash(f"{field}: {translate(message)}", "error")


_heap_frozen = False


def freeze_startup_heap() -> None:
    """At a process's first request, move everything alive (modules, the app, SQLAlchemy's and
    marshmallow's structures: some 170,000 objects) out of the cyclic garbage collector's sight:
    otherwise every full collection walks them all again, and a bulk verification's allocations
    trigger one every few requests, a third of its CPU time. Once per process, so that test runs
    creating many apps do not pin each one's garbage."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.freeze()


def register_http(app: Flask, api: PharmaApi) -> None:
    app.before_request(freeze_startup_heap)
    app.before_request(assign_request_id)
    app.before_request(guard_api)
    app.after_request(add_request_id)
    from pharma.shared.idempotency import register_idempotency

    register_idempotency(app)
    app.register_error_handler(PharmaError, handle_pharma_error)
    app.register_error_handler(HTTPException, api.handle_http_exception)
    if not app.config.get("PROPAGATE_EXCEPTIONS"):
        app.register_error_handler(Exception, handle_unexpected)


__all__ = ["Forbidden", "PharmaApi", "login_required", "register_http", "uow"]
