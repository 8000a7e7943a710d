"""Arrival declarations: an importer's file of batches, serials and cases, commissioned against
a permit all or nothing.

The file is parsed into columns, every line is checked (identifiers, register, permit,
duplicates in the file and in the database, batch expiries, case nesting), and only a file
without a single error is written: batches, cases and packs in one transaction with the
permit's drawdown and one COMMISSION event scoped to the declaration. On PostgreSQL packs go
in with COPY; a serial that is already known is caught by the unique index, and only then is
the slower diagnosis run to name every clashing line.

Formats (UTF-8):
- CSV with a header: ``gtin,batch,expiry,serial`` and optionally ``manufactured``, ``sscc``
  (the pack's case), ``parent_sscc`` (the case's pallet) and ``unit_cost`` (the importer's
  purchase cost of one pack in minor units, the same on every line of a batch that gives it; it
  becomes the cost of the importer's stock); one line per pack; expiry and manufactured as
  printed (YYMMDD, day 00 allowed for expiry).
- JSON: ``{"packs": [{"gtin": ..., "batch": ..., "expiry": ..., "serial": ..., ...}, ...]}``
  with the same names; an item's number is its "line".
"""

from __future__ import annotations

import csv
import io
import json
import operator
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pharma.parties.models import Location
from pharma.parties.policy import authorize, scoped_org
from pharma.register import domain as register_domain
from pharma.register.models import Certificate, Product, ProductGtin
from pharma.shared.errors import InvalidIdentifier, NotFound, PharmaError, ValidationFailed
from pharma.shared.identifiers import Batch as BatchId
from pharma.shared.identifiers import Expiry, Gtin, Serial, Sscc
from pharma.shared.schemas import Page, paginate
from pharma.shared.time import today, utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace import events
from pharma.trace.domain import EventType, PackState
from pharma.trace.models import Batch, Case, Declaration, DeclarationUpload, Pack

REQUIRED = ("gtin", "batch", "expiry", "serial")
OPTIONAL = ("manufactured", "sscc", "parent_sscc", "unit_cost")
MAX_STORED_ERRORS = 10_000
PROGRESS_EVERY = 100_000
_CSET82_1_20 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")


class DeclarationNotFound(NotFound):
    code = "DECLARATION_NOT_FOUND"


class UnsupportedFormat(ValidationFailed):
    code = "UNSUPPORTED_FORMAT"
    title = "The file is neither CSV nor JSON"


class EmptyDeclaration(ValidationFailed):
    code = "EMPTY_DECLARATION"
    title = "The file declares no packs"


class LocationNotOwned(PharmaError):
    status = 403
    code = "LOCATION_NOT_OWNED"
    title = "The arrival location is not the importer's"


# ---------------------------------------------------------------- errors and rows


@dataclass
class ErrorLog:
    """Line errors; all are counted, the first ``MAX_STORED_ERRORS`` by line are kept."""

    items: list[dict] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, field_name: str, code: str, message: str) -> None:
        self.count += 1
        if len(self.items) < 10 * MAX_STORED_ERRORS:
            self.items.append({"line": line, "field": field_name, "code": code, "message": message})

    def report(self) -> list[dict]:
        return sorted(self.items, key=lambda e: e["line"])[:MAX_STORED_ERRORS]

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass
class Rows:
    """The declared packs as columns (fast to check and to COPY); ``line`` is the file's line."""

    line: Sequence[int] = field(default_factory=list)
    gtin: Sequence[str] = field(default_factory=list)
    batch: Sequence[str] = field(default_factory=list)
    expiry: Sequence[str] = field(default_factory=list)
    serial: Sequence[str] = field(default_factory=list)
    manufactured: Sequence[str] = field(default_factory=list)
    sscc: Sequence[str] = field(default_factory=list)
    parent_sscc: Sequence[str] = field(default_factory=list)
    unit_cost: Sequence[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.line)


def parse(data: bytes, fmt: str, errors: ErrorLog) -> Rows:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed({"file": [f"The file is not UTF-8 text (byte {exc.start})."]}) from None
    if fmt == "csv":
        return _parse_csv(text, errors)
    if fmt == "json":
        return _parse_json(text, errors)
    raise UnsupportedFormat({"format": ["Use csv or json."]})


