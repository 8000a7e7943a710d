"""Use cases of the product register: register and amend products, act on their certificates,
set regulated prices, search and look up by GTIN, expire certificates past their date."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from pharma.parties.policy import authorize
from pharma.register import domain as d
from pharma.register.models import (
    Certificate,
    CertificateStatusChange,
    Icd10Code,
    PriceRecord,
    Product,
    ProductGtin,
    ProductSubstance,
    Substance,
)
from pharma.shared.errors import Conflict, InvalidIdentifier, NotFound, ValidationFailed
from pharma.shared.identifiers import Gtin
from pharma.shared.schemas import Page, paginate
from pharma.shared.time import today as utc_today
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork

# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class SubstanceLine:
    inn: str
    strength: str  # "875 mg"


@dataclass(frozen=True)
class NewCertificate:
    number: str
    holder: str
    manufacturer: str
    country: str
    issued: date
    valid_until: date


@dataclass(frozen=True)
class NewProduct:
    trade_name: str
    substances: tuple[SubstanceLine, ...]
    atc_code: str
    dosage_form: str
    route: str
    pack_size: int
    pack_unit: str
    gtins: tuple[str, ...]
    rx: bool
    certificate: NewCertificate
    controlled_schedule: str | None = None
    max_retail_price: int | None = None
    price_from: date | None = None


AMENDABLE = ("trade_name", "atc_code", "dosage_form", "route", "pack_size", "pack_unit", "rx",
             "controlled_schedule")
CERTIFICATE_AMENDABLE = ("holder", "manufacturer", "country")


@dataclass(frozen=True)
class ProductChanges:
    """Only the fields given change; ``add_gtins`` adds GTINs (a GTIN is never taken away)."""

    reason: str
    values: dict = field(default_factory=dict)  # names from AMENDABLE and CERTIFICATE_AMENDABLE
    substances: tuple[SubstanceLine, ...] | None = None
    add_gtins: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewPrice:
    max_retail_price: int
    effective_from: date
    effective_to: date | None = None
    reason: str = ""


@dataclass(frozen=True)
class ProductQuery:
    q: str = ""
    status: str | None = None
    rx: bool | None = None
    dosage_form: str | None = None
    controlled: bool | None = None
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class GtinLookup:
    """What a scan needs to know about a GTIN, read in one indexed query."""

    gtin: str
    product_id: int
    trade_name: str
    atc_code: str
    dosage_form: str
    pack_size: int
    pack_unit: str
    rx: bool
    controlled_schedule: str | None
    certificate_id: int | None
    certificate_number: str | None
    certificate_status: str | None
    valid_until: date | None
    max_retail_price: int | None

    @property
    def in_force(self) -> bool:
        return (self.certificate_status is not None
                and d.in_force(self.certificate_status, self.valid_until, utc_today()))


# ---------------------------------------------------------------- registering and amending


def register_product(uow: UnitOfWork, cmd: NewProduct) -> Product:
    """Enter a product with its certificate, GTINs and (optionally) its first maximum price."""
    authorize(uow.actor, "register.manage")
    facts = check_facts({k: getattr(cmd, k) for k in AMENDABLE})
    lines = _parse_lines(cmd.substances)
    gtins = _parse_gtins(cmd.gtins, "gtins")
    if not gtins:
        raise ValidationFailed({"gtins": ["At least one GTIN is needed."]})
    cert = cmd.certificate
    _check_certificate(cert)
    with uow:
        product = Product(**facts)
        product.substances = _substance_rows(uow.session, lines)
        product.gtins = [ProductGtin(gtin=g) for g in gtins]
        uow.session.add(product)
        _flush_unique(uow, gtins, cert.number)
        certificate = Certificate(product_id=product.id, number=cert.number.strip(), holder=cert.holder.strip(),
                                  manufacturer=cert.manufacturer.strip(), country=cert.country.upper(),
                                  issued_on=cert.issued, valid_until=cert.valid_until,
                                  status=d.CertificateStatus.ACTIVE.value)
        uow.session.add(certificate)
        _flush_unique(uow, gtins, cert.number)
        _history(uow, certificate, d.Transition("register", None, certificate.status, "Registered",
                                                certificate.valid_until))
        uow.audit("product.register", "product", product.id, {"after": _snapshot(product, certificate)})
        if cmd.max_retail_price is not None:
            _add_price(uow, product, NewPrice(cmd.max_retail_price, cmd.price_from or utc_today()))
        uow.commit()
    return product


def amend_product(uow: UnitOfWork, product_id: int, cmd: ProductChanges) -> Product:
    """Correct or update a product's facts; the audit entry keeps before and after."""
    authorize(uow.actor, "register.manage")
    reason = d.require_reason(cmd.reason)
    unknown = set(cmd.values) - set(AMENDABLE) - set(CERTIFICATE_AMENDABLE)
    if unknown:
        raise ValidationFailed({k: ["This field cannot be amended."] for k in sorted(unknown)})
    gtins = _parse_gtins(cmd.add_gtins, "add_gtins")
    lines = _parse_lines(cmd.substances) if cmd.substances is not None else None
    with uow:
        product = _product_for_update(uow.session, product_id)
        cert = product.certificate
        if cert is not None and cert.status == d.CertificateStatus.REVOKED.value:
            raise d.CertificateRevoked("The product's certificate is revoked; its record is closed.")
        before = _snapshot(product, cert)
        merged = {k: getattr(product, k) for k in AMENDABLE}
        merged.update({k: v for k, v in cmd.values.items() if k in AMENDABLE})
        facts = check_facts(merged)
        for key, value in facts.items():
            if getattr(product, key) != value:
                setattr(product, key, value)
        if cert is not None:
            for key in CERTIFICATE_AMENDABLE:
                if key in cmd.values:
                    value = cmd.values[key].strip()
                    setattr(cert, key, value.upper() if key == "country" else value)
        if lines is not None:
            product.substances.clear()
            uow.session.flush()
            product.substances.extend(_substance_rows(uow.session, lines))
        for g in gtins:
            if g not in {row.gtin for row in product.gtins}:
                product.gtins.append(ProductGtin(gtin=g))
        _flush_unique(uow, gtins, None)
        after = _snapshot(product, cert)
        changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if not changed:
            return product  # nothing to change: no write, no audit entry
        uow.audit("product.amend", "product", product.id, {"changed": changed, "reason": reason})
        uow.commit()
    return product


