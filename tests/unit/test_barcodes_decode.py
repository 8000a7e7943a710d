"""Decoding images: what is refused, what comes out, and the fallbacks for what zxing-cpp misses."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
import zxingcpp
from barcode import Code128, Gs1_128
from barcode.writer import ImageWriter
from PIL import Image, ImageFilter, ImageOps
from pyzbar import pyzbar

from pharma.barcodes import corpus, zbar
from pharma.barcodes.decode import FORMATS, Decoded, ImageRefused, decode_image
from pharma.barcodes.draw import ean13_label, pack_label, sscc_label
from pharma.shared.errors import ValidationFailed

GTIN = "04030096123457"
SSCC = "376123450000000016"


def _encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size its (one-pixel) data does not have."""
    png = _encode(Image.new("L", (1, 1), 255))
    header = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + header + struct.pack(">I", zlib.crc32(header)) + png[33:]


def _refusal(content: bytes) -> str:
    with pytest.raises(ImageRefused) as refused:
        decode_image(content)
    error = refused.value
    assert isinstance(error, ValidationFailed) and error.code == "BAD_IMAGE" and error.status == 422
    assert error.errors == {"photo": [error.detail]}
    return error.detail


# ---------------------------------------------------------------- refusals


def test_what_is_not_an_image_is_refused():
    assert _refusal(b"GTIN 04030096123457") == "The file is not an image; send a PNG or JPEG photo."
    assert _refusal(b"") == "The file is not an image; send a PNG or JPEG photo."


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_images_other_than_png_and_jpeg_are_refused_by_name(fmt):
    content = _encode(Image.new("L", (20, 20), 255), fmt)
    assert _refusal(content) == f"The image is {fmt}; send a PNG or JPEG photo."


def test_an_image_over_20_mb_is_refused_before_it_is_opened():
    content = _encode(Image.new("L", (8, 8))) + b"\0" * (20 * 2**20)
    assert _refusal(content) == "The image is 20.0 MB; at most 20 MB are accepted."


@pytest.mark.parametrize("size", [(8000, 5001), (20000, 20000)], ids=["over 40 MP", "a decompression bomb"])
def test_an_image_over_40_megapixels_is_refused_from_its_header(size):
    assert _refusal(_png_claiming(*size)) == "The image has more than 40 megapixels; send a smaller photo."