def _parse_csv(text: str, errors: ErrorLog) -> Rows:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise EmptyDeclaration({"file": ["The file is empty."]}) from None
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        problems = {}
        if missing:
            problems["header"] = [f"Missing column(s): {', '.join(missing)}."]
        if unknown:
            problems.setdefault("header", []).append(f"Unknown column(s): {', '.join(unknown)}.")
        raise ValidationFailed(problems, detail="The CSV header is not " + ",".join(REQUIRED + OPTIONAL) + ".")
    width = len(header)
    fast = _split_columns(text, delimiter, width)
    if fast is not None:
        count, columns = fast
        by_name = dict(zip(header, columns, strict=True))
        empty = ("",) * count
        return Rows(range(2, count + 2), *(by_name.get(name, empty) for name in REQUIRED + OPTIONAL))
    body = list(reader)
    if all(len(r) == width for r in body):
        lines: Sequence[int] = range(2, len(body) + 2)
    else:  # blank or ragged lines: drop blank ones, report the others
        kept, lines = [], []
        for n, record in enumerate(body, start=2):
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) != width:
                errors.add(n, "line", "WRONG_COLUMN_COUNT", f"Expected {width} values, found {len(record)}.")
                continue
            kept.append(record)
            lines.append(n)
        body = kept
    columns = list(zip(*body, strict=True)) if body else [()] * width
    empty = ("",) * len(body)
    by_name = dict(zip(header, columns, strict=True))
    return Rows(lines, *(by_name.get(name, empty) for name in REQUIRED + OPTIONAL))


def _split_columns(text: str, delimiter: str, width: int) -> tuple[int, list[list[str]]] | None:
    """The common case at C speed: no quotes, no blank lines, every line ``width`` values.
    The whole body is split once and the columns are taken as slices. None: use the csv module."""
    if '"' in text or "\r" in text:
        return None
    body = text.split("\n", 1)[1] if "\n" in text else ""
    if body.endswith("\n"):
        body = body[:-1]
    if not body:
        return 0, [[] for _ in range(width)]
    lines = body.split("\n")
    if set(map(operator.methodcaller("count", delimiter), lines)) != {width - 1}:
        return None
    flat = body.replace("\n", delimiter).split(delimiter)
    return len(lines), [flat[i::width] for i in range(width)]


def _parse_json(text: str, errors: ErrorLog) -> Rows:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed({"file": [f"Not valid JSON: {exc.msg} at line {exc.lineno}."]}) from None
    packs = doc.get("packs") if isinstance(doc, dict) else None
    if not isinstance(packs, list):
        raise ValidationFailed({"packs": ['Expected {"packs": [...]} at the top level.']})
    rows = Rows()
    names = REQUIRED + OPTIONAL
    for n, item in enumerate(packs, start=1):
        if not isinstance(item, dict):
            errors.add(n, "pack", "NOT_AN_OBJECT", "Each pack must be an object.")
            continue
        unknown = set(item) - set(names)
        if unknown:
            errors.add(n, sorted(unknown)[0], "UNKNOWN_FIELD", f"Unknown field(s): {', '.join(sorted(unknown))}.")
            continue
        rows.line.append(n)
        for name in names:
            value = item.get(name)
            getattr(rows, name).append("" if value is None else str(value).strip())
    return rows


# ---------------------------------------------------------------- checking


@dataclass
class Checked:
    """What a valid file will write."""

    gtin: list[str]  # GTIN-14 per pack
    batch_keys: dict[tuple[str, str], tuple[Expiry, str | None]]  # (gtin, batch) -> expiry, manufactured
    existing_batches: dict[tuple[str, str], int]
    products: dict[str, int]  # gtin -> product id
    packs_by_product: dict[int, int]
    cases: dict[str, str | None]  # sscc -> parent sscc
    costs: dict[tuple[str, str], int] = field(default_factory=dict)  # (gtin, batch) -> unit cost, when given


