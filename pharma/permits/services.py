"""Use cases of import permits: apply, approve, refuse, revoke, read, utilisation, and the
drawdown that accepted declarations make in their own transaction."""

from __future__ import annotations

import hmac
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from pharma.parties.models import Licence, Organisation
from pharma.parties.policy import authorize, scoped_org
from pharma.parties.services import licence_in_force
from pharma.permits import domain as d
from pharma.permits.models import ImportPermit, PermitLine, PermitNumberCounter
from pharma.register.domain import in_force
from pharma.register.models import Certificate, Product, ProductGtin
from pharma.shared.errors import NotFound, ValidationFailed
from pharma.shared.identifiers import Gtin
from pharma.shared.schemas import Page, paginate
from pharma.shared.time import today as utc_today
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork

IMPORTING_ORG_TYPES = ("importer", "wholesaler")
IMPORT_LICENCE = "import"

# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class LineRequest:
    """One line of an application: the product by id or GTIN; manufacturer and country of origin
    default to those on the product's registration certificate."""

    packs_requested: int
    product_id: int | None = None
    gtin: str | None = None
    manufacturer: str | None = None
    country_of_origin: str | None = None


@dataclass(frozen=True)
class PermitApplication:
    requested_valid_until: date
    lines: tuple[LineRequest, ...]
    importer_id: int | None = None  # the caller's organisation unless given (the system's loaders)


@dataclass(frozen=True)
class Decision:
    """An approval: packs per line id (lines left out are approved as requested) and validity."""

    packs: dict[int, int] | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PermitQuery:
    status: str | None = None  # APPLIED, APPROVED (in force), EXPIRED, REFUSED, REVOKED
    importer_id: int | None = None
    product_id: int | None = None
    number: str | None = None
    applied_from: date | None = None
    applied_to: date | None = None
    valid_on: date | None = None
    oldest_first: bool = False
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class UtilisationQuery:
    importer_id: int | None = None
    product_id: int | None = None
    status: str | None = None  # APPROVED (in force), EXPIRED or REVOKED; all three when None
    page: int = 1
    per_page: int = 25


# ---------------------------------------------------------------- results


@dataclass
class Usage:
    approved: int = 0
    used: int = 0

    @property
    def left(self) -> int:
        return self.approved - self.used

    @property
    def percent(self) -> int:
        return d.percent(self.used, self.approved)


@dataclass
class LineUsage(Usage):
    line_id: int = 0
    product_id: int = 0
    trade_name: str = ""


@dataclass
class PermitUsage(Usage):
    permit: ImportPermit | None = None
    lines: list[LineUsage] = field(default_factory=list)


@dataclass
class GroupUsage(Usage):
    id: int = 0
    name: str = ""


@dataclass
class Utilisation:
    page: Page  # of PermitUsage
    by_importer: list[GroupUsage]
    by_product: list[GroupUsage]
    total: Usage


# ---------------------------------------------------------------- acts


def apply_for_permit(uow: UnitOfWork, cmd: PermitApplication) -> ImportPermit:
    """An importer or wholesaler with an import licence in force applies for registered products."""
    importer_id = cmd.importer_id if cmd.importer_id is not None else uow.actor.org_id
    authorize(uow.actor, "permits.apply", importer_id)
    if importer_id is None:
        raise ValidationFailed({"importer_id": ["Say which importer applies."]})
    day = utc_today()
    d.check_requested_validity(cmd.requested_valid_until, day)
    d.check_line_count(len(cmd.lines))
    for i, line in enumerate(cmd.lines):
        _check_line_shape(line, i)
    with uow:
        importer = _importer(uow.session, importer_id)
        _check_import_licence(uow.session, importer, day)
        lines = [_new_line(uow.session, line, i, day) for i, line in enumerate(cmd.lines)]
        permit = ImportPermit(number=next_number(uow.session, day.year), importer_id=importer.id,
                              status=d.PermitStatus.APPLIED.value,
                              requested_valid_until=cmd.requested_valid_until, applied_at=utcnow(),
                              applied_by=uow.actor.user_id, lines=lines)
        uow.session.add(permit)
        uow.session.flush()
        uow.audit("permit.apply", "import_permit", permit.id, {"number": permit.number, "after": _state(permit)})
        uow.commit()
    return permit


