"""The database side of verification: the register's facts for GTINs and the records of packs,
read in one query each for a whole batch of scans, and kept for the rest of the act.

``Lookup`` is also the parser's ``KnownPacks``: the parser asks it which candidate readings of a
mangled scan match the records. In ``collecting`` mode it answers from what is already loaded and
notes what it was asked, so a bulk verification can load every candidate of every scan in one
more query and parse again (see services.verify_bulk).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    String,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from pharma.parties.models import Location
from pharma.register.domain import format_decimal
from pharma.register.models import Certificate, Product, ProductGtin, ProductSubstance, Substance
from pharma.shared.identifiers import Expiry
from pharma.shared.prepared import Prepared
from pharma.trace.models import Batch, Declaration, Pack, Shipment, ShipmentPack
from pharma.verify.domain import PackRecord, ProductFacts

CHUNK = 1000  # keys per query

PRODUCTS = (
    select(ProductGtin.gtin, Product.id, Product.trade_name, Product.dosage_form, Product.rx, Product.pack_size,
           Product.pack_unit, Product.withdrawn_at.is_not(None), Certificate.number, Certificate.status,
           Certificate.valid_until, Substance.inn, ProductSubstance.strength_value, ProductSubstance.strength_unit)
    .join(Product, Product.id == ProductGtin.product_id)
    .outerjoin(Certificate, Certificate.product_id == Product.id)
    .outerjoin(ProductSubstance, ProductSubstance.product_id == Product.id)
    .outerjoin(Substance, Substance.id == ProductSubstance.substance_id)
    .order_by(ProductGtin.gtin, ProductSubstance.position)
)

# a pack is released once it has left the arrival location its declaration brought it to: it is
# elsewhere, travelling, or was shipped at least once (a pack scanned as EXTRA at someone's receipt
# was not shipped by its holder)
_RELEASED = case(
    (and_(Pack.location_id == Declaration.location_id, Pack.shipment_id.is_(None)),
     exists().where(ShipmentPack.pack_id == Pack.id,
                    or_(ShipmentPack.outcome.is_(None), ShipmentPack.outcome != "EXTRA"))),
    else_=true(),
)
PACKS = (
    select(Pack.gtin, Pack.serial, Pack.state, Pack.state_changed_at, Batch.batch, Batch.expiry_raw, Batch.expiry,
           Batch.recalled_at.is_not(None), Pack.location_id, Location.name, Location.organisation_id,
           Shipment.to_location_id, _RELEASED)
    .join(Batch, Batch.id == Pack.batch_id)
    .join(Declaration, Declaration.id == Pack.declaration_id)
    .outerjoin(Location, Location.id == Pack.location_id)
    .outerjoin(Shipment, and_(Shipment.id == Pack.shipment_id, Shipment.status == "IN_TRANSIT"))
)


class Lookup:
    """Facts for GTINs and packs, loaded in batches and remembered (missing ones as None)."""

    def __init__(self, session: Session, today: date, connection: Connection | None = None) -> None:
        self.session = session
        self._connection = connection  # the session's, when the caller has it already
        self.today = today
        self.products: dict[str, ProductFacts | None] = {}
        self.packs: dict[tuple[str, str], PackRecord | None] = {}
        self.collecting: tuple[set[str], set[tuple[str, str]]] | None = None

    # ------------------------------------------------------------ KnownPacks

    def known(self, readings: Sequence) -> Sequence:
        """The readings that match the records: GTIN registered and, for a pack, (GTIN, serial)
        commissioned with the printed batch and expiry when the reading carries them."""
        gtins, keys = _keys(readings)
        if self.collecting is not None:
            self.collecting[0].update(g for g in gtins if g not in self.products)
            self.collecting[1].update(k for k in keys if k not in self.packs)
        else:
            self.load(gtins, keys)
        return [r for r in readings if self.matches(r)]

    def matches(self, reading) -> bool:
        if reading.gtin is None or self.products.get(reading.gtin) is None:
            return False
        if reading.kind != "PACK":
            return reading.kind == "GTIN"
        pack = self.packs.get((reading.gtin, reading.serial))
        return (pack is not None and (reading.batch is None or reading.batch == pack.batch)
                and (reading.expiry is None or reading.expiry.matches(pack.expiry)))

    # ------------------------------------------------------------ loading

    def connection(self) -> Connection:
        return self._connection if self._connection is not None else self.session.connection()

    def load_readings(self, readings: Iterable) -> None:
        self.load(*_keys(readings))

    def load(self, gtins: Iterable[str], keys: Iterable[tuple[str, str]]) -> None:
        """Read what is not known yet: one query for the GTINs, one for the packs (per CHUNK)."""
        new_gtins = sorted({g for g in gtins if g not in self.products})
        new_keys = sorted({k for k in keys if k not in self.packs})
        if len(new_keys) == 1 and new_gtins == [new_keys[0][0]]:
            self._load_one(new_keys[0])  # a counter's single scan: one round trip
            return
        for i in range(0, len(new_gtins), CHUNK):
            self._load_products(new_gtins[i:i + CHUNK])
        for i in range(0, len(new_keys), CHUNK):
            self._load_packs(new_keys[i:i + CHUNK])

    def _load_products(self, gtins: list[str]) -> None:
        rows: dict[str, list] = {}
        one = len(gtins) == 1
        params = {"gtin": gtins[0]} if one else {"gtins": gtins}
        for row in (PRODUCT_BY_GTIN if one else PRODUCTS_BY_GTINS).rows(self.connection(), params):
            rows.setdefault(row[0], []).append(row)
        for gtin in gtins:
            found = rows.get(gtin)
            self.products[gtin] = _product(found) if found else None

    def _load_packs(self, keys: list[tuple[str, str]]) -> None:
        for key in keys:
            self.packs[key] = None
        connection = self.connection()
        statement, params = _packs_query(connection.dialect.name, keys)
        expiries: dict[tuple, Expiry] = {}  # the packs of a batch share one
        for row in statement.rows(connection, params):
            self.packs[(row[0], row[1])] = _pack(row, expiries)

    def _load_one(self, key: tuple[str, str]) -> None:
        """The GTIN's facts and the pack's record in one statement: the product rows (one per
        substance) each carry the pack's columns, or NULLs when the pack is unknown."""
        gtin, serial = key
        rows = PRODUCT_AND_PACK.rows(self.connection(), {"gtin": gtin, "serial": serial})
        product_rows = [row[:_PRODUCT_WIDTH] for row in rows if row[0] is not None]
        self.products[gtin] = _product(product_rows) if product_rows else None
        pack = rows[0][_PRODUCT_WIDTH:] if rows else None
        self.packs[key] = _pack(pack) if pack is not None and pack[0] is not None else None