def check(session: Session, rows: Rows, errors: ErrorLog, on: date,
          progress: Callable[[int], None] | None = None) -> Checked:
    """Every rule a line can break, reported per line; nothing is written.

    Column by column: each distinct value (GTINs, batches, expiries, cases: few) is checked
    once, whole columns go through C-speed set and comprehension passes, and lines are looked
    for only when a column has a fault to report.
    """
    add = errors.add
    lines = rows.line
    # identifiers, each distinct value once
    gtin_of = {raw: _try(lambda r=raw: Gtin.parse(r).value) for raw in set(rows.gtin)}
    gtins = [gtin_of[raw] for raw in rows.gtin]
    _report(rows.gtin, lines, {r for r, g in gtin_of.items() if g is None}, lambda r: (
        "gtin", "INVALID_GTIN", _message(lambda: Gtin.parse(r))), add)
    ok = _CSET82_1_20.fullmatch
    for i in [i for i, v in enumerate(rows.serial) if not ok(v)]:
        add(lines[i], "serial", "INVALID_SERIAL", _message(lambda v=rows.serial[i]: Serial.parse(v)))
    _report(rows.batch, lines, {b for b in set(rows.batch) if not ok(b)}, lambda b: (
        "batch", "INVALID_BATCH", _message(lambda: BatchId.parse(b))), add)
    expiry_of = {raw: _try(lambda r=raw: Expiry.parse(r, "expiry", on)) for raw in set(rows.expiry)}
    _report(rows.expiry, lines, {r for r, e in expiry_of.items() if e is None}, lambda r: (
        "expiry", "INVALID_EXPIRY", _message(lambda: Expiry.parse(r, "expiry", on))), add)
    _report(rows.expiry, lines, {r for r, e in expiry_of.items() if e is not None and e.date < on}, lambda r: (
        "expiry", "EXPIRED_BATCH", f"The batch expired on {expiry_of[r].date.isoformat()}."), add)
    made_of = {raw: _try(lambda r=raw: _manufactured(r, on)) for raw in set(rows.manufactured) if raw}
    _report(rows.manufactured, lines, {r for r, m in made_of.items() if m is None}, lambda r: (
        "manufactured", "INVALID_DATE", _message(lambda: _manufactured(r, on))), add)
    if progress:
        progress(len(rows) // 2)
    # the same pack twice in the file
    keys = [f"{g}\x1d{s}" for g, s in zip(gtins, rows.serial, strict=True)]
    if len(set(keys)) != len(keys):
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            seen = first.setdefault(key, lines[i])
            if seen != lines[i] and gtins[i] is not None:
                add(lines[i], "serial", "DUPLICATE_SERIAL",
                    f"Serial {rows.serial[i]} of GTIN {gtins[i]} is also on line {seen}.")
    # one expiry per batch: the first line of a batch sets it, later lines must match it
    pairs = list(zip(gtins, rows.batch, strict=True))
    first_index = dict(zip(reversed(pairs), range(len(pairs) - 1, -1, -1), strict=True))  # earliest wins
    batch_keys: dict[tuple[str, str], tuple[Expiry, str | None]] = {}
    for (g, b), i in first_index.items():
        expiry = expiry_of[rows.expiry[i]]
        if g is not None and expiry is not None:
            made = rows.manufactured[i]
            batch_keys[(g, b)] = (expiry, made_of.get(made) if made else None)
    batch_first_line = {key: lines[i] for key, i in first_index.items() if key in batch_keys}
    clashing = {(g, b) for g, b, raw in set(zip(gtins, rows.batch, rows.expiry, strict=True))
                if (g, b) in batch_keys and expiry_of[raw] is not None
                and not batch_keys[(g, b)][0].matches(expiry_of[raw])}
    if clashing:
        for i, key in enumerate(zip(gtins, rows.batch, strict=True)):
            expiry = expiry_of[rows.expiry[i]]
            if key in clashing and expiry is not None and not expiry.matches(batch_keys[key][0]):
                add(lines[i], "expiry", "BATCH_EXPIRY_CONFLICT",
                    f"Batch {key[1]} has expiry {batch_keys[key][0].raw} on line {batch_first_line[key]}, "
                    f"here {rows.expiry[i]}.")
    costs = _check_costs(rows, gtins, add) if any(rows.unit_cost) else {}
    cases = _check_case_columns(rows, errors)
    products = _check_register(session, rows, gtins, errors, on)
    existing = _check_batches(session, batch_keys, batch_first_line, errors)
    _check_cases(session, list(cases), errors)
    counts: dict[int, int] = {}
    for g, n in Counter(gtins).items():
        if g in products:
            counts[products[g]] = counts.get(products[g], 0) + n
    return Checked([g or "" for g in gtins], batch_keys, existing, products, counts, cases, costs)


def _check_costs(rows: Rows, gtins: list[str | None], add) -> dict[tuple[str, str], int]:
    """Each batch's unit cost where the file gives one: a whole number of minor units, the same on
    every line of the batch that gives it (a line may leave it empty)."""
    lines = rows.line
    cost_of = {raw: int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 15 else None
               for raw in set(rows.unit_cost) if raw}
    _report(rows.unit_cost, lines, {r for r, c in cost_of.items() if c is None}, lambda r: (
        "unit_cost", "INVALID_COST", f"Give the cost of one pack in minor units, as a whole number, not {r!r}."),
        add)
    costs: dict[tuple[str, str], int] = {}
    first: dict[tuple[str, str], int] = {}
    for i, (g, b, raw) in enumerate(zip(gtins, rows.batch, rows.unit_cost, strict=True)):
        cost = cost_of.get(raw) if raw else None
        if g is None or cost is None:
            continue
        known = costs.setdefault((g, b), cost)
        seen = first.setdefault((g, b), lines[i])
        if known != cost:
            add(lines[i], "unit_cost", "BATCH_COST_CONFLICT",
                f"Batch {b} costs {known} a pack on line {seen}, here {cost}.")
    return costs


def _report(column: Sequence[str], lines: Sequence[int], bad: set, describe, add) -> None:
    """One error per line whose value is in ``bad``; a pass over the column only if there is one."""
    if not bad:
        return
    described = {value: describe(value) for value in bad}
    for i, value in enumerate(column):
        if value in described:
            add(lines[i], *described[value])


def _check_case_columns(rows: Rows, errors: ErrorLog) -> dict[str, str | None]:
    """Cases and pallets: valid SSCCs, each case on one pallet, no deeper nesting."""
    pairs = set(zip(rows.sscc, rows.parent_sscc, strict=True))
    sscc_of = {raw: _try(lambda r=raw: _sscc(r)) for raw in {v for pair in pairs for v in pair if v}}
    lines = rows.line
    for name, column in (("sscc", rows.sscc), ("parent_sscc", rows.parent_sscc)):
        _report(column, lines, {r for r, v in sscc_of.items() if v is None and r in set(column)}, lambda r, n=name: (
            n, "INVALID_SSCC", _message(lambda: Sscc.parse(r, n))), errors.add)
    cases: dict[str, str | None] = {}
    conflicts: set[str] = set()
    for case_raw, parent_raw in sorted(pairs):
        if parent_raw and not case_raw:
            conflicts.add("")
            continue
        case, parent = sscc_of.get(case_raw), sscc_of.get(parent_raw)
        if case is None:
            continue
        if (case in cases and cases[case] != parent) or case == parent:
            conflicts.add(case)
        cases.setdefault(case, parent)
    if conflicts:
        for i, (case_raw, parent_raw) in enumerate(zip(rows.sscc, rows.parent_sscc, strict=True)):
            case = sscc_of.get(case_raw)
            if parent_raw and not case_raw:
                errors.add(lines[i], "parent_sscc", "PALLET_WITHOUT_CASE", "A pallet SSCC needs the pack's case SSCC.")
            elif case in conflicts:
                errors.add(lines[i], "parent_sscc", "CASE_PARENT_CONFLICT",
                           "A case cannot be its own pallet." if case == sscc_of.get(parent_raw)
                           else f"Case {case} is put on more than one pallet.")
    for parent in {p for p in cases.values() if p}:
        if cases.get(parent):
            errors.add(0, "parent_sscc", "CASE_NESTING_TOO_DEEP", f"Pallet {parent} is itself inside {cases[parent]}.")
        cases.setdefault(parent, None)
    return cases


def _sscc(raw: str) -> str:
    """An SSCC as 18 digits, or as scanned with its AI: "00" + 18 digits."""
    return Sscc.parse(raw[2:] if len(raw) == 20 and raw.startswith("00") else raw).value


def _try(fn):
    try:
        return fn()
    except InvalidIdentifier:
        return None


def _message(fn) -> str:
    try:
        fn()
    except InvalidIdentifier as exc:
        return exc.message
    return "Not valid."


def _manufactured(raw: str, on: date) -> str:
    made = Expiry.parse(raw, "manufactured", on)  # same YYMMDD form (AI 11)
    if raw[4:] == "00":
        raise InvalidIdentifier("manufactured", "Manufacture date needs a day")
    if made.date > on:
        raise InvalidIdentifier("manufactured", "Manufacture date is in the future")
    return made.date.isoformat()


def _check_register(session: Session, rows: Rows, gtins: list[str], errors: ErrorLog, on: date) -> dict[str, int]:
    wanted = sorted({g for g in gtins if g})
    found: dict[str, tuple] = {}
    for chunk in _chunks(wanted, 1000):
        for row in session.execute(
            select(ProductGtin.gtin, Product.id, Product.withdrawn_at, Certificate.status, Certificate.valid_until)
            .join(Product, Product.id == ProductGtin.product_id)
            .outerjoin(Certificate, Certificate.product_id == Product.id)
            .where(ProductGtin.gtin.in_(chunk))
        ):
            found[row[0]] = row
    bad: dict[str, tuple[str, str]] = {}
    for g in wanted:
        row = found.get(g)
        if row is None:
            bad[g] = ("GTIN_NOT_REGISTERED", f"GTIN {g} is not in the register.")
        elif row[2] is not None:
            bad[g] = ("PRODUCT_WITHDRAWN", f"The product of GTIN {g} is withdrawn from the market.")
        elif row[3] is None or not register_domain.in_force(row[3], row[4], on):
            bad[g] = ("PRODUCT_NOT_IN_FORCE", f"The registration of GTIN {g} is not in force ({row[3]}).")
    if bad:
        for line, g in zip(rows.line, gtins, strict=True):
            if g in bad:
                errors.add(line, "gtin", *bad[g])
    return {g: row[1] for g, row in found.items() if g not in bad}


def _check_batches(session: Session, keys: dict, first_line: dict, errors: ErrorLog) -> dict[tuple[str, str], int]:
    existing: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted(keys), 500):
        for bid, gtin, batch, raw, expiry in session.execute(
            select(Batch.id, Batch.gtin, Batch.batch, Batch.expiry_raw, Batch.expiry)
            .where(tuple_(Batch.gtin, Batch.batch).in_(chunk))
        ):
            declared = keys[(gtin, batch)][0]
            if not declared.matches(Expiry(raw, expiry)):
                errors.add(first_line[(gtin, batch)], "expiry", "BATCH_EXPIRY_CONFLICT",
                           f"Batch {batch} of GTIN {gtin} is already known with expiry {raw}.")
            existing[(gtin, batch)] = bid
    return existing