def approve_permit(uow: UnitOfWork, permit_id: int, cmd: Decision) -> ImportPermit:
    """Approve an application, possibly for fewer packs and a shorter validity than requested;
    the importer's licence and each product's registration must still be in force."""
    authorize(uow.actor, "permits.decide")
    day = utc_today()
    with uow:
        permit = _for_update(uow.session, permit_id)
        d.check_decidable(permit.status, permit.number)
        plan = d.plan_approval({line.id: line.packs_requested for line in permit.lines}, cmd.packs,
                               permit.requested_valid_until, cmd.valid_from, cmd.valid_until, day)
        _check_import_licence(uow.session, permit.importer, day)
        for i, line in enumerate(permit.lines):
            _check_importable(uow.session, line.product, f"lines.{i}", day)
        before = _state(permit)
        permit.status = d.PermitStatus.APPROVED.value
        permit.valid_from, permit.valid_until = plan.valid_from, plan.valid_until
        for line in permit.lines:
            line.packs_approved = plan.packs[line.id]
        _decided(uow, permit, (cmd.reason or "").strip()[:500] or None)
        uow.audit("permit.approve", "import_permit", permit.id,
                  {"number": permit.number, "before": before, "after": _state(permit)})
        uow.commit()
    return permit


def refuse_permit(uow: UnitOfWork, permit_id: int, reason: str) -> ImportPermit:
    """Refuse an application, with the reason the importer will read."""
    authorize(uow.actor, "permits.decide")
    text = d.require_reason(reason)
    with uow:
        permit = _for_update(uow.session, permit_id)
        d.check_decidable(permit.status, permit.number)
        before = _state(permit)
        permit.status = d.PermitStatus.REFUSED.value
        _decided(uow, permit, text)
        uow.audit("permit.refuse", "import_permit", permit.id,
                  {"number": permit.number, "before": before, "after": _state(permit)})
        uow.commit()
    return permit


def revoke_permit(uow: UnitOfWork, permit_id: int, reason: str) -> ImportPermit:
    """Revoke an approved permit for good: no further packs may be declared against it."""
    authorize(uow.actor, "permits.decide")
    text = d.require_reason(reason)
    with uow:
        permit = _for_update(uow.session, permit_id)
        d.check_revocable(permit.status, permit.number)
        before = _state(permit)
        permit.status = d.PermitStatus.REVOKED.value
        permit.revoked_at = utcnow()
        permit.revoke_reason = text
        uow.audit("permit.revoke", "import_permit", permit.id,
                  {"number": permit.number, "before": before, "after": _state(permit)})
        uow.commit()
    return permit


# ---------------------------------------------------------------- reading


def get_permit(uow: UnitOfWork, permit_id: int) -> ImportPermit:
    """One permit with its lines; an importer sees only its own."""
    authorize(uow.actor, "permits.read")
    permit = uow.session.scalar(select(ImportPermit).where(ImportPermit.id == permit_id).options(*_LOAD))
    if permit is None:
        raise NotFound(f"No permit with id {permit_id}.")
    authorize(uow.actor, "permits.read", permit.importer_id)
    return permit


