"""``pharma fixtures load``: the reference register and the demo, loaded in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass
class LoadReport:
    counts: dict[str, int] = field(default_factory=dict)
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return "fixtures already loaded; nothing changed"
        return "loaded " + ", ".join(f"{v} {k}" for k, v in self.counts.items())


def load_all(if_empty: bool = False, session=None, directory: Path = FIXTURES, register_only: bool = False
             ) -> LoadReport:
    """Load organisations, the product register, ICD-10 codes, demo users, permits and packs; all or
    nothing."""
    from pharma.extensions import db
    from pharma.parties import fixtures as parties
    from pharma.parties.models import Organisation
    from pharma.permits import fixtures as permits
    from pharma.register import fixtures as register
    from pharma.register.models import Product
    from pharma.stock.fixtures import load_stock_demo
    from pharma.trace import fixtures as trace
    from pharma.verify.fixtures import load_verify_demo

    session = session or db.session
    marker = Product if register_only else Organisation
    if if_empty and session.scalar(select(func.count()).select_from(marker)):
        return LoadReport(skipped=True)
    report = LoadReport()
    try:
        if not register_only:
            report.counts.update(parties.load_organisations(session, directory / "parties" / "organisations.json"))
        report.counts.update(register.load_register(session, directory / "register" / "products.json"))
        report.counts.update(register.load_icd10(session, directory / "icd10.csv"))
        if not register_only:
            report.counts.update(parties.load_demo_users(session))
            report.counts.update(permits.load_permits(session))
            report.counts.update(trace.load_trace_demo(session))
            report.counts.update(load_verify_demo(session))
            report.counts.update(load_stock_demo(session))
        UnitOfWork(session, Actor.system("fixtures")).audit(
            "fixtures.load", "database", "fixtures", {"directory": directory.name, **report.counts})
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report