def _check_cases(session: Session, ssccs: list[str], errors: ErrorLog) -> None:
    for chunk in _chunks(sorted(ssccs), 1000):
        for (sscc,) in session.execute(select(Case.sscc).where(Case.sscc.in_(chunk))):
            errors.add(0, "sscc", "SSCC_ALREADY_USED", f"SSCC {sscc} is already declared.")


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---------------------------------------------------------------- acts


@dataclass(frozen=True)
class NewDeclaration:
    permit_id: int
    location_id: int
    source_format: str
    filename: str
    content: bytes


def submit_declaration(uow: UnitOfWork, cmd: NewDeclaration) -> Declaration:
    """Receive an importer's file; it is checked and commissioned by ``process_declaration``."""
    from pharma.permits.services import check_permit_usable

    fmt = cmd.source_format.lower()
    if fmt not in ("csv", "json"):
        raise UnsupportedFormat({"format": ["Use csv or json."]})
    if not cmd.content.strip():
        raise EmptyDeclaration({"file": ["The file is empty."]})
    with uow:
        location = uow.session.get(Location, cmd.location_id)
        if location is None:
            raise NotFound(f"No location with id {cmd.location_id}.")
        authorize(uow.actor, "trace.declare", location.organisation_id)
        if location.organisation_id != uow.actor.org_id:
            raise LocationNotOwned("Declare arrivals at one of your own locations.")
        check_permit_usable(uow.session, cmd.permit_id, uow.actor.org_id, today())
        declaration = Declaration(
            number="", importer_id=uow.actor.org_id, permit_id=cmd.permit_id, location_id=location.id,
            status="RECEIVED", source_format=fmt, filename=cmd.filename[:200], created_by=uow.actor.user_id)
        uow.session.add(declaration)
        uow.session.flush()
        declaration.number = f"DCL-{utcnow().year}-{declaration.id:07d}"
        uow.session.add(DeclarationUpload(declaration_id=declaration.id, content=cmd.content))
        uow.audit("declaration.submit", "declaration", declaration.id,
                  {"number": declaration.number, "permit_id": cmd.permit_id, "location_id": location.id,
                   "format": fmt, "bytes": len(cmd.content), "filename": cmd.filename})
        uow.commit()
    return declaration


