"""Decommissioning and its undo, batch recalls and product withdrawals through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pharma.register.models import Product
from pharma.shared.time import utcnow
from pharma.trace.models import Batch, Pack, TraceEvent, TraceEventPack
from pharma.trace.movements import pack_state
from tests.integration.trace_helpers import API, TODAY, stock


@pytest.fixture()
def pharmacy(make):
    return make.org("pharmacy", locations=2)


@pytest.fixture()
def pharmacist(make, pharmacy):
    return make.caller("pharmacist", org=pharmacy)


def act(client, caller, what, location_id, packs, reason, **extra):
    return client.post(f"{API}/{what}", headers=caller.headers,
                       json={"location_id": location_id, "packs": packs, "reason": reason, **extra})


def states(db_session, lot) -> dict[str, str]:
    db_session.expire_all()
    return {p.serial: p.state for p in db_session.scalars(select(Pack).where(Pack.batch_id == lot.batch_id))}


# ---------------------------------------------------------------- decommissioning


def test_the_custodian_destroys_packs_with_a_note_and_a_document(client, pharmacist, make, db_session, pharmacy):
    lot = stock(make, pharmacy, packs=3)
    res = act(client, pharmacist, "decommissions", lot.location_id, lot.packs(*lot.serials[:2]), "DESTROYED",
              note="broken in storage", document="ACT-7")
    assert res.status_code == 200, res.json
    assert res.json["state"] == "DESTROYED" and len(res.json["packs"]) == 2
    assert states(db_session, lot) == {lot.serials[0]: "DESTROYED", lot.serials[1]: "DESTROYED",
                                       lot.serials[2]: "ACTIVE"}
    row = db_session.get(Pack, lot.pack_ids[lot.serials[0]])
    assert row.state_location_id == lot.location_id
    event = db_session.get(TraceEvent, res.json["event_id"])
    assert (event.type, event.to_state, event.reason, event.document_id) == ("DECOMMISSION", "DESTROYED",
                                                                              "broken in storage", "ACT-7")
    assert event.user_id == pharmacist.user.id and event.location_id == lot.location_id and event.count == 2
    assert pack_state(db_session, lot.gtin, lot.serials[0]).value == "DESTROYED"


def test_decommissioning_is_all_or_nothing(client, pharmacist, make, db_session, pharmacy):
    lot = stock(make, pharmacy, packs=2)
    act(client, pharmacist, "decommissions", lot.location_id, lot.packs(lot.serials[1]), "STOLEN")
    res = act(client, pharmacist, "decommissions", lot.location_id, lot.packs(), "DESTROYED")
    assert res.status_code == 409 and res.json["code"] == "PACKS_REFUSED"
    assert [(e["code"], e["serial"], e["state"]) for e in res.json["errors"]] == [
        ("PACK_NOT_ACTIVE", lot.serials[1], "STOLEN")]
    assert states(db_session, lot) == {lot.serials[0]: "ACTIVE", lot.serials[1]: "STOLEN"}


def test_packs_at_another_location_or_in_transit_are_not_decommissioned(client, pharmacist, make, pharmacy):
    lot = stock(make, pharmacy, packs=1)
    other_location = pharmacy.locations[1].id
    res = act(client, pharmacist, "decommissions", other_location, lot.packs(), "DESTROYED")
    assert res.json["errors"][0]["code"] == "NOT_IN_CUSTODY"
    other = make.org("pharmacy")
    client.post(f"{API}/shipments", headers=pharmacist.headers, json={
        "from_location_id": lot.location_id, "to_location_id": other.locations[0].id, "packs": lot.packs()})
    res = act(client, pharmacist, "decommissions", lot.location_id, lot.packs(), "DESTROYED")
    assert res.json["errors"][0]["code"] == "PACK_IN_TRANSIT"


def test_an_expired_pack_can_still_be_destroyed(client, pharmacist, make, pharmacy):
    lot = stock(make, pharmacy, packs=1, expiry=TODAY - timedelta(days=3))
    res = act(client, pharmacist, "decommissions", lot.location_id, lot.packs(), "DESTROYED")
    assert res.status_code == 200, res.json


def test_another_pharmacy_cannot_decommission_my_packs(client, make, pharmacy):
    lot = stock(make, pharmacy, packs=1)
    stranger = make.caller("pharmacist")
    res = act(client, stranger, "decommissions", lot.location_id, lot.packs(), "DESTROYED")
    assert res.status_code == 403 and res.json["code"] == "FORBIDDEN"


def test_an_inspector_takes_samples_and_locks_but_does_not_destroy(client, make, db_session, pharmacy):
    lot = stock(make, pharmacy, packs=2)
    inspector = make.caller("inspector")
    res = act(client, inspector, "decommissions", lot.location_id, lot.packs(lot.serials[0]), "SAMPLE")
    assert res.status_code == 200, res.json
    res = act(client, inspector, "decommissions", lot.location_id, lot.packs(lot.serials[1]), "DESTROYED")
    assert res.status_code == 403 and res.json["code"] == "INSPECTOR_SAMPLE_OR_LOCK_ONLY"
    assert states(db_session, lot) == {lot.serials[0]: "SAMPLE", lot.serials[1]: "ACTIVE"}


@pytest.mark.parametrize("reason", ["DISPENSED", "RECALLED", "ACTIVE", "lost"])
def test_only_the_five_decommission_reasons_are_accepted(client, pharmacist, make, pharmacy, reason):
    lot = stock(make, pharmacy, packs=1)
    res = act(client, pharmacist, "decommissions", lot.location_id, lot.packs(), reason)
    assert res.status_code == 422 and "reason" in res.json["errors"]


# ---------------------------------------------------------------- undo


def _age(db_session, lot, days: int) -> None:
    for pid in lot.pack_ids.values():
        db_session.get(Pack, pid).state_changed_at = utcnow() - timedelta(days=days)
    db_session.commit()


def test_the_same_location_undoes_within_ten_days(client, pharmacist, make, db_session, pharmacy):
    lot = stock(make, pharmacy, packs=1)
    act(client, pharmacist, "decommissions", lot.location_id, lot.packs(), "DESTROYED")
    _age(db_session, lot, 9)
    res = act(client, pharmacist, "undos", lot.location_id, lot.packs(), "destroyed by mistake")
    assert res.status_code == 200, res.json
    assert res.json["state"] == "ACTIVE"
    assert states(db_session, lot) == {lot.serials[0]: "ACTIVE"}
    event = db_session.get(TraceEvent, res.json["event_id"])
    assert (event.type, event.to_state, event.reason) == ("UNDO", "ACTIVE", "destroyed by mistake")
    history = db_session.scalars(select(TraceEvent.type).join(TraceEventPack, TraceEventPack.event_id == TraceEvent.id)
                                 .where(TraceEventPack.pack_id == lot.pack_ids[lot.serials[0]])
                                 .order_by(TraceEvent.id)).all()
    assert history == ["DECOMMISSION", "UNDO"]


def test_undo_after_ten_days_is_refused_but_a_lock_may_be_lifted_any_time(client, pharmacist, make, db_session,
                                                                             pharmacy):
    lot = stock(make, pharmacy, packs=2)
    s0, s1 = lot.serials
    act(client, pharmacist, "decommissions", lot.location_id, lot.packs(s0), "DESTROYED")
    act(client, pharmacist, "decommissions", lot.location_id, lot.packs(s1), "LOCKED")
    _age(db_session, lot, 11)
    res = act(client, pharmacist, "undos", lot.location_id, lot.packs(s0), "destroyed by mistake")
    assert res.status_code == 409
    assert [(e["code"], e["serial"]) for e in res.json["errors"]] == [("UNDO_NOT_ALLOWED", s0)]
    res = act(client, pharmacist, "undos", lot.location_id, lot.packs(s1), "investigation closed")
    assert res.status_code == 200, res.json
    assert states(db_session, lot) == {s0: "DESTROYED", s1: "ACTIVE"}


def test_undo_is_refused_to_another_location_and_is_all_or_nothing(client, pharmacist, make, db_session, pharmacy):
    lot = stock(make, pharmacy, packs=2)
    act(client, pharmacist, "decommissions", lot.location_id, lot.packs(lot.serials[0]), "SAMPLE")
    res = act(client, pharmacist, "undos", pharmacy.locations[1].id, lot.packs(lot.serials[0]), "wrong place")
    assert res.json["errors"][0]["code"] == "UNDO_NOT_ALLOWED"
    res = act(client, pharmacist, "undos", lot.location_id, lot.packs(), "one is active")
    assert [(e["code"], e["serial"]) for e in res.json["errors"]] == [("UNDO_NOT_ALLOWED", lot.serials[1])]
    assert states(db_session, lot)[lot.serials[0]] == "SAMPLE"


@pytest.mark.parametrize("fact", ["recalled", "withdrawn", "expired"])
def test_an_expired_recalled_or_withdrawn_pack_is_never_made_active(client, pharmacist, make, db_session, pharmacy,
                                                                     fact):
    lot = stock(make, pharmacy, packs=1)
    act(client, pharmacist, "decommissions", lot.location_id, lot.packs(), "LOCKED")
    batch = db_session.get(Batch, lot.batch_id)
    if fact == "recalled":
        batch.recalled_at = utcnow()
    elif fact == "withdrawn":
        db_session.get(Product, lot.product_id).withdrawn_at = utcnow()
    else:
        batch.expiry = TODAY - timedelta(days=1)
    db_session.commit()
    res = act(client, pharmacist, "undos", lot.location_id, lot.packs(), "lift the lock")
    assert res.status_code == 409
    assert res.json["errors"][0]["code"] == "UNDO_NOT_ALLOWED"
    assert fact in res.json["errors"][0]["detail"]


# ---------------------------------------------------------------- recalls and withdrawals


def test_a_recall_takes_effect_on_every_pack_without_touching_them(client, make, db_session, pharmacy):
    lot = stock(make, pharmacy, packs=50)
    regulator = make.caller("regulator")
    before = {p.id: (p.state, p.state_changed_at) for p in db_session.scalars(
        select(Pack).where(Pack.batch_id == lot.batch_id))}
    res = client.post(f"{API}/recalls", headers=regulator.headers,
                      json={"gtin": lot.gtin[1:], "batch": lot.batch, "reason": "sterility failure"})
    assert res.status_code == 201, res.json
    assert res.json["gtin"] == lot.gtin and res.json["recall_reason"] == "sterility failure"
    db_session.expire_all()
    assert {p.id: (p.state, p.state_changed_at) for p in db_session.scalars(
        select(Pack).where(Pack.batch_id == lot.batch_id))} == before
    assert {pack_state(db_session, lot.gtin, s).value for s in lot.serials} == {"RECALLED"}
    events = db_session.scalars(select(TraceEvent).where(TraceEvent.type == "RECALL")).all()
    assert len(events) == 1 and events[0].batch_id == lot.batch_id and events[0].count == 50
    assert db_session.scalar(select(func.count()).select_from(TraceEventPack)
                             .where(TraceEventPack.event_id == events[0].id)) == 0
    again = client.post(f"{API}/recalls", headers=regulator.headers,
                        json={"gtin": lot.gtin, "batch": lot.batch, "reason": "again"})
    assert again.status_code == 409 and again.json["code"] == "BATCH_ALREADY_RECALLED"


def test_recalling_an_unknown_batch_is_not_found(client, make):
    regulator = make.caller("regulator")
    res = client.post(f"{API}/recalls", headers=regulator.headers,
                      json={"gtin": "4030096123457", "batch": "NOPE", "reason": "sterility failure"})
    assert res.status_code == 404


def test_a_withdrawal_takes_effect_on_every_batch_of_the_product(client, make, db_session, pharmacy):
    lot = stock(make, pharmacy, packs=2)
    lot2 = stock(make, pharmacy, packs=2, product_id=lot.product_id, gtin=lot.gtin)
    regulator = make.caller("regulator")
    res = client.post(f"{API}/withdrawals", headers=regulator.headers,
                      json={"product_id": lot.product_id, "reason": "benefit no longer outweighs risk"})
    assert res.status_code == 201, res.json
    assert {pack_state(db_session, lot.gtin, s).value for s in lot.serials + lot2.serials} == {"WITHDRAWN"}
    event = db_session.scalar(select(TraceEvent).where(TraceEvent.type == "WITHDRAW"))
    assert event.product_id == lot.product_id and event.count == 4
    again = client.post(f"{API}/withdrawals", headers=regulator.headers,
                        json={"product_id": lot.product_id, "reason": "again"})
    assert again.status_code == 409 and again.json["code"] == "PRODUCT_ALREADY_WITHDRAWN"


def test_recalls_and_withdrawals_are_listed_newest_first(client, make, pharmacy):
    lot = stock(make, pharmacy, packs=1)
    other = stock(make, pharmacy, packs=1)
    regulator = make.caller("regulator")
    client.post(f"{API}/recalls", headers=regulator.headers,
                json={"gtin": lot.gtin, "batch": lot.batch, "reason": "sterility failure"})
    client.post(f"{API}/withdrawals", headers=regulator.headers,
                json={"product_id": other.product_id, "reason": "withdrawn by the holder"})
    res = client.get(f"{API}/recalls", headers=make.caller("pharmacist", org=pharmacy).headers)
    assert res.status_code == 200
    assert [(i["kind"], i["product_id"]) for i in res.json["items"]] == [
        ("WITHDRAWAL", other.product_id), ("RECALL", lot.product_id)]
    assert res.json["items"][1]["batch"] == lot.batch


def test_an_inspectors_lock_is_lifted_by_an_inspector_not_by_the_pharmacy(client, pharmacist, make, db_session,
                                                                          pharmacy):
    lot = stock(make, pharmacy, packs=1)
    inspector = make.caller("inspector")
    assert act(client, inspector, "decommissions", lot.location_id, lot.packs(), "LOCKED").status_code == 200
    res = act(client, pharmacist, "undos", lot.location_id, lot.packs(), "we want to sell it")
    assert res.status_code == 409
    assert res.json["errors"][0]["code"] == "UNDO_NOT_ALLOWED"
    assert states(db_session, lot) == {lot.serials[0]: "LOCKED"}
    res = act(client, inspector, "undos", lot.location_id, lot.packs(), "inspection closed")
    assert res.status_code == 200, res.json
    assert states(db_session, lot) == {lot.serials[0]: "ACTIVE"}


def test_an_expired_locked_pack_is_never_made_active_again(client, pharmacist, make, db_session, pharmacy):
    lot = stock(make, pharmacy, packs=1, expiry=TODAY - timedelta(days=1))
    act(client, pharmacist, "decommissions", lot.location_id, lot.packs(), "LOCKED")
    res = act(client, pharmacist, "undos", lot.location_id, lot.packs(), "unlock please")
    assert res.status_code == 409
    assert res.json["errors"][0]["detail"].endswith("The pack is expired: it can never be made active again.")
    assert states(db_session, lot) == {lot.serials[0]: "LOCKED"}


def test_an_event_for_a_selection_of_packs_counts_them(make, db_session, pharmacy):
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace.events import record

    lot = stock(make, pharmacy, packs=3)
    work = UnitOfWork(db_session, Actor.system("test"))
    with work:
        event_id = record(work, "SHIP", location_id=lot.location_id,
                          packs_from=select(Pack.id).where(Pack.batch_id == lot.batch_id))
        work.commit()
    assert db_session.get(TraceEvent, event_id).count == 3