def test_a_truncated_image_is_refused():
    content = pack_label(GTIN, "A1", "B1", "270600", kind="png")
    assert _refusal(content[: len(content) // 2]) == "The image is damaged or truncated and cannot be read."


# ---------------------------------------------------------------- what comes out


def test_an_image_without_a_code_gives_nothing():
    assert decode_image(_encode(Image.new("RGB", (640, 480), "gray"), "JPEG")) == []


def test_every_code_in_a_photo_is_found_once():
    labels = [pack_label(GTIN, "A1", "B1", "270600", kind="png", scale=4), ean13_label(GTIN, kind="png"),
              sscc_label(SSCC, kind="png", scale=2), pack_label(GTIN, "A1", "B1", "270600", kind="png", scale=4)]
    sheet = Image.new("L", (1200, 400), 255)
    x = 20
    for label in labels:
        image = Image.open(io.BytesIO(label))
        sheet.paste(image, (x, 40))
        x += image.width + 40
    found = decode_image(_encode(sheet.convert("RGB"), "JPEG", quality=90))
    assert sorted(found, key=lambda d: d.format) == [
        Decoded("]C1", f"00{SSCC}".encode(), "Code128"),
        Decoded("]d2", f"01{GTIN}172706001" f"0B1\x1d21A1".encode(), "DataMatrix"),
        Decoded("]E0", GTIN[1:].encode(), "EAN13"),
    ]


def test_a_label_on_a_transparent_background_is_read():
    label = Image.open(io.BytesIO(pack_label(GTIN, "A1", "B1", "270600", kind="png")))
    transparent = Image.new("RGBA", label.size, (0, 0, 0, 0))
    transparent.putalpha(ImageOps.invert(label))  # black modules, the rest see-through black
    assert decode_image(_encode(transparent))[0].data == f"01{GTIN}1727060010B1\x1d21A1".encode()


def test_a_colour_jpeg_in_cmyk_is_read():
    label = Image.open(io.BytesIO(ean13_label(GTIN, kind="png"))).convert("CMYK")
    assert decode_image(_encode(label, "JPEG", quality=90))[0].data == GTIN[1:].encode()


# ---------------------------------------------------------------- zbar and GS1-128


def _drawn(symbol) -> Image.Image:
    out = io.BytesIO()
    symbol.write(out)
    return Image.open(out).convert("L")


def test_zbar_reports_a_gs1_128_as_c1_with_gs_between_fields():
    image = _drawn(Gs1_128("10AB1\xf121X7", writer=ImageWriter()))
    assert zbar.read(image) == [("]C1", b"10AB1\x1d21X7", "Code128")]


def test_zbar_reports_a_plain_code_128_as_c0():
    image = _drawn(Code128(f"00{SSCC}", writer=ImageWriter()))
    assert zbar.read(image) == [("]C0", f"00{SSCC}".encode(), "Code128")]
    assert decode_image(_encode(image)) == [Decoded("]C0", f"00{SSCC}".encode(), "Code128")]


def test_zbar_reads_ean13_as_e0():
    image = Image.open(io.BytesIO(ean13_label(GTIN, kind="png")))
    assert zbar.read(image) == [("]E0", GTIN[1:].encode(), "EAN13")]


# ---------------------------------------------------------------- fallbacks


def _zxing_reads(image: Image.Image, data: bytes, formats=FORMATS) -> bool:
    return any(b.bytes == data for b in zxingcpp.read_barcodes(image, formats=formats))


def _zbar_reads(image: Image.Image, data: bytes) -> bool:
    return any(d.data == data for d in pyzbar.decode(image))


def _missed(records, variant: str, by_zbar_too: bool = False, on=None) -> list[tuple[corpus.Sample, bytes]]:
    """Samples (as sent: the image bytes, or the image ``on`` makes of it) whose code zxing-cpp, and
    if asked zbar, does not read as it is."""
    found = []
    for sample in corpus.samples(records, [variant]):
        image = Image.open(io.BytesIO(sample.content)).convert("L")
        image = on(image) if on else image
        if not _zxing_reads(image, sample.record.data) and not (by_zbar_too and _zbar_reads(image, sample.record.data)):
            found.append((sample, _encode(image) if on else sample.content))
    return found


def _all_read(missed) -> None:
    for sample, content in missed:
        expected = Decoded(sample.record.symbology, sample.record.data,
                           {"ean13": "EAN13", "sscc": "Code128", "pack": "DataMatrix"}[sample.record.kind])
        assert decode_image(content) == [expected], sample.record.values


def _in_a_large_photo(image: Image.Image) -> Image.Image:
    """Over a megapixel, so that no upscale is tried."""
    photo = Image.new("L", (1100, 920), 200)
    photo.paste(image, (200, 300))
    return photo


def test_noisy_ean13_that_zxing_misses_is_read_by_a_fallback():
    missed = _missed(corpus.ean13_records(8), "noise")
    assert len(missed) >= 6
    _all_read(missed)


@pytest.mark.parametrize("kind", ["ean13", "sscc"])
def test_a_small_code_in_a_large_photo_that_only_zbar_reads_is_read_as_zbar_reads_it(kind):
    records = corpus.sscc_records(6) if kind == "sscc" else corpus.ean13_records(12)
    missed = [(sample, content) for sample, content in _missed(records, "small", on=_in_a_large_photo)
              if not _zxing_reads(_blurred(content), sample.record.data)
              and _zbar_reads(Image.open(io.BytesIO(content)), sample.record.data)]
    assert len(missed) >= 3
    _all_read(missed)


def _blurred(content: bytes) -> Image.Image:
    return Image.open(io.BytesIO(content)).filter(ImageFilter.GaussianBlur(1))


def test_a_tiny_ean13_that_zxing_and_zbar_both_miss_is_read_on_the_upscale():
    missed = _missed(corpus.ean13_records(10), "small", by_zbar_too=True)
    assert len(missed) >= 3
    _all_read(missed)


@pytest.mark.parametrize("variant", ["noise", "blur"])
def test_a_noisy_or_blurred_data_matrix_that_zxing_misses_is_read_on_a_retry(variant):
    missed = _missed(corpus.pack_records(60, seed=7), variant)
    assert len(missed) >= 2
    _all_read(missed)


def test_a_few_scan_lines_of_a_code_read_wrong_are_not_a_second_code():
    sample = next(s for s in corpus.samples(corpus.ean13_records(12), ["photo"], seed=11)
                  if s.record.values == ("3867678758964",))
    image = Image.open(io.BytesIO(sample.content)).convert("L")
    raw = {b.bytes for b in zxingcpp.read_barcodes(image, formats=FORMATS)}
    assert raw == {b"3867678758964", b"3867672758984"}  # zxing-cpp's phantom along the slanted top edge
    assert decode_image(sample.content) == [Decoded("]E0", b"3867678758964", "EAN13")]


def test_an_ean13_finer_than_zxing_can_resolve_is_not_taken_from_zxing_alone():
    sample = next(corpus.samples([corpus.ean13_record("9612834745708")], ["small"]))
    image = Image.open(io.BytesIO(sample.content))
    assert [b.bytes for b in zxingcpp.read_barcodes(image, formats=FORMATS)] == [b"1622831745708"]  # wrong
    assert decode_image(sample.content) == [Decoded("]E0", b"9612834745708", "EAN13")]