def list_permits(uow: UnitOfWork, query: PermitQuery) -> Page:
    """Permits by status, importer, product, number and dates; an importer sees only its own."""
    org = scoped_org(uow.actor, "permits.read")
    day = utc_today()
    order = ImportPermit.applied_at.asc() if query.oldest_first else ImportPermit.applied_at.desc()
    stmt = select(ImportPermit).options(*_LOAD).order_by(order, ImportPermit.id)
    if org is not None:
        stmt = stmt.where(ImportPermit.importer_id == org)
    if query.status:
        stmt = stmt.where(_status_is(query.status, day))
    if query.importer_id is not None:
        stmt = stmt.where(ImportPermit.importer_id == query.importer_id)
    if query.product_id is not None:
        stmt = stmt.where(exists().where(PermitLine.permit_id == ImportPermit.id,
                                         PermitLine.product_id == query.product_id))
    if query.number:
        stmt = stmt.where(ImportPermit.number == query.number.strip().upper())
    if query.applied_from:
        stmt = stmt.where(ImportPermit.applied_at >= _start_of(query.applied_from))
    if query.applied_to:
        stmt = stmt.where(ImportPermit.applied_at < _start_of(query.applied_to + timedelta(days=1)))
    if query.valid_on:
        stmt = stmt.where(ImportPermit.status == d.PermitStatus.APPROVED.value,
                          ImportPermit.valid_from <= query.valid_on, ImportPermit.valid_until >= query.valid_on)
    return paginate(uow.session, stmt, query.page, query.per_page)


def permit_utilisation(uow: UnitOfWork, query: UtilisationQuery) -> Utilisation:
    """Approved, used and left packs per permit and line, with totals per importer and product."""
    org = scoped_org(uow.actor, "permits.read")
    day = utc_today()
    statuses = [query.status] if query.status else ["APPROVED", "EXPIRED", "REVOKED"]
    where = [or_(*(_status_is(s, day) for s in statuses))]
    if org is not None:
        where.append(ImportPermit.importer_id == org)
    if query.importer_id is not None:
        where.append(ImportPermit.importer_id == query.importer_id)
    line_where = list(where)
    if query.product_id is not None:
        line_where.append(PermitLine.product_id == query.product_id)
        where.append(exists().where(PermitLine.permit_id == ImportPermit.id,
                                    PermitLine.product_id == query.product_id))
    stmt = (select(ImportPermit).options(*_LOAD).where(*where)
            .order_by(ImportPermit.valid_until.desc(), ImportPermit.id.desc()))
    page = paginate(uow.session, stmt, query.page, query.per_page)
    page.items = [_permit_usage(p, query.product_id) for p in page.items]
    sums = (func.coalesce(func.sum(PermitLine.packs_approved), 0), func.coalesce(func.sum(PermitLine.packs_used), 0))
    joined = select().select_from(PermitLine).join(ImportPermit, ImportPermit.id == PermitLine.permit_id)
    by_importer = [GroupUsage(approved=a, used=u, id=i, name=n) for i, n, a, u in uow.session.execute(
        joined.add_columns(Organisation.id, Organisation.name, *sums)
        .join(Organisation, Organisation.id == ImportPermit.importer_id)
        .where(*line_where).group_by(Organisation.id, Organisation.name).order_by(Organisation.name))]
    by_product = [GroupUsage(approved=a, used=u, id=i, name=n) for i, n, a, u in uow.session.execute(
        joined.add_columns(Product.id, Product.trade_name, *sums)
        .join(Product, Product.id == PermitLine.product_id)
        .where(*line_where).group_by(Product.id, Product.trade_name).order_by(Product.trade_name))]
    total = Usage(approved=sum(g.approved for g in by_importer), used=sum(g.used for g in by_importer))
    return Utilisation(page, by_importer, by_product, total)


def permit_document(uow: UnitOfWork, permit_id: int, verify_url: str) -> bytes:
    """The permit as a PDF document, for printing and for customs."""
    permit = get_permit(uow, permit_id)
    from pharma.permits.pdf import render_permit

    agency = uow.session.scalars(select(Organisation.name).where(Organisation.type == "agency")
                                 .order_by(Organisation.id).limit(1)).first()
    query = urlencode({"number": permit.number, "code": verification_code(permit)})
    return render_permit(permit, agency, f"{verify_url}?{query}", verification_code(permit), utc_today())


def verification_code(permit: ImportPermit) -> str:
    facts = [permit.number, str(permit.importer_id), str(permit.valid_from), str(permit.valid_until)]
    facts += [f"{line.product_id}:{line.packs_approved}" for line in permit.lines]
    return d.verification_code(facts, current_app.secret_key.encode())