# ---------------------------------------------------------------- certificate acts


def suspend_certificate(uow: UnitOfWork, certificate_id: int, reason: str) -> Certificate:
    """Suspend an active certificate: its packs may not be sold until reinstated."""
    return _transition(uow, certificate_id, lambda s: s.suspend(reason))


def reinstate_certificate(uow: UnitOfWork, certificate_id: int, reason: str) -> Certificate:
    """Lift a suspension; a certificate past its date comes back as expired."""
    return _transition(uow, certificate_id, lambda s: s.reinstate(reason, utc_today()))


def revoke_certificate(uow: UnitOfWork, certificate_id: int, reason: str) -> Certificate:
    """Revoke a certificate for good: it can never be reinstated or renewed."""
    return _transition(uow, certificate_id, lambda s: s.revoke(reason))


def renew_certificate(uow: UnitOfWork, certificate_id: int, valid_until: date, reason: str) -> Certificate:
    """Extend a certificate's validity; an expired certificate renewed becomes active again."""
    return _transition(uow, certificate_id, lambda s: s.renew(valid_until, reason, utc_today()))


def _transition(uow: UnitOfWork, certificate_id: int, act) -> Certificate:
    authorize(uow.actor, "register.manage")
    with uow:
        cert = uow.session.get(Certificate, certificate_id, with_for_update=True, populate_existing=True)
        if cert is None:
            raise NotFound(f"No certificate with id {certificate_id}.")
        change = act(d.CertificateState.of(cert.status, cert.valid_until))
        before = {"status": cert.status, "valid_until": cert.valid_until}
        _apply(uow, cert, change)
        uow.audit(f"certificate.{change.action}", "certificate", cert.id,
                  {"number": cert.number, "before": before,
                   "after": {"status": cert.status, "valid_until": cert.valid_until},
                   "reason": change.reason})
        uow.commit()
    return cert


