"""Import permit rules without a database: the status machine, the approval's limits, drawdown."""

from __future__ import annotations

from datetime import date

import pytest

from pharma.permits import domain as d
from pharma.shared.errors import ValidationFailed

TODAY = date(2026, 3, 10)
REQUESTED = date(2026, 12, 31)


def test_permit_numbers_carry_the_year_and_a_six_digit_sequence():
    assert d.format_number(2026, 123) == "IP-2026-000123"


@pytest.mark.parametrize("status", ["APPROVED", "REFUSED", "REVOKED"])
def test_only_an_application_can_be_decided(status):
    d.check_decidable("APPLIED", "IP-2026-000001")
    with pytest.raises(d.PermitNotApplied) as exc:
        d.check_decidable(status, "IP-2026-000001")
    assert exc.value.code == "PERMIT_NOT_APPLIED"


def test_only_an_approved_permit_can_be_revoked_and_only_once():
    d.check_revocable("APPROVED", "IP-2026-000001")
    with pytest.raises(d.PermitRevoked):
        d.check_revocable("REVOKED", "IP-2026-000001")
    for status in ("APPLIED", "REFUSED"):
        with pytest.raises(d.PermitNotApproved):
            d.check_revocable(status, "IP-2026-000001")


def test_an_approved_permit_past_its_validity_reads_as_expired():
    assert d.effective_status("APPROVED", date(2026, 3, 9), TODAY) is d.PermitStatus.EXPIRED
    assert d.effective_status("APPROVED", TODAY, TODAY) is d.PermitStatus.APPROVED
    assert d.effective_status("REVOKED", date(2026, 1, 1), TODAY) is d.PermitStatus.REVOKED


@pytest.mark.parametrize(("status", "on", "error"), [
    ("APPLIED", TODAY, d.PermitNotApproved),
    ("REFUSED", TODAY, d.PermitNotApproved),
    ("REVOKED", TODAY, d.PermitRevoked),
    ("APPROVED", date(2026, 7, 1), d.PermitExpired),
    ("APPROVED", date(2026, 3, 1), d.PermitNotYetValid),
])
def test_packs_are_declared_only_against_an_approved_permit_within_its_validity(status, on, error):
    with pytest.raises(error):
        d.check_usable(status, "IP-2026-000001", date(2026, 3, 5), date(2026, 6, 30), on)


def test_a_permit_is_usable_on_its_first_and_last_day():
    d.check_usable("APPROVED", "IP-2026-000001", date(2026, 3, 5), date(2026, 6, 30), date(2026, 3, 5))
    d.check_usable("APPROVED", "IP-2026-000001", date(2026, 3, 5), date(2026, 6, 30), date(2026, 6, 30))


def test_an_approval_defaults_to_the_request_from_today():
    plan = d.plan_approval({1: 100, 2: 50}, None, REQUESTED, None, None, TODAY)
    assert plan == d.Approval(TODAY, REQUESTED, {1: 100, 2: 50})


def test_an_approval_may_allow_fewer_packs_and_lines_left_out_stay_as_requested():
    plan = d.plan_approval({1: 100, 2: 50}, {1: 40}, REQUESTED, None, date(2026, 6, 30), TODAY)
    assert plan.packs == {1: 40, 2: 50}
    assert plan.valid_until == date(2026, 6, 30)


def test_an_approval_may_not_exceed_the_packs_requested():
    with pytest.raises(d.ApprovalExceedsRequest) as exc:
        d.plan_approval({1: 100}, {1: 101}, REQUESTED, None, None, TODAY)
    assert exc.value.code == "APPROVAL_EXCEEDS_REQUEST"


def test_an_approval_may_not_run_longer_than_requested():
    with pytest.raises(d.ApprovalExceedsRequest):
        d.plan_approval({1: 100}, None, REQUESTED, None, date(2027, 1, 1), TODAY)


def test_an_approval_must_allow_some_packs():
    with pytest.raises(d.NothingApproved) as exc:
        d.plan_approval({1: 100, 2: 5}, {1: 0, 2: 0}, REQUESTED, None, None, TODAY)
    assert exc.value.code == "NOTHING_APPROVED"


@pytest.mark.parametrize(("start", "end"), [(date(2026, 5, 1), date(2026, 5, 1)), (date(2026, 5, 1), date(2026, 4, 1)),
                                            (date(2025, 1, 1), date(2026, 3, 9))])
def test_an_approval_s_validity_ends_after_it_starts_and_not_in_the_past(start, end):
    with pytest.raises(ValidationFailed) as exc:
        d.plan_approval({1: 100}, None, REQUESTED, start, end, TODAY)
    assert "valid_until" in exc.value.errors


def test_an_approval_names_only_the_permit_s_own_lines():
    with pytest.raises(ValidationFailed):
        d.plan_approval({1: 100}, {7: 10}, REQUESTED, None, None, TODAY)
    with pytest.raises(ValidationFailed):
        d.plan_approval({1: 100}, {1: -1}, REQUESTED, None, None, TODAY)


def test_refusing_or_revoking_needs_a_reason():
    with pytest.raises(d.ReasonRequired):
        d.require_reason("  ")
    assert d.require_reason("  GMP lapsed ") == "GMP lapsed"


def test_the_requested_validity_must_end_after_today():
    with pytest.raises(ValidationFailed):
        d.check_requested_validity(TODAY, TODAY)
    d.check_requested_validity(date(2026, 3, 11), TODAY)


def test_an_application_has_between_one_and_the_maximum_lines_and_positive_packs():
    with pytest.raises(ValidationFailed):
        d.check_line_count(0)
    with pytest.raises(ValidationFailed):
        d.check_line_count(d.MAX_LINES + 1)
    for bad in (0, -3, True, d.MAX_PACKS_PER_LINE + 1):
        with pytest.raises(ValidationFailed):
            d.check_packs_requested(bad, "lines.0.packs_requested")


def test_a_product_on_several_lines_fills_them_in_order():
    assert d.allocate([(1, 10), (2, 30)], 25) == [(1, 10), (2, 15)]
    assert d.allocate([(1, 0), (2, 30)], 30) == [(2, 30)]
    assert d.allocate([(1, 10), (2, 30)], 41) is None


def test_percent_used_rounds_down_so_100_means_nothing_left():
    assert d.percent(999, 1000) == 99
    assert d.percent(1000, 1000) == 100
    assert d.percent(0, 0) == 0


def test_the_verification_code_changes_with_what_the_permit_allows_and_the_key():
    facts = ["IP-2026-000001", "5", "2026-03-10", "2026-12-31", "12:100"]
    code = d.verification_code(facts, b"key")
    assert len(code) == 16 and code == code.upper()
    assert d.verification_code(facts, b"key") == code
    assert d.verification_code([*facts[:-1], "12:900"], b"key") != code
    assert d.verification_code(facts, b"other key") != code