def verify_permit(session: Session, number: str, code: str) -> ImportPermit | None:
    """Public, no sign-in: a printed permit checks out when its number and code both match; the
    answer then shows the permit's current status. Nothing is shown for a wrong pair."""
    permit = session.scalar(select(ImportPermit).where(ImportPermit.number == number.strip().upper())
                            .options(*_LOAD))
    if permit is None or not hmac.compare_digest(verification_code(permit), code.strip().upper()):
        return None
    return permit


def importing_organisations(uow: UnitOfWork) -> list[Organisation]:
    """Organisations that hold permits, for filters; an importer gets only its own."""
    org = scoped_org(uow.actor, "permits.read")
    stmt = (select(Organisation).where(exists().where(ImportPermit.importer_id == Organisation.id))
            .order_by(Organisation.name))
    if org is not None:
        stmt = stmt.where(Organisation.id == org)
    return list(uow.session.scalars(stmt))


def permitted_products(uow: UnitOfWork) -> list[Product]:
    """Products that appear on permits the caller may see, for filters."""
    org = scoped_org(uow.actor, "permits.read")
    lines = select(PermitLine.product_id).join(ImportPermit, ImportPermit.id == PermitLine.permit_id)
    if org is not None:
        lines = lines.where(ImportPermit.importer_id == org)
    return list(uow.session.scalars(select(Product).where(Product.id.in_(lines)).order_by(Product.trade_name)))


# ---------------------------------------------------------------- drawdown (declarations)


def check_permit_usable(session: Session, permit_id: int, importer_id: int, on: date) -> ImportPermit:
    """Early check, writing nothing: the permit exists, is ``importer_id``'s, approved, not revoked,
    and valid on ``on``. Raises the permit's named error; returns the permit."""
    return _usable(session, permit_id, importer_id, on, lock=False)


def draw_down(uow: UnitOfWork, permit_id: int, importer_id: int, packs_by_product: dict[int, int],
              on: date) -> None:
    """Draw ``packs_by_product`` ({product id: packs}) from the permit's lines, for a declaration
    of ``importer_id`` arriving ``on``. Runs in the caller's transaction and does NOT commit: call
    it in the same transaction that commissions the packs, then commit or roll back.

    Checks the permit as ``check_permit_usable`` does (holding a share lock on it, so a revocation
    waits for this transaction) and that every product is on it; each line then takes its packs
    with an atomic ``UPDATE ... WHERE packs_used + n <= packs_approved``, so two declarations
    racing for the last packs cannot both win. A product on several lines fills them in line
    order. Raises PERMIT_QUANTITY_EXCEEDED (with ``product_id`` and ``packs_left``) when a product
    has fewer packs left than declared; the caller's rollback then undoes any line already drawn.
    """
    authorize(uow.actor, "trace.declare", importer_id)
    wanted: dict[int, int] = {}
    for product_id, packs in packs_by_product.items():
        if not isinstance(packs, int) or isinstance(packs, bool) or packs < 0:
            raise ValidationFailed({f"packs.{product_id}": ["Declare zero or more whole packs."]})
        if packs:
            wanted[product_id] = packs
    session = uow.session
    permit = _usable(session, permit_id, importer_id, on, lock=True)
    lines: dict[int, list[int]] = defaultdict(list)
    for line_id, product_id in session.execute(
            select(PermitLine.id, PermitLine.product_id).where(PermitLine.permit_id == permit.id)
            .order_by(PermitLine.id)):
        lines[product_id].append(line_id)
    missing = sorted(p for p in wanted if p not in lines)
    if missing:
        names = ", ".join(_product_name(session, p) for p in missing)
        raise d.ProductNotOnPermit(f"Permit {permit.number} does not cover {names}.", product_ids=missing)
    table = PermitLine.__table__
    touched: list[int] = []
    # products in the order of their first line: concurrent drawdowns lock lines in one order
    for product_id in sorted(wanted, key=lambda p: lines[p][0]):
        packs, ids = wanted[product_id], lines[product_id]
        if len(ids) == 1:
            plan = [(ids[0], packs)]
        else:
            left = session.execute(
                select(table.c.id, table.c.packs_approved - table.c.packs_used)
                .where(table.c.id.in_(ids)).order_by(table.c.id).with_for_update()).all()
            plan = d.allocate([(i, n) for i, n in left], packs)
            if plan is None:
                raise _exceeded(session, permit, product_id, ids, packs)
        for line_id, take in plan:
            result = session.execute(
                update(table).where(table.c.id == line_id, table.c.packs_used + take <= table.c.packs_approved)
                .values(packs_used=table.c.packs_used + take))
            if result.rowcount != 1:
                raise _exceeded(session, permit, product_id, ids, packs)
            touched.append(line_id)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, PermitLine) and obj.id in touched:
            session.expire(obj, ["packs_used"])