def _apply(uow: UnitOfWork, cert: Certificate, change: d.Transition) -> None:
    if cert.status != change.to_status:
        cert.status_changed_at = utcnow()
    cert.status = change.to_status
    cert.valid_until = change.valid_until
    _history(uow, cert, change)


def _history(uow: UnitOfWork, cert: Certificate, change: d.Transition) -> None:
    uow.session.add(CertificateStatusChange(
        certificate=cert, action=change.action, from_status=change.from_status,
        to_status=change.to_status, valid_until=change.valid_until, reason=change.reason,
        user_id=uow.actor.user_id, username=uow.actor.username or ""))


def expire_certificates(uow: UnitOfWork, on: date | None = None) -> int:
    """Mark active certificates whose validity ended before ``on`` (today) as expired; safe to rerun."""
    authorize(uow.actor, "register.manage")
    day = on or utc_today()
    with uow:
        due = list(uow.session.scalars(
            select(Certificate)
            .where(Certificate.status == d.CertificateStatus.ACTIVE.value, Certificate.valid_until < day)
            .order_by(Certificate.id)
            .with_for_update(skip_locked=True)))
        for cert in due:
            change = d.CertificateState.of(cert.status, cert.valid_until).expire(day)
            if change is not None:
                _apply(uow, cert, change)
        if due:
            uow.audit("certificate.expire", "certificate", "*",
                      {"on": day, "numbers": [c.number for c in due][:1000]}, count=len(due))
        uow.commit()
    return len(due)


# ---------------------------------------------------------------- prices


def set_max_price(uow: UnitOfWork, product_id: int, cmd: NewPrice) -> PriceRecord:
    """Set a regulated maximum retail price from a date; the open period before it closes."""
    authorize(uow.actor, "register.price.manage")
    with uow:
        product = _product_for_update(uow.session, product_id)
        record = _add_price(uow, product, cmd)
        uow.commit()
    return record


def _add_price(uow: UnitOfWork, product: Product, cmd: NewPrice) -> PriceRecord:
    new = d.PricePeriod(cmd.max_retail_price, cmd.effective_from, cmd.effective_to)
    existing = [d.PricePeriod(p.max_retail_price, p.effective_from, p.effective_to, p) for p in product.prices]
    closed = d.plan_price(existing, new)
    for period in closed:
        period.key.effective_to = period.effective_to
    record = PriceRecord(max_retail_price=new.max_retail_price, effective_from=new.effective_from,
                         effective_to=new.effective_to)
    product.prices.append(record)
    uow.session.flush()
    uow.audit("product.price", "product", product.id,
              {"after": {"max_retail_price": record.max_retail_price, "effective_from": record.effective_from,
                         "effective_to": record.effective_to},
               "closed": [{"effective_from": p.effective_from, "effective_to": p.effective_to} for p in closed],
               "reason": cmd.reason})
    return record


# ---------------------------------------------------------------- reading


_SCAN = re.compile(r"^(?:\][A-Za-z][0-9])?(?:\(01\)|01)([0-9]{14})")


def gtin_in_query(text: str) -> str | None:
    """The GTIN in a search text: a plain GTIN-8/12/13/14, or the (01) of a scanned GS1 string."""
    raw = text.strip()
    m = _SCAN.match(raw)
    if m and len(raw) > 14:
        raw = m.group(1)
    if raw.isdigit() and len(raw) in (8, 12, 13, 14):
        try:
            return Gtin.parse(raw).value
        except InvalidIdentifier:
            return None
    return None


def search_products(uow: UnitOfWork, query: ProductQuery) -> Page:
    """Search by trade name, INN, ATC prefix, GTIN or registration number, with filters."""
    authorize(uow.actor, "register.read")
    stmt = (select(Product)
            .outerjoin(Certificate, Certificate.product_id == Product.id)
            .options(selectinload(Product.substances), selectinload(Product.gtins),
                     selectinload(Product.certificate), selectinload(Product.prices))
            .order_by(Product.search_name, Product.id))
    text = (query.q or "").strip()
    if text:
        stmt = stmt.where(or_(*_matches(text)))
    if query.status:
        stmt = stmt.where(Certificate.status == query.status)
    if query.rx is not None:
        stmt = stmt.where(Product.rx == query.rx)
    if query.dosage_form:
        stmt = stmt.where(Product.dosage_form == query.dosage_form)
    if query.controlled is not None:
        column = Product.controlled_schedule
        stmt = stmt.where(column.is_not(None) if query.controlled else column.is_(None))
    return paginate(uow.session, stmt, query.page, query.per_page)


