"""Rules of the product register, without a database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pharma.register import domain as d
from pharma.register.domain import CertificateState, PricePeriod
from pharma.shared.errors import ValidationFailed

TODAY = date(2026, 1, 15)


def state(status: str, valid_until: date = date(2027, 1, 1)) -> CertificateState:
    return CertificateState.of(status, valid_until)


# ---------------------------------------------------------------- strengths, ATC, search keys


@pytest.mark.parametrize(("text", "value", "unit"), [
    ("875 mg", Decimal("875"), "mg"),
    ("0.5 mg/ml", Decimal("0.5"), "mg/ml"),
    ("2,5 mg", Decimal("2.5"), "mg"),
    ("100IU/ml", Decimal("100"), "IU/ml"),
    ("1 %", Decimal("1"), "%"),
    ("200 MCG/DOSE", Decimal("200"), "mcg/dose"),
])
def test_a_strength_is_read_as_amount_and_controlled_unit(text, value, unit):
    strength = d.parse_strength(text)
    assert (strength.value, strength.unit) == (value, unit)


def test_a_strength_prints_without_trailing_zeros():
    assert str(d.parse_strength("12.50 mg")) == "12.5 mg"
    assert str(d.parse_strength("1000 mg")) == "1000 mg"


@pytest.mark.parametrize("text", ["", "mg", "875", "875 grains", "-5 mg", "0 mg", "1.23456 mg"])
def test_a_strength_outside_the_rules_is_refused(text):
    with pytest.raises(ValidationFailed) as err:
        d.parse_strength(text)
    assert "strength" in err.value.errors


def test_an_atc_code_must_be_a_substance_level_code():
    assert d.check_atc("j01cr02") == "J01CR02"
    for bad in ("J01CR", "J01CR2", "101CR02", "J0ACR02", "J01CR021"):
        with pytest.raises(ValidationFailed) as err:
            d.check_atc(bad)
        assert err.value.errors["atc_code"]


def test_atc_prefixes_of_every_level_are_recognised():
    for prefix in ("C", "C09", "C09A", "C09AA", "C09AA05"):
        assert d.is_atc_prefix(prefix)
    for text in ("C0", "ASPIRIN", "C09A1", "09"):
        assert not d.is_atc_prefix(text)


def test_the_search_key_ignores_case_and_accents():
    assert d.search_key("Ağrıkəsən FORTE") == "agrikəsən forte"
    assert d.search_key("Ibuprofen") == d.search_key("İBUPROFEN")


def test_a_controlled_product_must_be_prescription_only():
    d.check_controlled(True, "II")
    d.check_controlled(False, None)
    with pytest.raises(d.ControlledRequiresRx) as err:
        d.check_controlled(False, "III")
    assert err.value.code == "CONTROLLED_REQUIRES_RX"
    with pytest.raises(ValidationFailed):
        d.check_controlled(True, "V")


# ---------------------------------------------------------------- the certificate's status machine


def test_an_active_certificate_can_be_suspended_with_a_reason():
    change = state("active").suspend("GMP inspection failed")
    assert (change.from_status, change.to_status, change.reason) == ("active", "suspended", "GMP inspection failed")


def test_every_transition_needs_a_reason():
    with pytest.raises(d.ReasonRequired) as err:
        state("active").suspend("  ")
    assert err.value.code == "REASON_REQUIRED"


@pytest.mark.parametrize("status", ["suspended", "expired"])
def test_only_an_active_certificate_can_be_suspended(status):
    with pytest.raises(d.CertificateNotActive) as err:
        state(status).suspend("reason")
    assert err.value.code == "CERTIFICATE_NOT_ACTIVE"


def test_a_suspended_certificate_is_reinstated_to_active():
    assert state("suspended").reinstate("resolved", TODAY).to_status == "active"


def test_a_suspended_certificate_past_its_date_is_reinstated_as_expired():
    assert state("suspended", date(2025, 12, 31)).reinstate("resolved", TODAY).to_status == "expired"


@pytest.mark.parametrize("status", ["active", "expired"])
def test_only_a_suspended_certificate_can_be_reinstated(status):
    with pytest.raises(d.CertificateNotSuspended) as err:
        state(status).reinstate("reason", TODAY)
    assert err.value.code == "CERTIFICATE_NOT_SUSPENDED"


@pytest.mark.parametrize("status", ["active", "suspended", "expired"])
def test_a_certificate_in_any_other_state_can_be_revoked(status):
    assert state(status).revoke("counterfeit risk").to_status == "revoked"


def test_a_revoked_certificate_is_final():
    revoked = state("revoked")
    for act in (lambda: revoked.suspend("x y z"), lambda: revoked.reinstate("x y z", TODAY),
                lambda: revoked.revoke("x y z"), lambda: revoked.renew(date(2030, 1, 1), "x y z", TODAY)):
        with pytest.raises(d.CertificateRevoked) as err:
            act()
        assert err.value.code == "CERTIFICATE_REVOKED"


def test_a_revoked_certificate_cannot_be_renewed():
    with pytest.raises(d.CertificateRevoked):
        state("revoked").renew(date(2031, 1, 1), "new dossier", TODAY)


def test_a_renewal_must_extend_the_validity():
    with pytest.raises(d.RenewalNotLater) as err:
        state("active", date(2027, 1, 1)).renew(date(2027, 1, 1), "renewal", TODAY)
    assert err.value.code == "RENEWAL_NOT_LATER"


def test_a_renewal_may_not_end_in_the_past():
    with pytest.raises(d.RenewalNotLater):
        state("expired", date(2025, 1, 1)).renew(date(2025, 6, 1), "renewal", TODAY)


def test_an_expired_certificate_renewed_becomes_active():
    change = state("expired", date(2025, 1, 1)).renew(date(2030, 1, 1), "renewal", TODAY)
    assert (change.to_status, change.valid_until) == ("active", date(2030, 1, 1))


def test_a_suspended_certificate_renewed_stays_suspended():
    assert state("suspended").renew(date(2031, 1, 1), "renewal", TODAY).to_status == "suspended"


def test_only_an_active_certificate_past_its_date_expires():
    assert state("active", date(2026, 1, 14)).expire(TODAY).to_status == "expired"
    assert state("active", TODAY).expire(TODAY) is None  # valid through its last day
    assert state("suspended", date(2020, 1, 1)).expire(TODAY) is None
    assert state("expired", date(2020, 1, 1)).expire(TODAY) is None


def test_a_certificate_is_in_force_only_when_active_and_within_its_date():
    assert d.in_force("active", TODAY, TODAY)
    assert not d.in_force("active", date(2026, 1, 14), TODAY)
    assert not d.in_force("suspended", date(2030, 1, 1), TODAY)


def test_reference_data_past_its_date_starts_expired():
    assert d.initial_status("active", date(2020, 1, 1), TODAY) is d.CertificateStatus.EXPIRED
    assert d.initial_status("suspended", date(2020, 1, 1), TODAY) is d.CertificateStatus.SUSPENDED
    assert d.initial_status("active", date(2030, 1, 1), TODAY) is d.CertificateStatus.ACTIVE


# ---------------------------------------------------------------- price periods


def test_a_new_price_closes_the_open_period_the_day_before():
    open_ = PricePeriod(1000, date(2025, 1, 1), key="old")
    closed = d.plan_price([open_], PricePeriod(1200, date(2025, 7, 1)))
    assert closed == [PricePeriod(1000, date(2025, 1, 1), date(2025, 6, 30), key="old")]


def test_a_price_starting_inside_an_earlier_period_is_refused():
    periods = [PricePeriod(900, date(2024, 1, 1), date(2024, 12, 31)), PricePeriod(1000, date(2025, 1, 1))]
    for start in (date(2024, 6, 1), date(2025, 1, 1), date(2023, 1, 1)):
        with pytest.raises(d.PriceOverlap) as err:
            d.plan_price(periods, PricePeriod(1100, start))
        assert err.value.code == "PRICE_PERIOD_OVERLAP"


def test_a_closed_price_period_may_fill_a_gap():
    periods = [PricePeriod(900, date(2024, 1, 1), date(2024, 6, 30)), PricePeriod(1000, date(2025, 1, 1))]
    assert d.plan_price(periods, PricePeriod(950, date(2024, 7, 1), date(2024, 12, 31))) == []


def test_a_price_must_be_positive_and_its_period_ordered():
    with pytest.raises(ValidationFailed):
        d.plan_price([], PricePeriod(0, date(2025, 1, 1)))
    with pytest.raises(ValidationFailed):
        d.plan_price([], PricePeriod(100, date(2025, 1, 1), date(2024, 1, 1)))


def test_the_price_on_a_day_is_the_period_covering_it():
    periods = [PricePeriod(900, date(2024, 1, 1), date(2024, 12, 31)), PricePeriod(1000, date(2025, 1, 1))]
    assert d.price_on(periods, date(2024, 12, 31)).max_retail_price == 900
    assert d.price_on(periods, date(2030, 1, 1)).max_retail_price == 1000
    assert d.price_on(periods, date(2023, 1, 1)) is None