def process_declaration(uow: UnitOfWork, declaration_id: int) -> Declaration:
    """Check the whole file and commission it, all or nothing. Safe to run twice: only a
    declaration still RECEIVED is claimed (an atomic update), so one worker processes it."""
    authorize(uow.actor, "trace.declare")
    session = uow.session
    claimed = session.execute(
        update(Declaration).where(Declaration.id == declaration_id, Declaration.status == "RECEIVED")
        .values(status="PROCESSING", started_at=utcnow())
    ).rowcount
    session.commit()
    declaration = session.get(Declaration, declaration_id, populate_existing=True)
    if declaration is None:
        raise DeclarationNotFound(f"No declaration with id {declaration_id}.")
    if not claimed:
        return declaration
    errors = ErrorLog()
    try:
        _check_and_commission(uow, declaration, errors)
    except ValidationFailed as exc:
        session.rollback()
        for name, messages in exc.errors.items():
            for message in messages if isinstance(messages, list) else [messages]:
                errors.add(0, name, exc.code, message)
    except PharmaError as exc:  # the permit's drawdown refused (quantity, validity, licence)
        session.rollback()
        errors.add(0, "permit", exc.code, exc.detail)
    if errors:
        session.rollback()
        session.execute(update(Declaration).where(Declaration.id == declaration_id).values(
            status="REJECTED", finished_at=utcnow(), errors=errors.report(), error_count=errors.count))
        UnitOfWork(session, uow.actor, uow.request_id).audit(
            "declaration.reject", "declaration", declaration_id,
            {"number": declaration.number, "errors": errors.count, "first": errors.report()[:5]})
        session.commit()
    return session.get(Declaration, declaration_id, populate_existing=True)


