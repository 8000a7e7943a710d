"""Rules of the product register: controlled lists, ATC codes, strengths, the certificate's
status machine and regulated price periods. Plain Python: no Flask, no session.

Certificate status
------------------
``active`` → ``suspended`` (suspend) → ``active`` (reinstate); ``active`` | ``suspended`` |
``expired`` → ``revoked`` (revoke, final). ``expired`` means ``valid_until`` is before today:
it is derived from the date, and the daily task ``pharma.register.expire_certificates`` also
writes it into ``status`` (with a history row) so that queries can filter on ``status`` alone.
Only an ``active`` certificate expires; a suspended one stays suspended (the stronger fact)
and becomes ``expired`` when reinstated after its date. Renewal sets a later ``valid_until``:
an expired certificate renewed becomes active again; a revoked one is never renewed. Between
two runs of the task, :func:`in_force` is the exact answer.

Price periods
-------------
A regulated maximum retail price holds from ``effective_from`` to ``effective_to`` (both
inclusive; ``None`` = until further notice). Periods of one product never overlap; a new
price starting later than an open period closes that period on the day before.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from pharma.shared.errors import RuleViolation, ValidationFailed

# ---------------------------------------------------------------- controlled lists


class DosageForm(StrEnum):
    TABLET = "TABLET"
    FILM_COATED_TABLET = "FILM_COATED_TABLET"
    CHEWABLE_TABLET = "CHEWABLE_TABLET"
    EFFERVESCENT_TABLET = "EFFERVESCENT_TABLET"
    PROLONGED_RELEASE_TABLET = "PROLONGED_RELEASE_TABLET"
    GASTRO_RESISTANT_TABLET = "GASTRO_RESISTANT_TABLET"
    ORODISPERSIBLE_TABLET = "ORODISPERSIBLE_TABLET"
    SUBLINGUAL_TABLET = "SUBLINGUAL_TABLET"
    HARD_CAPSULE = "HARD_CAPSULE"
    SOFT_CAPSULE = "SOFT_CAPSULE"
    GASTRO_RESISTANT_CAPSULE = "GASTRO_RESISTANT_CAPSULE"
    PROLONGED_RELEASE_CAPSULE = "PROLONGED_RELEASE_CAPSULE"
    ORAL_SOLUTION = "ORAL_SOLUTION"
    ORAL_SUSPENSION = "ORAL_SUSPENSION"
    POWDER_FOR_ORAL_SUSPENSION = "POWDER_FOR_ORAL_SUSPENSION"
    SYRUP = "SYRUP"
    ORAL_DROPS = "ORAL_DROPS"
    GRANULES = "GRANULES"
    SOLUTION_FOR_INJECTION = "SOLUTION_FOR_INJECTION"
    POWDER_FOR_SOLUTION_FOR_INJECTION = "POWDER_FOR_SOLUTION_FOR_INJECTION"
    SOLUTION_FOR_INFUSION = "SOLUTION_FOR_INFUSION"
    CONCENTRATE_FOR_SOLUTION_FOR_INFUSION = "CONCENTRATE_FOR_SOLUTION_FOR_INFUSION"
    SUSPENSION_FOR_INJECTION = "SUSPENSION_FOR_INJECTION"
    CREAM = "CREAM"
    OINTMENT = "OINTMENT"
    GEL = "GEL"
    EYE_DROPS = "EYE_DROPS"
    EAR_DROPS = "EAR_DROPS"
    NASAL_SPRAY = "NASAL_SPRAY"
    INHALATION_POWDER = "INHALATION_POWDER"
    PRESSURISED_INHALATION = "PRESSURISED_INHALATION"
    NEBULISER_SOLUTION = "NEBULISER_SOLUTION"
    SUPPOSITORY = "SUPPOSITORY"
    VAGINAL_TABLET = "VAGINAL_TABLET"
    TRANSDERMAL_PATCH = "TRANSDERMAL_PATCH"
    CUTANEOUS_SOLUTION = "CUTANEOUS_SOLUTION"
    LOZENGE = "LOZENGE"


class Route(StrEnum):
    ORAL = "ORAL"
    SUBLINGUAL = "SUBLINGUAL"
    INTRAVENOUS = "INTRAVENOUS"
    INTRAMUSCULAR = "INTRAMUSCULAR"
    SUBCUTANEOUS = "SUBCUTANEOUS"
    CUTANEOUS = "CUTANEOUS"
    OPHTHALMIC = "OPHTHALMIC"
    AURICULAR = "AURICULAR"
    NASAL = "NASAL"
    INHALATION = "INHALATION"
    RECTAL = "RECTAL"
    VAGINAL = "VAGINAL"
    TRANSDERMAL = "TRANSDERMAL"
    OROMUCOSAL = "OROMUCOSAL"


STRENGTH_UNITS = ("mg", "g", "mcg", "IU", "mg/ml", "mcg/ml", "IU/ml", "mg/g", "%", "mcg/dose", "mg/dose", "mmol")
PACK_UNITS = ("tablet", "capsule", "ml", "g", "ampoule", "vial", "dose", "sachet", "patch", "suppository", "piece")
SCHEDULES = ("II", "III", "IV")


class CertificateStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


# ---------------------------------------------------------------- named refusals


class CertificateRevoked(RuleViolation):
    code = "CERTIFICATE_REVOKED"
    title = "The certificate is revoked"


class CertificateNotActive(RuleViolation):
    code = "CERTIFICATE_NOT_ACTIVE"
    title = "Only an active certificate can be suspended"


class CertificateNotSuspended(RuleViolation):
    code = "CERTIFICATE_NOT_SUSPENDED"
    title = "Only a suspended certificate can be reinstated"


class RenewalNotLater(RuleViolation):
    code = "RENEWAL_NOT_LATER"
    title = "A renewal must extend the validity"


class CertificateAlreadyExpired(RuleViolation):
    code = "CERTIFICATE_ALREADY_EXPIRED"
    title = "The certificate's validity has already ended"


class ReasonRequired(RuleViolation):
    status = 422
    code = "REASON_REQUIRED"
    title = "A reason is required"


class ControlledRequiresRx(RuleViolation):
    code = "CONTROLLED_REQUIRES_RX"
    title = "A controlled substance is prescription-only"


class PriceOverlap(RuleViolation):
    code = "PRICE_PERIOD_OVERLAP"
    title = "Price periods may not overlap"


# ---------------------------------------------------------------- codes, strengths, search keys

_ATC = re.compile(r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$")
# any level of the ATC hierarchy: A, A10, A10B, A10BA, A10BA02
_ATC_PREFIX = re.compile(r"^[A-Z](?:[0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?)?$")
_STRENGTH = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(\S+)\s*$")


def check_atc(code: str, field: str = "atc_code") -> str:
    """A substance-level (5th level) ATC code such as ``J01CR02``."""
    value = (code or "").strip().upper()
    if not _ATC.match(value):
        raise ValidationFailed({field: [f"{code!r} is not a 7-character ATC code such as J01CR02."]})
    return value


def is_atc_prefix(text: str) -> bool:
    return bool(_ATC_PREFIX.match(text))


@dataclass(frozen=True, slots=True)
class Strength:
    value: Decimal
    unit: str

    def __str__(self) -> str:
        return f"{format_decimal(self.value)} {self.unit}"


def format_decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def parse_strength(text: str, field: str = "strength") -> Strength:
    """``"875 mg"`` → Strength(875, "mg"); the unit must be on the controlled list."""
    m = _STRENGTH.match(text or "")
    if not m:
        raise ValidationFailed({field: [f"{text!r} is not a strength such as '875 mg'."]})
    unit = m.group(2)
    return make_strength(m.group(1).replace(",", "."), unit, field)


def make_strength(value, unit: str, field: str = "strength") -> Strength:
    units = {u.lower(): u for u in STRENGTH_UNITS}
    if unit.lower() not in units:
        raise ValidationFailed({field: [f"Unit {unit!r} is not one of {', '.join(STRENGTH_UNITS)}."]})
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed({field: [f"{value!r} is not a number."]}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed({field: ["The strength must be a positive number."]})
    if amount != amount.quantize(Decimal("0.0001")) or amount >= Decimal("100000000"):
        raise ValidationFailed({field: ["The strength has at most 4 decimals and 8 integer digits."]})
    return Strength(amount, units[unit.lower()])


def search_key(text: str) -> str:
    """Lower case without accents, so 'Ağrı' is found by 'agri' on SQLite and PostgreSQL alike."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ı", "i")