# ---------------------------------------------------------------- helpers

_LOAD = (selectinload(ImportPermit.lines).selectinload(PermitLine.product).selectinload(Product.gtins),
         selectinload(ImportPermit.importer))


def _check_line_shape(line: LineRequest, i: int) -> None:
    if (line.product_id is None) == (line.gtin is None or line.gtin == ""):
        raise ValidationFailed({f"lines.{i}.product_id": ["Give the product's id or one of its GTINs."]})
    d.check_packs_requested(line.packs_requested, f"lines.{i}.packs_requested")
    if line.gtin:
        Gtin.parse(line.gtin, f"lines.{i}.gtin")
    country = line.country_of_origin
    if country is not None and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise ValidationFailed({f"lines.{i}.country_of_origin": ["Use the two-letter ISO 3166 country code."]})
    if line.manufacturer is not None and not 2 <= len(line.manufacturer.strip()) <= 200:
        raise ValidationFailed({f"lines.{i}.manufacturer": ["Give the manufacturer's name (2 to 200 characters)."]})


def _new_line(session: Session, line: LineRequest, i: int, day: date) -> PermitLine:
    if line.gtin:
        gtin = Gtin.parse(line.gtin, f"lines.{i}.gtin").value
        product = session.scalar(select(Product).join(ProductGtin).where(ProductGtin.gtin == gtin))
        if product is None:
            raise ValidationFailed({f"lines.{i}.gtin": [f"GTIN {gtin} is not in the register."]})
    else:
        product = session.get(Product, line.product_id)
        if product is None:
            raise ValidationFailed({f"lines.{i}.product_id": [f"No product with id {line.product_id}."]})
    cert = _check_importable(session, product, f"lines.{i}", day)
    return PermitLine(product_id=product.id,
                      manufacturer=(line.manufacturer or cert.manufacturer).strip()[:200],
                      country_of_origin=(line.country_of_origin or cert.country).upper(),
                      packs_requested=line.packs_requested, packs_approved=0, packs_used=0)


def _check_importable(session: Session, product: Product, where: str, day: date) -> Certificate:
    """A product may be imported while it is not withdrawn and its certificate is in force."""
    if product.withdrawn_at is not None:
        raise d.ProductWithdrawn(f"{product.trade_name} is withdrawn from the market.", product_id=product.id,
                                 field=where)
    cert = session.scalar(select(Certificate).where(Certificate.product_id == product.id))
    if cert is None or not in_force(cert.status, cert.valid_until, day):
        state = "has no registration certificate" if cert is None else \
            f"has a {cert.status} certificate (valid until {cert.valid_until.isoformat()})"
        raise d.ProductNotInForce(f"{product.trade_name} {state}.", product_id=product.id, field=where)
    return cert


def _importer(session: Session, importer_id: int) -> Organisation:
    org = session.get(Organisation, importer_id)
    if org is None:
        raise NotFound(f"No organisation with id {importer_id}.")
    return org