def _check_and_commission(uow: UnitOfWork, declaration: Declaration, errors: ErrorLog) -> None:
    """Parse, check and write in one transaction; returns with ``errors`` filled and nothing
    committed when any line is wrong.

    On PostgreSQL the packs are copied in a background thread while the file is checked: the
    server inserts (the longest part, on its own core) while Python checks. Batches and cases get
    their ids from their sequences first (packs have no foreign keys, so their rows follow after
    the packs). Nothing is committed unless every check passed."""
    from pharma.permits.services import draw_down

    session = uow.session
    on = today()
    report = _progress_writer(session, declaration.id)
    content = session.scalar(select(DeclarationUpload.content)
                             .where(DeclarationUpload.declaration_id == declaration.id))
    rows = parse(content, declaration.source_format, errors)
    del content
    _set_total(session, declaration.id, len(rows))
    if not len(rows) and not errors:
        errors.add(0, "file", "EMPTY_DECLARATION", "The file declares no packs.")
    streaming = session.get_bind().dialect.name == "postgresql" and len(rows) and not errors
    with uow:
        if streaming:
            ids = _reserve_ids(session, rows)
            copying = _PackCopy(session, declaration, rows, ids)
            try:
                with Session(session.get_bind()) as reader:
                    checked = check(reader, rows, errors, on, progress=report)
                    if not errors:
                        _permit_errors(reader, declaration, checked, errors, on)
            except BaseException:
                copying.finish(stop=True)
                raise
            copying.finish(stop=bool(errors))
            if not errors and copying.clashed:
                _name_known_serials(session, rows, checked.gtin, errors)
            if errors:
                return
        else:
            checked = check(session, rows, errors, on, progress=report)
            if not errors:
                _permit_errors(session, declaration, checked, errors, on)
            if errors:
                return
            ids = None
        draw_down(uow, declaration.permit_id, declaration.importer_id, checked.packs_by_product, on)
        written = _write(uow, declaration, rows, checked, errors, ids)
        if not written:
            return
        events.record(uow, EventType.COMMISSION, location_id=declaration.location_id,
                      to_state=PackState.ACTIVE, declaration_id=declaration.id, count=written,
                      document=("declaration", declaration.number),
                      details={"permit_id": declaration.permit_id,
                               "unit_costs": [[g, b, c] for (g, b), c in sorted(checked.costs.items())]})
        session.execute(update(Declaration).where(Declaration.id == declaration.id).values(
            status="ACCEPTED", packs_done=written, finished_at=utcnow(), errors=[], error_count=0))
        uow.audit("declaration.accept", "declaration", declaration.id,
                  {"number": declaration.number, "packs": written, "packs_by_product": checked.packs_by_product})
        uow.commit()


def _progress_writer(session: Session, declaration_id: int):
    """Progress goes through its own connection, so readers see it while the work goes on.
    It is reported while the file is checked, before the write transaction takes any lock."""
    engine = session.get_bind()

    def report(done: int) -> None:
        with engine.begin() as conn:
            conn.execute(update(Declaration).where(Declaration.id == declaration_id).values(packs_done=done))

    return report


def _set_total(session: Session, declaration_id: int, total: int) -> None:
    session.execute(update(Declaration).where(Declaration.id == declaration_id).values(packs_total=total))
    session.commit()


def _permit_errors(session: Session, declaration: Declaration, checked: Checked, errors: ErrorLog, on: date) -> None:
    from pharma.permits.services import check_permit_usable

    permit = check_permit_usable(session, declaration.permit_id, declaration.importer_id, on)
    left: dict[int, int] = {}
    for line in permit.lines:
        left[line.product_id] = left.get(line.product_id, 0) + line.packs_left
    for product_id, n in sorted(checked.packs_by_product.items()):
        if product_id not in left:
            gtin = next(g for g, p in checked.products.items() if p == product_id)
            errors.add(0, "gtin", "PRODUCT_NOT_ON_PERMIT", f"GTIN {gtin} is not on permit {permit.number}.")
        elif n > left[product_id]:
            gtin = next(g for g, p in checked.products.items() if p == product_id)
            errors.add(0, "gtin", "PERMIT_QUANTITY_EXCEEDED",
                       f"{n} packs of GTIN {gtin} declared; permit {permit.number} has {left[product_id]} left.")


@dataclass
class ReservedIds:
    """Ids taken from the sequences before the packs are copied: the packs' rows need their batch
    and case ids, and the batch and case rows are inserted after them (packs have no foreign keys)."""

    gtin_of: dict[str, str | None]  # raw GTIN -> GTIN-14 (None: invalid, the checks report it)
    batch_of: dict[tuple[str, str], int]  # (raw GTIN, batch) -> id, existing or reserved
    batch_by_key: dict[tuple[str, str], int]  # (GTIN-14, batch) -> id
    case_of: dict[str, int]  # SSCC (18 digits) -> reserved id, cases and pallets
    sscc_of: dict[str, str | None]  # raw SSCC -> 18 digits


