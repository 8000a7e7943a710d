"""The one policy table: which role may do which action, and where it is scoped.

``any_org`` roles may act on any organisation's objects; ``own_org`` roles only on objects of
their own organisation. Services call ``authorize`` before they touch anything; the API and
pages only translate the refusal. Tests walk every role against every endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from pharma.parties.domain import Role
from pharma.shared.actor import Actor
from pharma.shared.errors import Forbidden

PEOPLE = frozenset(r.value for r in Role if r not in (Role.CASH_REGISTER,))
STAFF = PEOPLE - {Role.PATIENT.value}
EVERYONE = frozenset(r.value for r in Role)
R = Role


@dataclass(frozen=True)
class Rule:
    any_org: frozenset[str] = frozenset()
    own_org: frozenset[str] = frozenset()

    def roles(self) -> frozenset[str]:
        return self.any_org | self.own_org


def _r(*roles: Role) -> frozenset[str]:
    return frozenset(r.value for r in roles)


POLICY: dict[str, Rule] = {
    # register: everyone signed in reads; only the regulator writes
    "register.read": Rule(any_org=EVERYONE),
    "register.manage": Rule(any_org=_r(R.REGULATOR)),
    "register.price.manage": Rule(any_org=_r(R.REGULATOR)),
    # parties
    "parties.org.read": Rule(any_org=STAFF),  # the directory of licensed parties
    "parties.org.manage": Rule(any_org=_r(R.ADMIN, R.REGULATOR)),
    "parties.licence.manage": Rule(any_org=_r(R.REGULATOR)),
    "parties.location.manage": Rule(any_org=_r(R.ADMIN, R.REGULATOR)),
    "parties.user.read": Rule(any_org=_r(R.ADMIN), own_org=_r(R.HEAD_PHARMACIST)),
    "parties.user.manage": Rule(any_org=_r(R.ADMIN)),
    "parties.password.own": Rule(any_org=PEOPLE),
    "parties.token.own": Rule(any_org=STAFF),
    "parties.token.manage": Rule(any_org=_r(R.ADMIN)),
    "parties.device.read": Rule(any_org=_r(R.ADMIN, R.REGULATOR, R.INSPECTOR),
                                own_org=_r(R.HEAD_PHARMACIST, R.PHARMACIST)),
    "parties.device.manage": Rule(any_org=_r(R.ADMIN), own_org=_r(R.HEAD_PHARMACIST)),
    # import permits
    "permits.apply": Rule(own_org=_r(R.IMPORTER)),
    "permits.read": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR), own_org=_r(R.IMPORTER)),
    "permits.decide": Rule(any_org=_r(R.REGULATOR)),
    # traceability: declarations, custody, decommissioning, recalls, histories
    "trace.declare": Rule(own_org=_r(R.IMPORTER)),
    "trace.declaration.read": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR), own_org=_r(R.IMPORTER)),
    "trace.ship": Rule(own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    "trace.receive": Rule(own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    "trace.shipment.read": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR),
                                own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    "trace.decommission": Rule(any_org=_r(R.INSPECTOR),
                               own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    "trace.recall": Rule(any_org=_r(R.REGULATOR)),
    "trace.history.read": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR),
                               own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    # verification at the counter, alerts, labels
    "verify.scan": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR),
                        own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST, R.CASH_REGISTER)),
    "verify.alert.read": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR)),
    "verify.alert.manage": Rule(any_org=_r(R.REGULATOR)),
    "labels.draw": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR), own_org=_r(R.IMPORTER)),
    # stock: each location's ledger and balances; custodians keep their own, the agency reads all
    "stock.read": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR), own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    "stock.write": Rule(own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    "stock.count.write": Rule(own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    # the head of a pharmacy approves its counts; an importer (no head pharmacist) approves its own
    "stock.count.approve": Rule(own_org=_r(R.HEAD_PHARMACIST, R.IMPORTER)),
    "stock.finding.read": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR), own_org=_r(R.HEAD_PHARMACIST, R.IMPORTER)),
    "stock.finding.manage": Rule(any_org=_r(R.REGULATOR)),
    # write-off acts (drafted by staff, confirmed by the head pharmacist) and returns to the supplier
    "stock.act.write": Rule(own_org=_r(R.PHARMACIST, R.HEAD_PHARMACIST, R.IMPORTER)),
    "stock.act.confirm": Rule(own_org=_r(R.HEAD_PHARMACIST, R.IMPORTER)),
    "stock.return.write": Rule(own_org=_r(R.PHARMACIST, R.HEAD_PHARMACIST)),
    "stock.return.confirm": Rule(own_org=_r(R.IMPORTER)),  # the supplier the return goes to
    "stock.expiry.manage": Rule(own_org=_r(R.IMPORTER, R.PHARMACIST, R.HEAD_PHARMACIST)),
    "stock.price.manage": Rule(own_org=_r(R.HEAD_PHARMACIST, R.IMPORTER)),  # retail, shipment, import prices
    "stock.valuation.manage": Rule(own_org=_r(R.HEAD_PHARMACIST, R.IMPORTER)),  # the valuation method
    # supply requests: the pharmacy keeps levels and requests stock; the importer sees what is addressed to it
    "supply.levels.write": Rule(own_org=_r(R.PHARMACIST, R.HEAD_PHARMACIST)),
    "supply.request.write": Rule(own_org=_r(R.PHARMACIST, R.HEAD_PHARMACIST)),
    "supply.request.read": Rule(any_org=_r(R.REGULATOR, R.INSPECTOR),
                                own_org=_r(R.PHARMACIST, R.HEAD_PHARMACIST, R.IMPORTER)),
    "supply.request.fulfil": Rule(own_org=_r(R.IMPORTER)),
    # audit log
    "audit.read": Rule(any_org=_r(R.REGULATOR, R.ADMIN)),
}


def allowed(actor: Actor, action: str, org_id: int | None = None) -> bool:
    if actor.is_system:
        return True
    rule = POLICY[action]
    if actor.roles & rule.any_org:
        return True
    if actor.roles & rule.own_org:
        return org_id is None or org_id == actor.org_id
    return False


def authorize(actor: Actor, action: str, org_id: int | None = None) -> None:
    """Raise Forbidden unless the policy table lets this actor do this action here."""
    if action not in POLICY:
        raise KeyError(f"action {action!r} is not in the policy table")
    if not allowed(actor, action, org_id):
        raise Forbidden(f"Your role may not do '{action}' here.")


def scoped_org(actor: Actor, action: str) -> int | None:
    """The organisation a listing must be limited to, or None when the actor sees all."""
    authorize(actor, action)
    if actor.is_system or actor.roles & POLICY[action].any_org:
        return None
    return actor.org_id