def _pack(row, expiries: dict[tuple, Expiry] | None = None) -> PackRecord:
    """The record of a PACKS row. Filled in directly, as PackRecord(...) would (tested): a frozen
    dataclass's __init__ sets each of its twelve fields through object.__setattr__, which for a
    bulk's thousand packs costs more than reading them."""
    key = (row[5], row[6])
    expiry = expiries.get(key) if expiries is not None else None
    if expiry is None:
        expiry = Expiry(row[5], row[6])
        if expiries is not None:
            expiries[key] = expiry
    record = object.__new__(PackRecord)
    record.__dict__.update(
        gtin=row[0], serial=row[1], state=row[2], state_changed_at=row[3], batch=row[4], expiry=expiry,
        recalled=bool(row[7]), location_id=row[8], location_name=row[9], custodian_org_id=row[10],
        transit_to=row[11], released=bool(row[12]))
    return record


def _keys(readings: Iterable) -> tuple[set[str], set[tuple[str, str]]]:
    gtins, keys = set(), set()
    for r in readings:
        if r.gtin:
            gtins.add(r.gtin)
            if r.kind == "PACK":
                keys.add((r.gtin, r.serial))
    return gtins, keys


def _product(rows: list) -> ProductFacts:
    first = rows[0]
    substances = tuple((inn, f"{format_decimal(Decimal(value))} {unit}") for *_, inn, value, unit in rows
                       if inn is not None)
    return ProductFacts(gtin=first[0], product_id=first[1], trade_name=first[2], dosage_form=first[3], rx=first[4],
                        pack_size=first[5], pack_unit=first[6], withdrawn=bool(first[7]),
                        certificate_number=first[8], certificate_status=first[9], valid_until=first[10],
                        substances=substances)


