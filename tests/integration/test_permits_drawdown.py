"""The drawdown declarations make on a permit, in their own transaction, and its races."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pharma.permits import domain as d
from pharma.permits import services as svc
from pharma.permits.models import ImportPermit, PermitLine
from pharma.shared.actor import Actor
from pharma.shared.errors import Forbidden
from pharma.shared.uow import UnitOfWork
from tests.integration.test_permits_support import applied, approved, license_importer, product, system

TODAY = date.today()


@pytest.fixture()
def world(make):
    org = license_importer(make)
    return {"org": org, "p1": product(make), "p2": product(make), "p3": product(make)}


def _used(session, permit_id: int) -> list[int]:
    session.expire_all()
    return list(session.scalars(select(PermitLine.packs_used).where(PermitLine.permit_id == permit_id)
                                .order_by(PermitLine.id)))


def _draw(session, permit_id, importer_id, packs, on=TODAY, commit=True):
    work = system(session)
    with work:
        svc.draw_down(work, permit_id, importer_id, packs, on)
        if commit:
            work.commit()


def test_a_declaration_draws_its_packs_from_the_permit_lines(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100), (world["p2"]["id"], 50)])
    _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 60, world["p2"]["id"]: 50})
    _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 40, world["p2"]["id"]: 0})
    assert _used(make.session, permit_id) == [100, 50]


def test_the_drawdown_is_part_of_the_caller_s_transaction(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 60}, commit=False)
    assert _used(make.session, permit_id) == [0]


def test_more_packs_than_left_are_refused_naming_the_product_and_what_is_left(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100), (world["p2"]["id"], 10)])
    _draw(make.session, permit_id, world["org"].id, {world["p2"]["id"]: 7})
    with pytest.raises(d.PermitQuantityExceeded) as exc:
        _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 5, world["p2"]["id"]: 4})
    assert exc.value.code == "PERMIT_QUANTITY_EXCEEDED"
    assert (exc.value.extra["product_id"], exc.value.extra["packs_left"]) == (world["p2"]["id"], 3)
    assert world["p2"]["name"] in exc.value.detail and "3 packs" in exc.value.detail
    assert _used(make.session, permit_id) == [0, 7]  # the first product's packs were rolled back too


def test_a_product_on_several_lines_fills_them_in_line_order(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 30), (world["p2"]["id"], 5),
                                                 (world["p1"]["id"], 20)])
    _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 40})
    assert _used(make.session, permit_id) == [30, 0, 10]
    with pytest.raises(d.PermitQuantityExceeded) as exc:
        _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 11})
    assert exc.value.extra["packs_left"] == 10
    _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 10})
    assert _used(make.session, permit_id) == [30, 0, 20]


def test_a_product_not_on_the_permit_is_refused(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    with pytest.raises(d.ProductNotOnPermit) as exc:
        _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 1, world["p3"]["id"]: 1})
    assert exc.value.code == "PRODUCT_NOT_ON_PERMIT"
    assert world["p3"]["name"] in exc.value.detail
    assert _used(make.session, permit_id) == [0]


def test_another_importer_s_permit_cannot_be_drawn(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    other = license_importer(make)
    with pytest.raises(d.PermitNotOwned):
        _draw(make.session, permit_id, other.id, {world["p1"]["id"]: 1})


def test_an_importer_draws_only_for_its_own_organisation(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    stranger = make.user("importer", org=license_importer(make))
    work = make.uow(stranger)
    with pytest.raises(Forbidden), work:
        svc.draw_down(work, permit_id, world["org"].id, {world["p1"]["id"]: 1}, TODAY)
    own = make.user("importer", org=world["org"])
    work = make.uow(own)
    with work:
        svc.draw_down(work, permit_id, world["org"].id, {world["p1"]["id"]: 1}, TODAY)
        work.commit()
    assert _used(make.session, permit_id) == [1]


def test_negative_packs_are_refused(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    with pytest.raises(d.ValidationFailed):
        _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: -1})


@pytest.mark.parametrize(("state", "on", "error"), [
    ("applied", TODAY, d.PermitNotApproved),
    ("refused", TODAY, d.PermitNotApproved),
    ("revoked", TODAY, d.PermitRevoked),
    ("approved", TODAY + timedelta(days=31), d.PermitExpired),
    ("approved", TODAY - timedelta(days=1), d.PermitNotYetValid),
])
def test_only_an_approved_permit_within_its_validity_is_drawn(make, world, state, on, error):
    org, line = world["org"].id, [(world["p1"]["id"], 100)]
    if state == "applied":
        permit_id = applied(make, org, line)
    else:
        permit_id = approved(make, org, line, valid_until=TODAY + timedelta(days=30)) if state != "refused" \
            else applied(make, org, line)
    if state == "refused":
        svc.refuse_permit(system(make.session), permit_id, "incomplete dossier")
    if state == "revoked":
        svc.revoke_permit(system(make.session), permit_id, "licence conditions breached")
    with pytest.raises(error):
        svc.check_permit_usable(make.session, permit_id, org, on)
    with pytest.raises(error):
        _draw(make.session, permit_id, org, {world["p1"]["id"]: 1}, on=on)
    assert _used(make.session, permit_id) == [0]


def test_the_early_check_returns_the_permit_and_writes_nothing(make, world):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    permit = svc.check_permit_usable(make.session, permit_id, world["org"].id, TODAY)
    assert isinstance(permit, ImportPermit) and permit.id == permit_id
    assert not make.session.dirty and not make.session.new


# ---------------------------------------------------------------- races (PostgreSQL)


def _race(engine, n_threads: int, act) -> list:
    """Run ``act(session)`` in threads, each with its own session, started together."""
    barrier = threading.Barrier(n_threads)
    results: list = [None] * n_threads

    def run(i: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            try:
                results[i] = act(session, i)
            except Exception as exc:  # the outcome is what the test inspects
                results[i] = exc
                session.rollback()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.postgres_only
def test_two_declarations_racing_for_the_last_packs_of_a_line_leave_one_winner(make, world):
    from pharma.extensions import db

    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    _draw(make.session, permit_id, world["org"].id, {world["p1"]["id"]: 90})

    def act(session, i):
        work = UnitOfWork(session, Actor.system("race"))
        with work:
            svc.draw_down(work, permit_id, world["org"].id, {world["p1"]["id"]: 10}, TODAY)
            threading.Event().wait(0.2)  # hold the row while the other one tries
            work.commit()
        return "ok"

    results = _race(db.engine, 2, act)
    assert sorted(map(type, results), key=str) == sorted([str, d.PermitQuantityExceeded], key=str), results
    loser = next(r for r in results if isinstance(r, Exception))
    assert loser.extra["packs_left"] == 0
    assert _used(make.session, permit_id) == [100]


@pytest.mark.postgres_only
def test_racing_drawdowns_over_split_lines_never_exceed_the_approval(make, world):
    from pharma.extensions import db

    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 25), (world["p2"]["id"], 5),
                                                 (world["p1"]["id"], 25)])

    def act(session, i):
        work = UnitOfWork(session, Actor.system("race"))
        with work:
            svc.draw_down(work, permit_id, world["org"].id, {world["p1"]["id"]: 7, world["p2"]["id"]: 1}, TODAY)
            work.commit()
        return "ok"

    results = _race(db.engine, 8, act)
    wins = [r for r in results if r == "ok"]
    assert all(r == "ok" or isinstance(r, d.PermitQuantityExceeded) for r in results), results
    assert len(wins) == 5  # p2 has 5 packs: the sixth declaration is refused
    assert _used(make.session, permit_id) == [25, 5, 10]


@pytest.mark.postgres_only
def test_applications_made_at_once_get_distinct_consecutive_numbers(make, world):
    from pharma.extensions import db

    def act(session, i):
        return svc.apply_for_permit(UnitOfWork(session, Actor.system("race")), svc.PermitApplication(
            requested_valid_until=TODAY + timedelta(days=90), importer_id=world["org"].id,
            lines=(svc.LineRequest(packs_requested=5, product_id=world["p1"]["id"]),))).number

    numbers = _race(db.engine, 6, act)
    assert sorted(numbers) == [d.format_number(TODAY.year, n) for n in range(1, 7)], numbers


@pytest.mark.postgres_only
def test_two_regulators_deciding_the_same_application_at_once_leave_one_decision(make, world):
    from pharma.extensions import db

    permit_id = applied(make, world["org"].id, [(world["p1"]["id"], 100)])

    def act(session, i):
        work = UnitOfWork(session, Actor.system("race"))
        if i == 0:
            return svc.approve_permit(work, permit_id, svc.Decision()).status
        return svc.refuse_permit(work, permit_id, "incomplete dossier").status

    results = _race(db.engine, 2, act)
    assert sum(isinstance(r, d.PermitNotApplied) for r in results) == 1, results
    make.session.expire_all()
    assert make.session.get(ImportPermit, permit_id).status in results
