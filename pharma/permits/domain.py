"""Import permit rules: the status machine, the decision's limits, and drawing packs down.

``APPLIED → APPROVED | REFUSED``, ``APPROVED → REVOKED`` (final, with a reason). An approved
permit past its ``valid_until`` is shown as ``EXPIRED``; that status is derived, never stored.
Plain functions and classes: no Flask, no session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pharma.shared.errors import RuleViolation, ValidationFailed

NUMBER_PREFIX = "IP"
MAX_PACKS_PER_LINE = 10_000_000
MAX_LINES = 200


class PermitStatus(StrEnum):
    APPLIED = "APPLIED"
    APPROVED = "APPROVED"
    REFUSED = "REFUSED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"  # derived: APPROVED and past valid_until


STORED_STATUSES = (PermitStatus.APPLIED, PermitStatus.APPROVED, PermitStatus.REFUSED, PermitStatus.REVOKED)


# ---------------------------------------------------------------- named refusals


class PermitNotApplied(RuleViolation):
    code = "PERMIT_NOT_APPLIED"
    title = "The permit is not waiting for a decision"


class PermitNotApproved(RuleViolation):
    code = "PERMIT_NOT_APPROVED"
    title = "The permit is not approved"


class PermitRevoked(RuleViolation):
    code = "PERMIT_REVOKED"
    title = "The permit is revoked"


class PermitExpired(RuleViolation):
    code = "PERMIT_EXPIRED"
    title = "The permit has expired"


class PermitNotYetValid(RuleViolation):
    code = "PERMIT_NOT_YET_VALID"
    title = "The permit is not valid yet"


class PermitNotOwned(RuleViolation):
    code = "PERMIT_NOT_OWNED"
    title = "The permit belongs to another importer"


class PermitQuantityExceeded(RuleViolation):
    code = "PERMIT_QUANTITY_EXCEEDED"
    title = "More packs than the permit has left"


class ProductNotOnPermit(RuleViolation):
    code = "PRODUCT_NOT_ON_PERMIT"
    title = "The product is not on the permit"


class ProductNotInForce(RuleViolation):
    code = "PRODUCT_NOT_IN_FORCE"
    title = "The product's registration is not in force"


class ProductWithdrawn(RuleViolation):
    code = "PRODUCT_WITHDRAWN"
    title = "The product is withdrawn from the market"


class NoImportLicence(RuleViolation):
    code = "NO_IMPORT_LICENCE"
    title = "No import licence in force"


class ApprovalExceedsRequest(RuleViolation):
    code = "APPROVAL_EXCEEDS_REQUEST"
    title = "The approval exceeds the application"


class NothingApproved(RuleViolation):
    code = "NOTHING_APPROVED"
    title = "An approval must allow some packs"


class ReasonRequired(RuleViolation):
    status = 422
    code = "REASON_REQUIRED"
    title = "A reason is required"


# ---------------------------------------------------------------- numbers


def format_number(year: int, sequence: int) -> str:
    """``IP-2026-000123``: the year of application and its sequence within that year."""
    return f"{NUMBER_PREFIX}-{year:04d}-{sequence:06d}"


def verification_code(facts: list[str], secret: bytes) -> str:
    """A code printed on the permit: a keyed digest of what it allows, so an altered copy (or a
    made-up permit) does not pass the public check. The status is left out: it may change later."""
    digest = hmac.new(secret, "|".join(facts).encode(), hashlib.sha256).hexdigest()
    return digest[:16].upper()


# ---------------------------------------------------------------- status


def effective_status(status: str, valid_until: date | None, today: date) -> PermitStatus:
    if status == PermitStatus.APPROVED and valid_until is not None and valid_until < today:
        return PermitStatus.EXPIRED
    return PermitStatus(status)


def require_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < 3:
        raise ReasonRequired("Give a reason of at least 3 characters; it is kept with the permit.")
    return text[:500]


def check_decidable(status: str, number: str) -> None:
    """Only an application waiting for a decision may be approved or refused."""
    if status != PermitStatus.APPLIED:
        raise PermitNotApplied(f"Permit {number} is {status.lower()}; only an application can be decided.")


def check_revocable(status: str, number: str) -> None:
    """Only an approved permit may be revoked; a revocation is final."""
    if status == PermitStatus.REVOKED:
        raise PermitRevoked(f"Permit {number} is already revoked.")
    if status != PermitStatus.APPROVED:
        raise PermitNotApproved(f"Permit {number} is {status.lower()}; only an approved permit can be revoked.")


def check_usable(status: str, number: str, valid_from: date | None, valid_until: date | None, on: date) -> None:
    """Packs may be declared against a permit that is approved, not revoked, and valid on that day."""
    if status == PermitStatus.REVOKED:
        raise PermitRevoked(f"Permit {number} is revoked.")
    if status != PermitStatus.APPROVED or valid_from is None or valid_until is None:
        raise PermitNotApproved(f"Permit {number} is {status.lower()}, not approved.")
    if on > valid_until:
        raise PermitExpired(f"Permit {number} was valid until {valid_until.isoformat()}.")
    if on < valid_from:
        raise PermitNotYetValid(f"Permit {number} is valid from {valid_from.isoformat()}.")


# ---------------------------------------------------------------- application


def check_requested_validity(requested_valid_until: date, today: date) -> None:
    if requested_valid_until <= today:
        raise ValidationFailed({"requested_valid_until": ["The requested validity must end after today."]})


def check_line_count(count: int) -> None:
    if count < 1:
        raise ValidationFailed({"lines": ["An application needs at least one line."]})
    if count > MAX_LINES:
        raise ValidationFailed({"lines": [f"An application has at most {MAX_LINES} lines."]})


def check_packs_requested(packs: int, field: str) -> None:
    if not isinstance(packs, int) or isinstance(packs, bool) or not 1 <= packs <= MAX_PACKS_PER_LINE:
        raise ValidationFailed({field: [f"Request from 1 to {MAX_PACKS_PER_LINE} packs."]})


# ---------------------------------------------------------------- approval


@dataclass(frozen=True)
class Approval:
    valid_from: date
    valid_until: date
    packs: dict[int, int]  # line id -> packs approved


def plan_approval(requested: dict[int, int], approved: dict[int, int] | None, requested_valid_until: date,
                  valid_from: date | None, valid_until: date | None, today: date) -> Approval:
    """The regulator approves each line up to what was requested (lines left out: as requested),
    for a validity that ends after it starts, not in the past, and not later than requested."""
    start = valid_from or today
    end = valid_until or requested_valid_until
    if end <= start:
        raise ValidationFailed({"valid_until": ["The validity must end after it starts."]})
    if end < today:
        raise ValidationFailed({"valid_until": ["The validity must not end in the past."]})
    if end > requested_valid_until:
        raise ApprovalExceedsRequest(
            f"The validity may end on {requested_valid_until.isoformat()} at the latest, as applied for.",
            field="valid_until")
    packs = dict(requested)
    for line_id, n in (approved or {}).items():
        if line_id not in requested:
            raise ValidationFailed({"lines": [f"Line {line_id} is not on this permit."]})
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValidationFailed({f"lines.{line_id}": ["Approve zero or more packs."]})
        if n > requested[line_id]:
            raise ApprovalExceedsRequest(
                f"Line {line_id}: {n} packs approved, but only {requested[line_id]} were requested.",
                line_id=line_id)
        packs[line_id] = n
    if not any(packs.values()):
        raise NothingApproved("Approve packs on at least one line, or refuse the application.")
    return Approval(start, end, packs)


# ---------------------------------------------------------------- drawdown


def allocate(left_by_line: list[tuple[int, int]], packs: int) -> list[tuple[int, int]] | None:
    """Spread ``packs`` over a product's lines in order, filling each before the next; None when
    they do not have that many left together."""
    if packs > sum(left for _, left in left_by_line):
        return None
    out, remaining = [], packs
    for line_id, left in left_by_line:
        take = min(left, remaining)
        if take:
            out.append((line_id, take))
            remaining -= take
    return out


def percent(used: int, approved: int) -> int:
    """Whole percent used, rounded down: 100 only when nothing is left."""
    return 100 * used // approved if approved else 0