def normalise_inn(inn: str) -> str:
    return " ".join((inn or "").strip().lower().split())


def check_controlled(rx: bool, schedule: str | None) -> None:
    if schedule is not None and schedule not in SCHEDULES:
        raise ValidationFailed({"controlled_schedule": [f"Use one of {', '.join(SCHEDULES)} or null."]})
    if schedule is not None and not rx:
        raise ControlledRequiresRx(f"A schedule {schedule} controlled product must be prescription-only.")


# ---------------------------------------------------------------- the certificate's status machine


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a certificate, as written to its history."""

    action: str
    from_status: str | None
    to_status: str
    reason: str
    valid_until: date


@dataclass(frozen=True, slots=True)
class CertificateState:
    status: CertificateStatus
    valid_until: date

    @classmethod
    def of(cls, status: str, valid_until: date) -> CertificateState:
        return cls(CertificateStatus(status), valid_until)

    def _refuse_if_revoked(self, action: str) -> None:
        if self.status is CertificateStatus.REVOKED:
            raise CertificateRevoked(f"A revoked certificate is final; it cannot be {action}.")

    def _to(self, action: str, status: CertificateStatus, reason: str,
            valid_until: date | None = None) -> Transition:
        return Transition(action, self.status.value, status.value, require_reason(reason),
                          valid_until or self.valid_until)

    def suspend(self, reason: str) -> Transition:
        self._refuse_if_revoked("suspended")
        if self.status is not CertificateStatus.ACTIVE:
            raise CertificateNotActive(f"Only an active certificate can be suspended; this one is {self.status}.")
        return self._to("suspend", CertificateStatus.SUSPENDED, reason)

    def reinstate(self, reason: str, today: date) -> Transition:
        self._refuse_if_revoked("reinstated")
        if self.status is not CertificateStatus.SUSPENDED:
            raise CertificateNotSuspended(
                f"Only a suspended certificate can be reinstated; this one is {self.status}.")
        after = CertificateStatus.EXPIRED if self.valid_until < today else CertificateStatus.ACTIVE
        return self._to("reinstate", after, reason)

    def revoke(self, reason: str) -> Transition:
        self._refuse_if_revoked("revoked again")
        return self._to("revoke", CertificateStatus.REVOKED, reason)

    def renew(self, valid_until: date, reason: str, today: date) -> Transition:
        self._refuse_if_revoked("renewed")
        if valid_until <= self.valid_until:
            raise RenewalNotLater(
                f"The new end of validity {valid_until} must be later than the current {self.valid_until}.")
        if valid_until < today:
            raise RenewalNotLater(f"The new end of validity {valid_until} is already past.")
        after = CertificateStatus.ACTIVE if self.status is CertificateStatus.EXPIRED else self.status
        return self._to("renew", after, reason, valid_until)

    def expire(self, today: date) -> Transition | None:
        """The daily expiry: only an active certificate past its date expires; None otherwise."""
        if self.status is CertificateStatus.ACTIVE and self.valid_until < today:
            return self._to("expire", CertificateStatus.EXPIRED, f"Validity ended on {self.valid_until}.")
        return None


def initial_status(status: str, valid_until: date, today: date) -> CertificateStatus:
    """The status a certificate entered from the reference data starts in."""
    current = CertificateStatus(status)
    if current is CertificateStatus.ACTIVE and valid_until < today:
        return CertificateStatus.EXPIRED
    return current


def in_force(status: str, valid_until: date, today: date) -> bool:
    return status == CertificateStatus.ACTIVE.value and valid_until >= today


def require_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < 3:
        raise ReasonRequired("Give a reason of at least 3 characters; it is kept in the history.")
    return text[:500]


# ---------------------------------------------------------------- price periods


@dataclass(frozen=True, slots=True)
class PricePeriod:
    max_retail_price: int  # minor units (qəpik)
    effective_from: date
    effective_to: date | None = None
    key: object = None  # the caller's handle on a stored period

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def overlaps(self, other: PricePeriod) -> bool:
        far = date.max
        return (self.effective_from <= (other.effective_to or far)
                and other.effective_from <= (self.effective_to or far))


def plan_price(existing: list[PricePeriod], new: PricePeriod) -> list[PricePeriod]:
    """The periods to change so that ``new`` fits: an earlier open period is closed the day before
    ``new`` starts. Anything else that would overlap refuses the price."""
    if new.max_retail_price <= 0:
        raise ValidationFailed({"max_retail_price": ["The price must be a positive amount in qəpik."]})
    if new.effective_to is not None and new.effective_to < new.effective_from:
        raise ValidationFailed({"effective_to": ["Must not be before effective_from."]})
    closed: list[PricePeriod] = []
    for period in existing:
        if period.effective_to is None and period.effective_from < new.effective_from:
            period = replace(period, effective_to=new.effective_from - timedelta(days=1))
            closed.append(period)
        if period.overlaps(new):
            until = period.effective_to or "further notice"
            raise PriceOverlap(
                f"A price already holds from {period.effective_from} to {until}; "
                f"a new price must start after it.")
    return closed


def price_on(periods: list[PricePeriod], day: date) -> PricePeriod | None:
    return next((p for p in periods if p.covers(day)), None)