def _reserve_ids(session: Session, rows: Rows) -> ReservedIds:
    gtin_of = {raw: _try(lambda r=raw: Gtin.parse(r).value) for raw in set(rows.gtin)}
    raw_pairs = set(zip(rows.gtin, rows.batch, strict=True))
    keys = {(gtin_of[g], b) for g, b in raw_pairs if gtin_of[g] is not None}
    by_key: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted(keys), 500):
        by_key.update(((g, b), bid) for bid, g, b in session.execute(
            select(Batch.id, Batch.gtin, Batch.batch).where(tuple_(Batch.gtin, Batch.batch).in_(chunk))))
    new_keys = sorted(keys - by_key.keys())
    by_key.update(zip(new_keys, _next_ids(session, "batches", len(new_keys)), strict=True))
    batch_of = {(g, b): by_key[(gtin_of[g], b)] for g, b in raw_pairs if gtin_of[g] is not None}
    raw_ssccs = set(rows.sscc) | set(rows.parent_sscc)
    raw_ssccs.discard("")
    sscc_of = {raw: _try(lambda r=raw: _sscc(r)) for raw in raw_ssccs}
    ssccs = sorted({v for v in sscc_of.values() if v})
    case_of = dict(zip(ssccs, _next_ids(session, "cases", len(ssccs)), strict=True))
    return ReservedIds(gtin_of, batch_of, by_key, case_of, sscc_of)