def _check_import_licence(session: Session, org: Organisation, day: date) -> None:
    if org.type not in IMPORTING_ORG_TYPES or not org.active:
        raise d.NoImportLicence(f"{org.name} is not an active importer or wholesaler.")
    licences = session.scalars(select(Licence).where(Licence.organisation_id == org.id,
                                                     Licence.kind == IMPORT_LICENCE))
    if not any(licence_in_force(lic, day) for lic in licences):
        raise d.NoImportLicence(f"{org.name} holds no import licence in force on {day.isoformat()}.")


def next_number(session: Session, year: int) -> str:
    """The year's next number: the counter row's UPDATE holds its lock until commit (no max()+1)."""
    table = PermitNumberCounter.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).values(year=year, last=0).on_conflict_do_nothing(index_elements=["year"]))
    sequence = session.execute(update(table).where(table.c.year == year).values(last=table.c.last + 1)
                               .returning(table.c.last)).scalar_one()
    return d.format_number(year, sequence)


def _for_update(session: Session, permit_id: int) -> ImportPermit:
    permit = session.get(ImportPermit, permit_id, with_for_update=True, populate_existing=True)
    if permit is None:
        raise NotFound(f"No permit with id {permit_id}.")
    return permit


def _usable(session: Session, permit_id: int, importer_id: int, on: date, lock: bool) -> ImportPermit:
    stmt = select(ImportPermit).where(ImportPermit.id == permit_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update(read=True)
    permit = session.scalar(stmt)
    if permit is None:
        raise NotFound(f"No permit with id {permit_id}.")
    if permit.importer_id != importer_id:
        raise d.PermitNotOwned(f"Permit {permit.number} was issued to another importer.")
    d.check_usable(permit.status, permit.number, permit.valid_from, permit.valid_until, on)
    _check_import_licence(session, permit.importer, on)  # a licence suspended since the approval stops imports
    return permit


def _exceeded(session: Session, permit: ImportPermit, product_id: int, ids: list[int], packs: int):
    left = session.scalar(select(func.coalesce(func.sum(PermitLine.packs_approved - PermitLine.packs_used), 0))
                          .where(PermitLine.id.in_(ids)))
    name = _product_name(session, product_id)
    return d.PermitQuantityExceeded(
        f"Permit {permit.number} has {left} packs of {name} left; {packs} were declared.",
        product_id=product_id, packs_left=left, packs_declared=packs)


def _product_name(session: Session, product_id: int) -> str:
    name = session.scalar(select(Product.trade_name).where(Product.id == product_id))
    return f"{name} (product {product_id})" if name else f"product {product_id}"


def _decided(uow: UnitOfWork, permit: ImportPermit, reason: str | None) -> None:
    permit.decided_at = utcnow()
    permit.decided_by = uow.actor.user_id
    permit.decision_reason = reason


def _state(permit: ImportPermit) -> dict:
    return {"status": permit.status, "requested_valid_until": permit.requested_valid_until,
            "valid_from": permit.valid_from, "valid_until": permit.valid_until,
            "decision_reason": permit.decision_reason, "revoke_reason": permit.revoke_reason,
            "lines": [{"id": line.id, "product_id": line.product_id, "requested": line.packs_requested,
                       "approved": line.packs_approved, "used": line.packs_used} for line in permit.lines]}


def _status_is(status: str, day: date):
    s = d.PermitStatus(status)
    if s is d.PermitStatus.EXPIRED:
        return and_(ImportPermit.status == "APPROVED", ImportPermit.valid_until < day)
    if s is d.PermitStatus.APPROVED:
        return and_(ImportPermit.status == "APPROVED", ImportPermit.valid_until >= day)
    return ImportPermit.status == s.value


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _permit_usage(permit: ImportPermit, product_id: int | None) -> PermitUsage:
    lines = [LineUsage(approved=line.packs_approved, used=line.packs_used, line_id=line.id,
                       product_id=line.product_id, trade_name=line.product.trade_name)
             for line in permit.lines if product_id is None or line.product_id == product_id]
    return PermitUsage(approved=sum(x.approved for x in lines), used=sum(x.used for x in lines),
                       permit=permit, lines=lines)
