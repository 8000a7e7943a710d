"""Errors with stable codes. Every error a client can see is one of these.

The API renders them as ``application/problem+json`` (RFC 9457) with the ``code`` member; the
web pages show ``title`` and ``detail``. Codes are part of the public contract: never rename.
"""

from __future__ import annotations


class PharmaError(Exception):
    status = 400
    code = "BAD_REQUEST"
    title = "Bad request"

    def __init__(self, detail: str | None = None, **extra) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    def to_problem(self) -> dict:
        body = {
            "type": f"https://pharma.example/problems/{self.code.lower().replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class ValidationFailed(PharmaError):
    """The payload is malformed; ``errors`` maps each field to its messages."""

    status = 422
    code = "VALIDATION_FAILED"
    title = "The request is not valid"

    def __init__(self, errors: dict | None = None, detail: str | None = None) -> None:
        super().__init__(detail or "One or more fields are not valid.", errors=errors or {})
        self.errors = errors or {}


class InvalidIdentifier(ValidationFailed):
    """A GTIN, GLN, SSCC, serial, batch or expiry that breaks its GS1 rules."""

    code = "INVALID_IDENTIFIER"
    title = "Invalid identifier"

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: [message]}, detail=message)
        self.field = field
        self.message = message


class Unauthenticated(PharmaError):
    status = 401
    code = "UNAUTHENTICATED"
    title = "Sign-in required"


class Forbidden(PharmaError):
    status = 403
    code = "FORBIDDEN"
    title = "Not allowed"


class NotFound(PharmaError):
    status = 404
    code = "NOT_FOUND"
    title = "Not found"


class Conflict(PharmaError):
    status = 409
    code = "CONFLICT"
    title = "Conflict with the current state"


class RuleViolation(PharmaError):
    """A business rule refuses the act. Subclasses name the rule with their own code."""

    status = 409
    code = "RULE_VIOLATION"
    title = "Refused by a business rule"


class TooManyRequests(PharmaError):
    status = 429
    code = "TOO_MANY_REQUESTS"
    title = "Too many attempts"