def _next_ids(session: Session, table: str, n: int) -> list[int]:
    if not n:
        return []
    return list(session.scalars(text(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"), {"n": n}))


class _PackCopy:
    """COPY of a declaration's packs, running in a thread on the session's connection while the
    main thread checks the file on another connection. ``finish`` waits for it; ``stop`` cancels
    it (the COPY fails and the transaction is rolled back by the caller). ``clashed``: the unique
    index refused a serial already known (or twice in the file)."""

    CHUNK = 50_000

    def __init__(self, session: Session, declaration: Declaration, rows: Rows, ids: ReservedIds) -> None:
        self.savepoint = session.begin_nested()
        self.conn = session.connection().connection.driver_connection
        self.error: BaseException | None = None
        self.clashed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(declaration, rows, ids),
                                        name=f"copy-declaration-{declaration.id}", daemon=True)
        self._thread.start()

    def _run(self, declaration: Declaration, rows: Rows, ids: ReservedIds) -> None:
        loc = declaration.location_id
        tail = f"\t{declaration.id}\t{loc}\tACTIVE\t{loc}\n"  # state_changed_at: the column's default
        gtin_of, batch_of, case_of, sscc_of = ids.gtin_of, ids.batch_of, ids.case_of, ids.sscc_of
        case_text = {raw: str(case_of[v]) if v else "0" for raw, v in sscc_of.items()}
        case_text[""] = "\\N"
        try:
            with self.conn.cursor() as cur, cur.copy(COPY_PACKS) as copy:
                for start in range(0, len(rows), self.CHUNK):
                    if self._stop.is_set():
                        raise _Cancelled
                    end = start + self.CHUNK
                    copy.write("".join(
                        f"{gtin_of[g] or ''}\t{s}\t{batch_of.get((g, b), 0)}\t{case_text[c]}{tail}"
                        for g, b, s, c in zip(rows.gtin[start:end], rows.batch[start:end], rows.serial[start:end],
                                              rows.sscc[start:end], strict=True)))
        except BaseException as exc:  # reported to the main thread by finish()
            self.error = exc

    def finish(self, stop: bool) -> None:
        if stop:
            self._stop.set()
        self._thread.join()
        if stop:
            return  # the caller rolls back; whatever the COPY met does not matter
        import psycopg

        if isinstance(self.error, psycopg.errors.UniqueViolation):
            self.savepoint.rollback()
            self.clashed = True
        elif self.error is not None:
            raise self.error
        else:
            self.savepoint.commit()


class _Cancelled(Exception):
    pass


COPY_PACKS = ("COPY packs (gtin, serial, batch_id, case_id, declaration_id, location_id, state, state_location_id)"
              " FROM STDIN")


def _write(uow: UnitOfWork, declaration: Declaration, rows: Rows, checked: Checked, errors: ErrorLog,
           ids: ReservedIds | None) -> int:
    """Batches, cases and (unless they are copied already: ``ids`` given) packs."""
    session = uow.session
    new_batches = [
        {"gtin": g, "batch": b, "expiry_raw": exp.raw, "expiry": exp.date,
         "manufactured_on": date.fromisoformat(made) if made else None,
         "product_id": checked.products[g], "declaration_id": declaration.id}
        for (g, b), (exp, made) in checked.batch_keys.items() if (g, b) not in checked.existing_batches
    ]
    case_rows = [{"sscc": s, "parent": p} for s, p in checked.cases.items()]
    pallets_first = sorted(case_rows, key=lambda r: r["parent"] is not None)
    if ids is not None:
        for row in new_batches:
            row["id"] = ids.batch_by_key[(row["gtin"], row["batch"])]
        if new_batches:
            session.execute(insert(Batch), new_batches)
        if case_rows:
            session.execute(insert(Case), [
                {"id": ids.case_of[r["sscc"]], "sscc": r["sscc"], "declaration_id": declaration.id,
                 "location_id": declaration.location_id,
                 "parent_id": ids.case_of[r["parent"]] if r["parent"] else None} for r in pallets_first])
        return len(rows)
    batch_ids = dict(checked.existing_batches)
    if new_batches:
        for bid, g, b in session.execute(
            insert(Batch).returning(Batch.id, Batch.gtin, Batch.batch, sort_by_parameter_order=True), new_batches
        ):
            batch_ids[(g, b)] = bid
    case_ids: dict[str, int] = {}
    for level in ([r for r in case_rows if not r["parent"]], [r for r in case_rows if r["parent"]]):
        if level:  # pallets first, so that each case is inserted with its pallet's id
            for cid, sscc in session.execute(insert(Case).returning(Case.id, Case.sscc, sort_by_parameter_order=True), [
                {"sscc": r["sscc"], "declaration_id": declaration.id, "location_id": declaration.location_id,
                 "parent_id": case_ids[r["parent"]] if r["parent"] else None} for r in level]):
                case_ids[sscc] = cid
    now = utcnow()
    sscc_of = {raw: _sscc(raw) for raw in set(rows.sscc) if raw}
    batch_col = [batch_ids[(g, b)] for g, b in zip(checked.gtin, rows.batch, strict=True)]
    case_col = [case_ids[sscc_of[s]] if s else None for s in rows.sscc]
    try:
        with session.begin_nested():
            _insert_packs(session, declaration, checked.gtin, rows.serial, batch_col, case_col, now)
    except IntegrityError:
        _name_known_serials(session, rows, checked.gtin, errors)
        session.rollback()
        return 0
    return len(rows)


def _insert_packs(session, declaration, gtins, serials, batch_col, case_col, now) -> None:
    loc = declaration.location_id
    batch: list[dict] = []
    for g, s, b, c in zip(gtins, serials, batch_col, case_col, strict=True):
        batch.append({"gtin": g, "serial": s, "batch_id": b, "case_id": c, "declaration_id": declaration.id,
                      "location_id": loc, "state": "ACTIVE", "state_changed_at": now, "state_location_id": loc})
        if len(batch) == 20_000:
            session.execute(insert(Pack), batch)
            batch.clear()
    if batch:
        session.execute(insert(Pack), batch)


def _name_known_serials(session: Session, rows: Rows, gtins: list[str], errors: ErrorLog) -> None:
    """After the unique index refused the write: name every line whose serial is already known."""
    by_gtin: dict[str, list[int]] = {}
    for i, g in enumerate(gtins):
        by_gtin.setdefault(g, []).append(i)
    for g, indexes in by_gtin.items():
        for chunk in _chunks(indexes, 1000):
            serials = {rows.serial[i]: i for i in chunk}
            for (serial,) in session.execute(
                select(Pack.serial).where(Pack.gtin == g, Pack.serial.in_(list(serials)))
            ):
                errors.add(rows.line[serials[serial]], "serial", "SERIAL_ALREADY_COMMISSIONED",
                           f"Serial {serial} of GTIN {g} is already commissioned.")
    if not errors:  # a concurrent declaration took them and has not committed: say so
        errors.add(0, "serial", "SERIAL_ALREADY_COMMISSIONED",
                   "Some serials were commissioned by another declaration at the same time.")


# ---------------------------------------------------------------- reading


def get_declaration(uow: UnitOfWork, declaration_id: int) -> Declaration:
    declaration = uow.session.get(Declaration, declaration_id)
    if declaration is None:
        raise DeclarationNotFound(f"No declaration with id {declaration_id}.")
    authorize(uow.actor, "trace.declaration.read", declaration.importer_id)
    return declaration


def list_declarations(uow: UnitOfWork, status: str | None, page: int, per_page: int) -> Page:
    only = scoped_org(uow.actor, "trace.declaration.read")
    stmt = select(Declaration).order_by(Declaration.id.desc())
    if only is not None:
        stmt = stmt.where(Declaration.importer_id == only)
    if status:
        stmt = stmt.where(Declaration.status == status)
    return paginate(uow.session, stmt, page, per_page)


def usable_permits(session: Session, importer_id: int) -> list:
    """The importer's approved permits still in their validity, for the upload form."""
    from pharma.permits.models import ImportPermit

    on = today()
    return list(session.scalars(
        select(ImportPermit).where(ImportPermit.importer_id == importer_id, ImportPermit.status == "APPROVED",
                                   ImportPermit.valid_until >= on).order_by(ImportPermit.id.desc())))


def error_report_csv(declaration: Declaration) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "field", "code", "message"])
    for e in declaration.errors or []:
        writer.writerow([e["line"], e["field"], e["code"], e["message"]])
    if declaration.error_count > len(declaration.errors or []):
        writer.writerow(["", "", "TRUNCATED", f"{declaration.error_count - len(declaration.errors)} more errors"])
    return out.getvalue()
