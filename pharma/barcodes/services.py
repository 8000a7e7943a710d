"""Drawing labels for importers and the agency: the policy check, the drawing, the file's name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pharma.barcodes import draw
from pharma.parties.policy import authorize
from pharma.shared.uow import UnitOfWork

DRAW = "labels.draw"
MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Label:
    body: bytes
    media_type: str
    filename: str


def draw_pack_label(uow: UnitOfWork, gtin: str, serial: str, batch: str, expiry: str, kind: str = "svg") -> Label:
    """A pack's GS1 Data Matrix label (01, 17, 10, 21), square, from validated data."""
    authorize(uow.actor, DRAW)
    return _label(draw.pack_label(gtin, serial, batch, expiry, kind=kind), kind, "pack", gtin.strip(), serial)


def draw_sscc_label(uow: UnitOfWork, sscc: str, kind: str = "svg") -> Label:
    """A case's GS1-128 label carrying AI 00 and the SSCC."""
    authorize(uow.actor, DRAW)
    return _label(draw.sscc_label(sscc, kind=kind), kind, "sscc", sscc.strip())


def draw_ean13_label(uow: UnitOfWork, gtin: str, kind: str = "svg") -> Label:
    """A product's EAN-13 (legacy packs without a serial)."""
    authorize(uow.actor, DRAW)
    return _label(draw.ean13_label(gtin, kind=kind), kind, "ean13", gtin.strip())


def _label(body: bytes, kind: str, *name: str) -> Label:
    stem = "-".join(_UNSAFE_IN_FILENAME.sub("_", part) for part in name)
    return Label(body, MEDIA_TYPES[kind], f"{stem}.{kind}")