# statements built once: SQLAlchemy keys its compiled cache on a statement's structure, which is
# costly to work out afresh for every scan; on PostgreSQL they run as prepared statements (pharma.shared.prepared)
_PRODUCT_BY_GTIN = PRODUCTS.where(ProductGtin.gtin == bindparam("gtin"))
PRODUCT_BY_GTIN = Prepared(_PRODUCT_BY_GTIN)
PRODUCTS_BY_GTINS = Prepared(PRODUCTS.where(ProductGtin.gtin.in_(bindparam("gtins", expanding=True))),
                             PRODUCTS.where(ProductGtin.gtin == any_(bindparam("gtins", type_=ARRAY(String)))))
_PACK_BY_KEY = PACKS.where(Pack.gtin == bindparam("gtin"), Pack.serial == bindparam("serial"))
PACK_BY_KEY = Prepared(_PACK_BY_KEY)
# the keys as two texts of values separated by GS, which no GTIN or serial holds (GS1 set 82):
# psycopg spends some 5 ms of CPU turning a thousand keys into two arrays
_GS = literal_column("chr(29)")
_WANTED = func.unnest(func.string_to_array(bindparam("gtins", type_=String), _GS),
                      func.string_to_array(bindparam("serials", type_=String), _GS)
                      ).table_valued("gtin", "serial").render_derived(name="wanted")
PACKS_BY_ARRAYS = Prepared(PACKS.join(_WANTED, and_(Pack.gtin == _WANTED.c.gtin, Pack.serial == _WANTED.c.serial)))
PACKS_BY_KEYS = Prepared(PACKS.where(tuple_(Pack.gtin, Pack.serial).in_(bindparam("keys", expanding=True))))
_PRODUCT_WIDTH = len(PRODUCTS.selected_columns)
_PRODUCT_SUB = _PRODUCT_BY_GTIN.add_columns(ProductSubstance.position.label("substance_position")).subquery("product")
_PACK_SUB = _PACK_BY_KEY.subquery("pack")
# the scanned GTIN as a one-row table, so that an unknown product still brings its pack (or none)
_KEY = select(bindparam("gtin", type_=String).label("gtin")).subquery("key")
PRODUCT_AND_PACK = Prepared(
    select(*list(_PRODUCT_SUB.c)[:_PRODUCT_WIDTH], *_PACK_SUB.c)
    .select_from(_KEY)
    .outerjoin(_PRODUCT_SUB, true())
    .outerjoin(_PACK_SUB, true())
    .order_by(_PRODUCT_SUB.c.substance_position)
)


def _packs_query(dialect: str, keys: list[tuple[str, str]]) -> tuple[Prepared, dict]:
    """The packs of these keys. One key (a counter's scan): plain equalities, whose prepared plan
    PostgreSQL reuses without planning again. More keys: on PostgreSQL a join with ``unnest`` of
    two arrays, one index probe per key and one plan whatever the number of keys (SQLite: ``IN``)."""
    if len(keys) == 1:
        return PACK_BY_KEY, {"gtin": keys[0][0], "serial": keys[0][1]}
    gtins, serials = "\x1d".join(k[0] for k in keys), "\x1d".join(k[1] for k in keys)
    if dialect != "postgresql" or gtins.count("\x1d") + serials.count("\x1d") != 2 * (len(keys) - 1):
        return PACKS_BY_KEYS, {"keys": keys}  # (a GS in a key, were it possible: the portable form)
    return PACKS_BY_ARRAYS, {"gtins": gtins, "serials": serials}
