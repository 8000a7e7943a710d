"""Verdicts of scans (DESIGN.md "Verdicts"), without a database: every verdict, severity, alerts,
and the alert case workflow's refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from pharma.shared.identifiers import Expiry
from pharma.verify import domain as d
from pharma.verify.domain import Verdict as V
from pharma.verify.parser import ParsedScan

TODAY = date(2026, 3, 10)
GTIN = "04030096123457"
EXPIRY = Expiry.from_date(date(2028, 6, 30))
HERE = d.Place(location_id=10, organisation_id=1)
PRODUCT = d.ProductFacts(gtin=GTIN, product_id=7, trade_name="Augmentin", dosage_form="TABLET", rx=True, pack_size=14,
                         pack_unit="tablet", substances=(("amoxicillin", "875 mg"),), certificate_number="AZ-1",
                         certificate_status="active", valid_until=date(2030, 1, 1), withdrawn=False)
PACK = d.PackRecord(gtin=GTIN, serial="S1", state="ACTIVE", state_changed_at=datetime(2026, 1, 1, tzinfo=UTC),
                    batch="B1", expiry=EXPIRY, recalled=False, location_id=10, location_name="Pharmacy",
                    custodian_org_id=1, transit_to=None, released=True)


def scan(serial: str | None = "S1", batch: str | None = "B1", expiry: Expiry | None = EXPIRY, gtin: str = GTIN,
         sscc: str | None = None) -> ParsedScan:
    return ParsedScan(raw="raw", symbology="]d2", gtin=gtin, serial=serial, batch=batch, expiry=expiry, sscc=sscc)


def judge(reading=None, product=PRODUCT, pack=PACK, place=HERE, today=TODAY) -> list[d.Finding]:
    return d.findings_for(reading or scan(), product, pack, place, today)


def verdict(**kw) -> V:
    return d.verdict_of(judge(**kw))


# ---------------------------------------------------------------- each verdict


def test_a_registered_known_active_pack_held_here_and_in_date_is_ok():
    assert judge() == []
    assert d.verdict_of([]) is V.OK and not d.alerts([])


def test_a_pack_in_transit_to_the_scanning_location_is_ok():
    assert verdict(pack=replace(PACK, location_id=99, custodian_org_id=5, transit_to=HERE.location_id)) is V.OK


def test_a_pack_in_transit_from_the_scanning_location_is_still_in_its_custody():
    assert verdict(pack=replace(PACK, transit_to=77)) is V.OK


def test_a_refused_scan_is_an_invalid_code_with_the_parsers_reason():
    found = d.refused("CHECK_DIGIT", "The GTIN's check digit is 3, expected 7.")
    assert [(f.code, f.reason, f.message) for f in found] == [
        ("INVALID_CODE", "CHECK_DIGIT", "The GTIN's check digit is 3, expected 7.")]
    assert d.verdict_of(found) is V.INVALID_CODE and not d.alerts(found)


def test_a_case_label_is_not_a_pack():
    found = judge(reading=scan(serial=None, batch=None, expiry=None, gtin=None, sscc="047600000000000017"),
                  product=None, pack=None)
    assert [(f.code, f.reason, f.message) for f in found] == [
        ("INVALID_CODE", "NOT_A_PACK",
         "This is a case label (SSCC 047600000000000017), not a pack: scan the pack's own code.")]


def test_a_gtin_not_in_the_register_is_unregistered_and_alerts():
    found = judge(product=None, pack=None)
    assert [(f.code, f.message) for f in found] == [
        ("UNREGISTERED_PRODUCT", f"GTIN {GTIN} is not in the product register.")]
    assert d.alerts(found)


def test_a_product_without_a_certificate_is_unregistered():
    found = judge(product=replace(PRODUCT, certificate_number=None, certificate_status=None))
    assert [(f.code, f.message) for f in found] == [
        ("UNREGISTERED_PRODUCT", f"GTIN {GTIN} belongs to a product without a registration certificate.")]


@pytest.mark.parametrize(("status", "valid_until", "code", "message", "alert"), [
    ("suspended", date(2030, 1, 1), "REGISTRATION_SUSPENDED", "Registration certificate AZ-1 is suspended.", False),
    ("revoked", date(2030, 1, 1), "REGISTRATION_REVOKED", "Registration certificate AZ-1 is revoked.", True),
    ("expired", date(2026, 1, 31), "REGISTRATION_EXPIRED",
     "Registration certificate AZ-1 expired on 2026-01-31.", False),
    ("active", date(2026, 3, 9), "REGISTRATION_EXPIRED", "Registration certificate AZ-1 expired on 2026-03-09.", False),
])
def test_a_certificate_not_in_force_is_named(status, valid_until, code, message, alert):
    found = judge(product=replace(PRODUCT, certificate_status=status, valid_until=valid_until))
    assert [(f.code, f.message) for f in found] == [(code, message)]
    assert d.alerts(found) is alert


def test_a_certificate_valid_until_today_is_in_force():
    assert verdict(product=replace(PRODUCT, valid_until=TODAY)) is V.OK


def test_a_registered_gtin_with_a_serial_never_commissioned_is_an_unknown_pack():
    found = judge(pack=None)
    assert [(f.code, f.message) for f in found] == [
        ("UNKNOWN_PACK", f"No pack with serial S1 was ever commissioned for GTIN {GTIN}.")]
    assert d.alerts(found)


def test_a_printed_batch_that_differs_from_the_record_is_a_batch_mismatch():
    found = judge(reading=scan(batch="B2"))
    assert [(f.code, f.message) for f in found] == [
        ("BATCH_MISMATCH", "The printed batch B2 differs from the batch recorded for this pack.")]
    assert d.alerts(found)


def test_a_printed_expiry_that_differs_from_the_record_is_an_expiry_mismatch():
    found = judge(reading=scan(expiry=Expiry.from_date(date(2028, 7, 31))))
    assert [(f.code, f.message) for f in found] == [
        ("EXPIRY_MISMATCH", "The printed expiry 280731 differs from the expiry recorded for this pack.")]


def test_expiries_match_by_date_whatever_their_printed_form():
    day_00 = Expiry.parse("280600", today=TODAY)  # day 00: the month's last day, as recorded
    assert verdict(reading=scan(expiry=day_00)) is V.OK


def test_a_scan_without_batch_or_expiry_is_not_compared_with_the_record():
    assert verdict(reading=scan(batch=None, expiry=None)) is V.OK


def test_a_dispensed_pack_seen_again_is_already_dispensed_and_alerts():
    found = judge(pack=replace(PACK, state="DISPENSED"))
    assert [(f.code, f.message) for f in found] == [("ALREADY_DISPENSED", "The pack was already dispensed or sold.")]
    assert d.alerts(found)


def test_a_recalled_batch_and_a_withdrawn_product_stop_the_sale_without_alerting():
    recalled = judge(pack=replace(PACK, recalled=True))
    withdrawn = judge(product=replace(PRODUCT, withdrawn=True))
    assert [(f.code, f.message) for f in recalled] == [("RECALLED", "The pack's batch has been recalled.")]
    assert [(f.code, f.message) for f in withdrawn] == [
        ("WITHDRAWN", "The product has been withdrawn from the market.")]
    assert not d.alerts(recalled) and not d.alerts(withdrawn)


def test_a_pack_past_its_recorded_expiry_is_expired():
    old = Expiry.from_date(TODAY - timedelta(days=1))
    found = judge(reading=scan(expiry=old), pack=replace(PACK, expiry=old))
    assert [(f.code, f.message) for f in found] == [("EXPIRED", "The pack is past its expiry date.")]
    assert not d.alerts(found)


@pytest.mark.parametrize(("state", "alert"), [("DESTROYED", False), ("STOLEN", True), ("EXPORTED", False),
                                              ("SAMPLE", False), ("LOCKED", False)])
def test_an_inactive_pack_alerts_only_when_stolen(state, alert):
    found = judge(pack=replace(PACK, state=state))
    assert [(f.code, f.reason, f.message) for f in found] == [
        ("INACTIVE", state, f"The pack is out of circulation: {state.lower()}.")]
    assert d.alerts(found) is alert


def test_an_active_pack_held_by_another_location_is_not_in_custody_and_alerts():
    found = judge(pack=replace(PACK, location_id=99, custodian_org_id=5))
    assert [(f.code, f.message) for f in found] == [("NOT_IN_CUSTODY", "The pack is held by another location.")]
    assert d.alerts(found)


def test_a_pack_travelling_to_another_location_is_not_in_custody():
    found = judge(pack=replace(PACK, location_id=99, custodian_org_id=5, transit_to=98))
    assert [(f.code, f.message) for f in found] == [("NOT_IN_CUSTODY", "The pack is in transit to another location.")]


def test_another_location_of_the_same_organisation_is_not_custody_either():
    assert verdict(pack=replace(PACK, location_id=11)) is V.NOT_IN_CUSTODY


def test_a_pack_its_importer_never_shipped_is_not_released_when_scanned_by_another_organisation():
    at_importer = replace(PACK, location_id=50, custodian_org_id=5, released=False)
    found = judge(pack=at_importer)
    assert [(f.code, f.message) for f in found] == [
        ("NOT_RELEASED", "The pack has not been released into circulation: its importer has never shipped it.")]
    assert d.alerts(found)
    # the importer itself: at the arrival location it is held there; elsewhere in its organisation, not in custody
    assert verdict(pack=at_importer, place=d.Place(50, 5)) is V.OK
    assert verdict(pack=at_importer, place=d.Place(51, 5)) is V.NOT_IN_CUSTODY


def test_custody_is_not_judged_for_a_pack_out_of_circulation():
    assert verdict(pack=replace(PACK, state="DISPENSED", location_id=99, custodian_org_id=5)) is V.ALREADY_DISPENSED


def test_a_gtin_only_scan_is_judged_by_the_register_and_its_printed_expiry():
    legacy = scan(serial=None, batch=None, expiry=None)
    assert judge(reading=legacy, pack=None) == []
    assert verdict(reading=legacy, product=None, pack=None) is V.UNREGISTERED_PRODUCT
    assert verdict(reading=legacy, product=replace(PRODUCT, certificate_status="suspended"),
                   pack=None) is V.REGISTRATION_SUSPENDED
    old = scan(serial=None, batch="B1", expiry=Expiry.from_date(date(2026, 2, 28)))
    assert [(f.code, f.message) for f in judge(reading=old, pack=None)] == [
        ("EXPIRED", "The printed expiry date 2026-02-28 has passed.")]


# ---------------------------------------------------------------- severity


def test_severity_lists_every_verdict_once():
    assert sorted(d.SEVERITY) == sorted(V) and len(d.SEVERITY) == len(V)


def test_every_always_alerting_verdict_outranks_every_other():
    lowest_alerting = min(d.RANK[v] for v in d.ALERTING)
    never = [v for v in V if v not in d.ALERTING and v is not V.INACTIVE]
    assert all(d.RANK[v] < d.RANK[V.INACTIVE] < lowest_alerting for v in never)


def test_counterfeit_suspicions_are_the_most_severe():
    assert d.SEVERITY[-5:] == (V.ALREADY_DISPENSED, V.EXPIRY_MISMATCH, V.BATCH_MISMATCH, V.UNKNOWN_PACK,
                               V.UNREGISTERED_PRODUCT)


def test_the_verdict_is_the_most_severe_finding():
    found = judge(reading=scan(batch="B2"), product=replace(PRODUCT, certificate_status="revoked", withdrawn=True),
                  pack=replace(PACK, recalled=True, state="DISPENSED"))
    assert [f.code for f in found] == ["REGISTRATION_REVOKED", "WITHDRAWN", "BATCH_MISMATCH", "RECALLED",
                                       "ALREADY_DISPENSED"]
    assert d.verdict_of(found) is V.BATCH_MISMATCH and d.alerts(found)


def test_a_recalled_pack_at_another_pharmacy_is_a_custody_alert():
    found = judge(pack=replace(PACK, recalled=True, location_id=99, custodian_org_id=5))
    assert d.verdict_of(found) is V.NOT_IN_CUSTODY and d.alerts(found)


def test_findings_never_state_the_recorded_batch_expiry_or_custodian():
    found = judge(reading=scan(batch="FAKE", expiry=Expiry.from_date(date(2029, 1, 31))),
                  pack=replace(PACK, location_id=99, custodian_org_id=5, location_name="Other Pharmacy"))
    text = " ".join(f.message for f in found)
    assert "B1" not in text and EXPIRY.raw not in text and "Other Pharmacy" not in text


# ---------------------------------------------------------------- the case workflow


def test_a_new_case_is_taken_up_and_then_closed():
    assert d.check_investigate(1, "NEW") is d.AlertStatus.INVESTIGATING
    assert d.check_close(1, "INVESTIGATING", d.ClosingReason.TECHNICAL_ERROR, "") is d.AlertStatus.CLOSED
    assert d.check_close(1, "NEW", d.ClosingReason.CONFIRMED_COUNTERFEIT, "") is d.AlertStatus.CLOSED


def test_wrong_transitions_are_refused_by_name():
    with pytest.raises(d.AlertAlreadyInvestigating) as e:
        d.check_investigate(4, "INVESTIGATING")
    assert (e.value.code, e.value.detail) == ("ALERT_ALREADY_INVESTIGATING", "Alert 4 is already being investigated.")
    with pytest.raises(d.AlertClosed) as e:
        d.check_investigate(4, "CLOSED")
    assert (e.value.code, e.value.detail) == ("ALERT_CLOSED", "Alert 4 is closed.")
    with pytest.raises(d.AlertClosed):
        d.check_close(4, "CLOSED", d.ClosingReason.OTHER, "again")


def test_closing_for_another_reason_needs_a_note():
    with pytest.raises(d.NoteRequired) as e:
        d.check_close(4, "NEW", d.ClosingReason.OTHER, "  ")
    assert e.value.code == "NOTE_REQUIRED"
    assert e.value.errors == {"note": ["Closing for another reason needs a note of at least 3 characters."]}
    assert d.check_close(4, "NEW", d.ClosingReason.OTHER, "duplicate label") is d.AlertStatus.CLOSED