def _matches(text: str) -> list:
    key = _escape_like(d.search_key(text))
    inn = _escape_like(d.normalise_inn(text))
    found = [
        Product.search_name.like(f"%{key}%", escape="\\"),
        exists().where(ProductSubstance.product_id == Product.id,
                       ProductSubstance.substance_id == Substance.id,
                       Substance.inn.like(f"%{inn}%", escape="\\")),
        Certificate.number.in_({text, text.upper()}),
    ]
    upper = text.upper()
    if d.is_atc_prefix(upper):
        found.append(Product.atc_code.like(f"{upper}%"))
    gtin = gtin_in_query(text)
    if gtin is not None:
        found.append(Product.id.in_(select(ProductGtin.product_id).where(ProductGtin.gtin == gtin)))
    return found


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_product(uow: UnitOfWork, product_id: int) -> Product:
    """One product with its substances, GTINs, certificate and history, and prices."""
    authorize(uow.actor, "register.read")
    product = uow.session.scalar(
        select(Product).where(Product.id == product_id)
        .options(selectinload(Product.substances), selectinload(Product.gtins), selectinload(Product.prices),
                 selectinload(Product.certificate).selectinload(Certificate.history)))
    if product is None:
        raise NotFound(f"No product with id {product_id}.")
    return product


_LOOKUP = (
    select(ProductGtin.gtin, Product.id, Product.trade_name, Product.atc_code, Product.dosage_form,
           Product.pack_size, Product.pack_unit, Product.rx, Product.controlled_schedule,
           Certificate.id, Certificate.number, Certificate.status, Certificate.valid_until,
           PriceRecord.max_retail_price)
    .join(Product, Product.id == ProductGtin.product_id)
    .outerjoin(Certificate, Certificate.product_id == Product.id)
)


def product_by_gtin(uow: UnitOfWork, raw: str, on: date | None = None) -> GtinLookup:
    """The register's answer for one GTIN (any of its 8/12/13/14-digit forms), in one query."""
    authorize(uow.actor, "register.read")
    gtin = Gtin.parse(raw).value
    day = on or utc_today()
    price = and_(PriceRecord.product_id == Product.id, PriceRecord.effective_from <= day,
                 or_(PriceRecord.effective_to.is_(None), PriceRecord.effective_to >= day))
    row = uow.session.execute(_LOOKUP.outerjoin(PriceRecord, price).where(ProductGtin.gtin == gtin)).first()
    if row is None:
        raise NotFound(f"GTIN {gtin} is not in the register.")
    return GtinLookup(*row)


def search_icd10(uow: UnitOfWork, q: str, limit: int = 20) -> list[Icd10Code]:
    """ICD-10 codes by code prefix or words of the title."""
    authorize(uow.actor, "register.read")
    text = (q or "").strip()
    stmt = select(Icd10Code).order_by(Icd10Code.code).limit(limit)
    if text:
        code = _escape_like(text.upper().replace(" ", ""))
        title = _escape_like(text.lower())
        stmt = stmt.where(or_(Icd10Code.code.like(f"{code}%", escape="\\"),
                              func.lower(Icd10Code.title).like(f"%{title}%", escape="\\")))
    return list(uow.session.scalars(stmt))


# ---------------------------------------------------------------- helpers


def check_facts(values: dict) -> dict:
    errors: dict[str, list[str]] = {}
    out = dict(values)
    name = (values.get("trade_name") or "").strip()
    if not 1 <= len(name) <= 200:
        errors["trade_name"] = ["Give a trade name of 1 to 200 characters."]
    out["trade_name"] = name
    for key, allowed in (("dosage_form", [f.value for f in d.DosageForm]), ("route", [r.value for r in d.Route]),
                         ("pack_unit", list(d.PACK_UNITS))):
        if values.get(key) not in allowed:
            errors[key] = [f"{values.get(key)!r} is not on the controlled list."]
    size = values.get("pack_size")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100000:
        errors["pack_size"] = ["The pack size is a whole number from 1 to 100000."]
    try:
        out["atc_code"] = d.check_atc(values.get("atc_code") or "")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    out["rx"] = bool(values.get("rx"))
    out["controlled_schedule"] = values.get("controlled_schedule") or None
    d.check_controlled(out["rx"], out["controlled_schedule"])
    return out


