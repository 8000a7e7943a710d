"""Labels: square GS1 Data Matrix for packs, GS1-128 for cases, EAN-13; data checked before drawing."""

from __future__ import annotations

import io

import pytest
from barcode import EAN13, Gs1_128
from PIL import Image

from pharma.barcodes import corpus
from pharma.barcodes.decode import Decoded, decode_image
from pharma.barcodes.draw import ean13_label, pack_label, sscc_label
from pharma.shared.errors import InvalidIdentifier, ValidationFailed

GTIN = "04030096123457"
SSCC = "376123450000000016"
GS = "\x1d"


def _png(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    assert image.format == "PNG"
    return image


def test_a_pack_label_carries_the_gs1_element_string_with_gs_after_the_batch():
    png = pack_label(GTIN[1:], "AB(1)/2", "L-7", "270600", kind="png")
    assert decode_image(png) == [
        Decoded("]d2", f"01{GTIN}17270600{'10L-7'}{GS}21AB(1)/2".encode(), "DataMatrix")]


def test_a_serial_with_every_tricky_character_survives_the_drawing():
    png = pack_label(GTIN, corpus.TRICKY, corpus.TRICKY, "270600", kind="png")
    assert decode_image(png)[0].data == f"01{GTIN}1727060010{corpus.TRICKY}{GS}21{corpus.TRICKY}".encode()


def test_pack_labels_are_always_square():
    # without forceSquare about a third of these come out rectangular
    for record in corpus.pack_records(40, seed=3):
        image = _png(pack_label(*record.values, kind="png", scale=1))
        assert image.width == image.height, record.values


def test_a_pack_label_in_svg_is_a_square_vector_image():
    svg = pack_label(GTIN, "A1", "B1", "270600").decode()
    assert svg.startswith("<?xml") and "<svg" in svg and "<path" in svg
    png = _png(pack_label(GTIN, "A1", "B1", "270600", kind="png"))
    assert f'width="{png.width}" height="{png.height}"' in svg


@pytest.mark.parametrize(("values", "field", "message"), [
    (("04030096123458", "A1", "B1", "270600"), "gtin", "GTIN check digit is 8, expected 7"),
    ((GTIN, "A 1", "B1", "270600"), "serial", "Serial has characters outside GS1 set 82: ' '"),
    ((GTIN, "X" * 21, "B1", "270600"), "serial", "Serial must have 1 to 20 characters, not 21"),
    ((GTIN, "A1", "", "270600"), "batch", "Batch must have 1 to 20 characters"),
    ((GTIN, "A1", "B[1]", "270600"), "batch", "Batch has characters outside GS1 set 82: '[', ']'"),
    ((GTIN, "A1", "B1", "271300"), "expiry", "Expiry month 13 is not 01 to 12"),
    ((GTIN, "A1", "B1", "270231"), "expiry", "Expiry day 31 does not exist in 2027-02"),
    ((GTIN, "A1", "B1", "2706"), "expiry", "Expiry must be six digits YYMMDD"),
])
def test_a_pack_label_is_not_drawn_from_invalid_data(values, field, message):
    with pytest.raises(InvalidIdentifier) as refused:
        pack_label(*values)
    assert refused.value.errors == {field: [message]}


def test_only_svg_and_png_are_drawn():
    with pytest.raises(ValidationFailed) as refused:
        pack_label(GTIN, "A1", "B1", "270600", kind="gif")
    assert refused.value.errors == {"format": ["Format must be svg or png, not 'gif'."]}


def test_an_sscc_label_is_gs1_128_with_ai_00_and_the_human_readable_text():
    assert decode_image(sscc_label(SSCC, kind="png")) == [Decoded("]C1", f"00{SSCC}".encode(), "Code128")]
    assert f"(00) {SSCC}" in sscc_label(SSCC).decode()


def test_an_sscc_with_a_wrong_check_digit_is_not_drawn():
    with pytest.raises(InvalidIdentifier) as refused:
        sscc_label(SSCC[:-1] + "3")
    assert refused.value.errors == {"sscc": ["SSCC check digit is 3, expected 6"]}


def test_an_ean13_label_carries_the_gtin13_and_its_digits():
    assert decode_image(ean13_label(GTIN[1:], kind="png")) == [Decoded("]E0", GTIN[1:].encode(), "EAN13")]
    assert decode_image(ean13_label(GTIN, kind="png"))[0].data == GTIN[1:].encode()
    assert GTIN[1:] in ean13_label(GTIN[1:]).decode()


def test_a_gtin12_is_drawn_as_ean13_with_a_leading_zero():
    assert decode_image(ean13_label("036000291452", kind="png"))[0].data == b"0036000291452"


@pytest.mark.parametrize(("gtin", "message"), [
    ("14030096123454", "GTIN 14030096123454 has indicator digit 1: it cannot be drawn as EAN-13"),
    ("96385074", "GTIN 00000096385074 is a GTIN-8: draw it as EAN-8, not EAN-13"),
    ("4030096123458", "GTIN check digit is 8, expected 7"),
])
def test_what_is_not_an_ean13_is_not_drawn(gtin, message):
    with pytest.raises(InvalidIdentifier) as refused:
        ean13_label(gtin)
    assert refused.value.errors == {"gtin": [message]}


def _bars(image: Image.Image, y: int) -> str:
    return "".join("1" if image.getpixel((x, y)) < 128 else "0" for x in range(image.width))


@pytest.mark.parametrize("scale", [1, 2, 3])
@pytest.mark.parametrize("symbol", [EAN13(GTIN[1:]), Gs1_128(f"00{SSCC}")], ids=["ean13", "gs1-128"])
def test_png_bars_are_exactly_the_modules_at_every_whole_scale(symbol, scale):
    """python-barcode's own PNG writer truncates bar edges and gets some bars a pixel wrong."""
    draw = ean13_label if isinstance(symbol, EAN13) else sscc_label
    image = _png(draw(GTIN[1:] if isinstance(symbol, EAN13) else SSCC, kind="png", scale=scale))
    modules = symbol.build()[0]
    expected = "".join(bit * scale for bit in modules)
    quiet = 11 * scale
    row = _bars(image, 3 * scale)
    assert row[quiet:quiet + len(expected)] == expected
    assert set(row[:quiet]) == {"0"} and set(row[quiet + len(expected):]) == {"0"}
