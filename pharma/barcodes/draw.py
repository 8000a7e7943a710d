"""Labels: GS1 Data Matrix pack labels, GS1-128 SSCC case labels and EAN-13, as SVG or PNG.

No encoder checks check digits, dates or GS1 character set 82 (BARCODES.md), so every value is
validated with ``pharma.shared.identifiers`` first and refused with ``InvalidIdentifier``.
Data Matrix symbols are always square (``forceSquare``): about half of them would otherwise come
out rectangular, in sizes that installed scanners cannot read. PNGs are drawn at a whole number
of pixels per module; a fractional module width makes some bars one pixel off.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import zxingcpp
from barcode import EAN13, Gs1_128
from barcode.writer import ImageWriter, SVGWriter, mm2px
from PIL import Image

from pharma.shared.errors import InvalidIdentifier, ValidationFailed
from pharma.shared.identifiers import Batch, Expiry, Gtin, Serial, Sscc

GS = "\x1d"
KINDS = ("svg", "png")
PACK_SCALE = 8  # PNG pixels per Data Matrix module
LINEAR_SCALE = 3  # PNG pixels per bar module
_PX = 25.4  # the image writer's dpi at which one of its "millimetres" is one pixel


@dataclass(frozen=True)
class PackData:
    """A pack's four identifiers, validated: what its GS1 Data Matrix carries."""

    gtin: Gtin
    serial: Serial
    batch: Batch
    expiry: Expiry

    @property
    def bracketed(self) -> str:
        """zxing-cpp's GS1 input; brackets, since parentheses may occur in a serial or batch."""
        return f"[01]{self.gtin}[17]{self.expiry}[10]{self.batch}[21]{self.serial}"

    @property
    def element_string(self) -> str:
        """What a scanner reads after ``]d2``: fixed-length fields first, GS after the batch."""
        return f"01{self.gtin}17{self.expiry}10{self.batch}{GS}21{self.serial}"


def pack_data(gtin: str, serial: str, batch: str, expiry_raw: str) -> PackData:
    """Validate a pack's identifiers; the first that breaks its GS1 rule is refused."""
    return PackData(Gtin.parse(gtin), Serial.parse(serial), Batch.parse(batch), Expiry.parse(expiry_raw))


def pack_symbol(data: PackData) -> zxingcpp.Barcode:
    return zxingcpp.create_barcode(data.bracketed, zxingcpp.BarcodeFormat.DataMatrix, gs1=True, forceSquare=True)


def pack_image(data: PackData, scale: int = PACK_SCALE) -> Image.Image:
    """The pack's Data Matrix as a grayscale image with a one-module quiet zone."""
    matrix = pack_symbol(data).to_image(scale=scale)
    height, width = matrix.shape
    return Image.frombuffer("L", (width, height), bytes(memoryview(matrix)), "raw", "L", 0, 1)


def pack_label(gtin: str, serial: str, batch: str, expiry_raw: str, *, kind: str = "svg",
               scale: int = PACK_SCALE) -> bytes:
    """A pack's GS1 Data Matrix (01 GTIN, 17 expiry, 10 batch, 21 serial), square, as SVG or PNG."""
    _check_kind(kind)
    data = pack_data(gtin, serial, batch, expiry_raw)
    if kind == "svg":
        return pack_symbol(data).to_svg(scale=scale).encode()
    return _png(pack_image(data, scale))


def sscc_label(sscc: str, *, kind: str = "svg", scale: int = LINEAR_SCALE) -> bytes:
    """A case's GS1-128 label: FNC1, AI 00 and the SSCC, with "(00) <SSCC>" printed under it."""
    _check_kind(kind)
    value = Sscc.parse(sscc).value
    symbol = Gs1_128(f"00{value}", writer=_writer(kind))
    # a logistic label: X-dimension 0.495 mm or more and bars at least 31.75 mm tall (GS1 GenSpecs 5.12.3)
    options = {"module_width": 0.5, "module_height": 32.0} if kind == "svg" else _png_options(scale, height=80)
    return _write(symbol, options, text=f"(00) {value}")


def ean13_label(gtin13: str, *, kind: str = "svg", scale: int = LINEAR_SCALE) -> bytes:
    """An EAN-13 for a GTIN-13 (or a GTIN-12/14 with leading zeros), digits printed under it."""
    _check_kind(kind)
    gtin = Gtin.parse(gtin13)
    if gtin.gtin13 is None:
        raise InvalidIdentifier("gtin", f"GTIN {gtin} has indicator digit {gtin.value[0]}: "
                                        "it cannot be drawn as EAN-13")
    if gtin.value.startswith("000000"):
        raise InvalidIdentifier("gtin", f"GTIN {gtin} is a GTIN-8: draw it as EAN-8, not EAN-13")
    symbol = EAN13(gtin.gtin13, writer=_writer(kind))
    return _write(symbol, {} if kind == "svg" else _png_options(scale, height=70), text=None)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValidationFailed({"format": [f"Format must be svg or png, not {kind!r}."]},
                               detail=f"Format must be svg or png, not {kind!r}.")


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class _PixelWriter(ImageWriter):
    """python-barcode's PNG writer with each bar's edges rounded to a whole pixel: its own code
    truncates them, which makes some bars a pixel thin at small scales."""

    def __init__(self) -> None:
        super().__init__(format="PNG", mode="L", dpi=_PX)

    def _paint_module(self, xpos: float, ypos: float, width: float, color) -> None:
        left, right = round(mm2px(xpos, self.dpi)), round(mm2px(xpos + width, self.dpi)) - 1
        top, bottom = round(mm2px(ypos, self.dpi)), round(mm2px(ypos + self.module_height, self.dpi))
        self._draw.rectangle([(left, top), (right, bottom)], outline=color, fill=color)


def _writer(kind: str):
    return SVGWriter() if kind == "svg" else _PixelWriter()


def _png_options(scale: int, height: int) -> dict:
    """Writer options in pixels (the writer runs at the dpi where a millimetre is a pixel)."""
    if not isinstance(scale, int) or not 1 <= scale <= 20:
        raise ValidationFailed({"scale": ["Scale must be a whole number of pixels from 1 to 20."]})
    font_px = 8 * scale
    return {"module_width": scale, "module_height": height * scale, "quiet_zone": 11 * scale,
            "font_size": round(font_px * 72 / 25.4), "text_distance": font_px + 3 * scale,
            "margin_top": 2 * scale, "margin_bottom": 2 * scale}


def _write(symbol, options: dict, text: str | None) -> bytes:
    out = io.BytesIO()
    symbol.write(out, options=options, text=text)
    return out.getvalue()