def _check_certificate(cert: NewCertificate) -> None:
    errors = {}
    if not re.fullmatch(r"[A-Z]{2}", cert.country.upper()):
        errors["certificate.country"] = ["Use the two-letter ISO 3166 country code."]
    if not cert.number.strip():
        errors["certificate.number"] = ["The certificate number is required."]
    if cert.valid_until < cert.issued:
        errors["certificate.valid_until"] = ["Must not be before the issue date."]
    if errors:
        raise ValidationFailed(errors)
    if cert.valid_until < utc_today():
        raise d.CertificateAlreadyExpired(f"The certificate's validity ended on {cert.valid_until}.")


def _parse_lines(lines) -> list[tuple[str, d.Strength]]:
    if not lines:
        raise ValidationFailed({"substances": ["At least one active substance is needed."]})
    parsed, seen = [], set()
    for i, line in enumerate(lines):
        inn = d.normalise_inn(line.inn)
        if not inn:
            raise ValidationFailed({f"substances.{i}.inn": ["The INN is required."]})
        if inn in seen:
            raise ValidationFailed({f"substances.{i}.inn": [f"{inn} is listed twice."]})
        seen.add(inn)
        parsed.append((inn, d.parse_strength(line.strength, f"substances.{i}.strength")))
    return parsed


def _parse_gtins(raw, field: str) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(raw or ()):
        gtin = Gtin.parse(value, f"{field}.{i}").value
        if gtin in out:
            raise ValidationFailed({f"{field}.{i}": [f"GTIN {gtin} is listed twice."]})
        out.append(gtin)
    return out


def substance_ids(session: Session, inns) -> dict[str, int]:
    """Ids of these INNs, entering the ones the register does not know yet."""
    wanted = set(inns)
    known = dict(session.execute(select(Substance.inn, Substance.id).where(Substance.inn.in_(wanted))).all())
    missing = sorted(wanted - set(known))
    if missing:
        rows = [Substance(inn=inn) for inn in missing]
        session.add_all(rows)
        session.flush()
        known.update({row.inn: row.id for row in rows})
    return known


def _substance_rows(session: Session, lines) -> list[ProductSubstance]:
    ids = substance_ids(session, [inn for inn, _ in lines])
    return [ProductSubstance(position=i, substance=session.get(Substance, ids[inn]), strength_value=s.value,
                             strength_unit=s.unit)
            for i, (inn, s) in enumerate(lines)]


def _product_for_update(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id, with_for_update=True, populate_existing=True)
    if product is None:
        raise NotFound(f"No product with id {product_id}.")
    return product


def _flush_unique(uow: UnitOfWork, gtins: list[str], number: str | None) -> None:
    try:
        uow.session.flush()
    except IntegrityError as exc:
        uow.session.rollback()
        taken = list(uow.session.scalars(select(ProductGtin.gtin).where(ProductGtin.gtin.in_(gtins)))) if gtins else []
        if taken:
            raise Conflict(f"GTIN {', '.join(taken)} already belongs to another product.", gtins=taken) from exc
        if number and uow.session.scalar(select(Certificate.id).where(Certificate.number == number.strip())):
            raise Conflict(f"A certificate numbered {number.strip()} is already registered.") from exc
        raise Conflict("The product conflicts with one already registered.") from exc


def _snapshot(product: Product, cert: Certificate | None) -> dict:
    snap = {k: getattr(product, k) for k in AMENDABLE}
    snap["substances"] = [f"{s.substance.inn} {s.strength_text}" for s in product.substances]
    snap["gtins"] = sorted(g.gtin for g in product.gtins)
    if cert is not None:
        snap.update({"certificate_number": cert.number, "valid_until": cert.valid_until,
                     **{k: getattr(cert, k) for k in CERTIFICATE_AMENDABLE}})
    return snap
