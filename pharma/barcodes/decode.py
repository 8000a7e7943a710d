"""Every code in a photo or scan image, as the symbology identifier and raw bytes a scanner sends.

zxing-cpp reads GS1 Data Matrix reliably and is restricted to the formats packs and cases carry
(all formats halve its speed). For what it misses, zbar reads very small and noisy EAN-13 better
(BARCODES.md), and zxing-cpp reads noisy symbols once smoothed, blurred ones once sharpened and
very small ones once upscaled.
What comes out is ``symbology_identifier`` and ``bytes``, never zxing-cpp's ``text``, which is the
human-readable form and must never be parsed as data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from math import hypot

import zxingcpp
from PIL import Image, ImageFilter, UnidentifiedImageError

from pharma.barcodes import zbar
from pharma.shared.errors import ValidationFailed

F = zxingcpp.BarcodeFormat
FORMATS = (F.DataMatrix, F.EAN13, F.EAN8, F.Code128)  # a UPC-A reads as EAN-13 with a leading 0
ACCEPTED = {"PNG", "JPEG", "MPO"}  # MPO: a camera's JPEG carrying extra frames; the first is read
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Measured on the corpus, EAN-13 at 1.35 px per module: a 2x bilinear upscale reads 83%, 3x 100%.
UPSCALE = 3
MAX_UPSCALE_PIXELS = 1_000_000  # beyond this an upscale costs more than it can find: small codes come in small images
EAN_MODULES = {"EAN13": 95, "EAN8": 67}  # modules from the first guard bar to the last
MIN_EAN_MODULE_PX = 1.5
TOO_MANY_PIXELS = "The image has more than 40 megapixels; send a smaller photo."


@dataclass(frozen=True)
class Decoded:
    """One code: ``]d2`` / ``]C1`` / ``]E0`` ..., the raw bytes with GS (0x1d) between fields, and
    the format ("DataMatrix", "EAN13", "EAN8" or "Code128")."""

    symbology: str
    data: bytes
    format: str


class ImageRefused(ValidationFailed):
    """The upload is not a PNG or JPEG image that may be decoded."""

    code = "BAD_IMAGE"
    title = "The image cannot be decoded"

    def __init__(self, message: str, field: str = "photo") -> None:
        super().__init__({field: [message]}, detail=message)
        self.message = message


def decode_image(content: bytes) -> list[Decoded]:
    """Every code found in a PNG or JPEG image, each once; an empty list when there is none."""
    return decode_pil(open_image(content))


def open_image(content: bytes) -> Image.Image:
    """The image as 8-bit grayscale; anything but a PNG or JPEG within the limits is refused."""
    if len(content) > MAX_BYTES:
        raise ImageRefused(f"The image is {len(content) / 2**20:.1f} MB; at most 20 MB are accepted.")
    try:
        image = Image.open(io.BytesIO(content))
    except Image.DecompressionBombError:
        raise ImageRefused(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError):
        raise ImageRefused("The file is not an image; send a PNG or JPEG photo.") from None
    if image.format not in ACCEPTED:
        raise ImageRefused(f"The image is {image.format}; send a PNG or JPEG photo.")
    if image.width * image.height > MAX_PIXELS:  # only the header is read so far
        raise ImageRefused(TOO_MANY_PIXELS)
    try:
        return _grayscale(image)
    except (OSError, ValueError, SyntaxError):
        raise ImageRefused("The image is damaged or truncated and cannot be read.") from None


def _grayscale(image: Image.Image) -> Image.Image:
    if image.format in ("JPEG", "MPO"):
        image.draft("L", image.size)  # decode straight to grayscale: faster than converting
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    return image.convert("L")


def decode_pil(image: Image.Image) -> list[Decoded]:
    """Every code in a grayscale image. When zxing-cpp finds nothing, zbar reads the linear codes,
    then zxing-cpp retries on a smoothed image (noise), a sharpened one (blurred Data Matrix) and a 3x upscale
    (small codes); the first attempt that finds anything answers. Fallbacks never run for an image whose codes
    were found, so a photo of a Data Matrix costs one zxing-cpp pass."""
    for attempt in ATTEMPTS:
        found = attempt(image)
        if found:
            return list(dict.fromkeys(found))  # a code printed twice is one code
    return []


def _zxing(image: Image.Image, formats) -> list[Decoded]:
    barcodes = zxingcpp.read_barcodes(image, formats=formats)
    return [Decoded(b.symbology_identifier, b.bytes, b.format.name) for b in barcodes
            if _resolved(b) and not any(_conflicting(b, other) for other in barcodes)]


def _resolved(barcode: zxingcpp.Barcode) -> bool:
    """An EAN read at under 1.5 pixels per module is dropped: there zxing-cpp reads wrong GTINs
    with valid check digits (1 in 600 corpus images at 1.35), while zbar and the upscale do not."""
    modules = EAN_MODULES.get(barcode.format.name)
    if modules is None:
        return True
    left, right = barcode.position.top_left, barcode.position.top_right
    return hypot(right.x - left.x, right.y - left.y) / modules >= MIN_EAN_MODULE_PX


def _conflicting(barcode: zxingcpp.Barcode, other: zxingcpp.Barcode) -> bool:
    """Two linear readings with different data from about the same place are one symbol read two
    ways (a few scan lines along a slanted edge, or a tiny symbol), so neither is trusted. Data
    Matrix is exempt: its error correction does not let a symbol read two ways."""
    if other.format != barcode.format or other.bytes == barcode.bytes or barcode.format == F.DataMatrix:
        return False
    a, b = _box(barcode), _box(other)
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _box(barcode: zxingcpp.Barcode) -> tuple[float, float, float, float]:
    """The reading's bounding box, grown by a tenth of its size on every side."""
    p = barcode.position
    xs = [c.x for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
    ys = [c.y for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
    margin = max(max(xs) - min(xs), max(ys) - min(ys)) / 10
    return min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin


def _first_pass(image: Image.Image) -> list[Decoded]:
    return _zxing(image, FORMATS)


def _zbar(image: Image.Image) -> list[Decoded]:
    return [Decoded(*reading) for reading in zbar.read(image)]


def _smoothed(image: Image.Image) -> list[Decoded]:
    return _zxing(image.filter(ImageFilter.GaussianBlur(1)), FORMATS)


def _sharpened(image: Image.Image) -> list[Decoded]:
    # Data Matrix only: its error correction rejects what sharpening invents, while a sharpened
    # small EAN-13 was misread (a wrong GTIN with a valid check digit) in 2 of 100 corpus images
    return _zxing(image.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=0)), (F.DataMatrix,))


def _upscaled(image: Image.Image) -> list[Decoded]:
    if image.width * image.height > MAX_UPSCALE_PIXELS:
        return []
    size = (image.width * UPSCALE, image.height * UPSCALE)
    return _zxing(image.resize(size, Image.Resampling.BILINEAR), FORMATS)


ATTEMPTS = (_first_pass, _zbar, _smoothed, _sharpened, _upscaled)
