"""The project's generator of test images: labels drawn by ``pharma.barcodes.draw``, then degraded
the way printers, cameras and uploads degrade them.

Each record (a pack, an EAN-13 or an SSCC case) knows the symbology identifier and bytes a
scanner must read from it. Each variant is a PNG or JPEG: ``clean``, ``rotated15``,
``rotated90``, ``downscaled`` (to half size), ``small`` (to 45%: 1.35 to 1.8 pixels per
module), ``noise``, ``blur``, ``jpeg30`` and ``photo`` (the label in perspective on a cluttered
640x480 background, unevenly lit, noisy, saved as a JPEG). Pillow only; the same seed always
gives the same images.
"""

from __future__ import annotations

import io
import random
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from pharma.barcodes import draw
from pharma.shared.identifiers import CSET82, gs1_check_digit

VARIANTS = ("clean", "rotated15", "rotated90", "downscaled", "small", "noise", "blur", "jpeg30", "photo")
TRICKY = "!\"%&'()*+,-./:;<=>?_"  # every CSET82 character that is not a letter or a digit
PHOTO_SIZE = (640, 480)
_MODULE_PX = {"pack": 4, "ean13": 3, "sscc": 3}  # pixels per module of the clean images
_PHOTO_WIDTH = {"pack": (110, 160), "ean13": (300, 380), "sscc": (420, 520)}  # the label's width in a photo


@dataclass(frozen=True)
class Record:
    """A label to draw: its kind, the values drawn, and what a scanner must read from it."""

    kind: str  # "pack", "ean13" or "sscc"
    values: tuple[str, ...]
    symbology: str
    data: bytes

    def image(self) -> Image.Image:
        """The clean label, grayscale, with a quiet zone of at least two modules."""
        scale = _MODULE_PX[self.kind]
        if self.kind == "pack":
            symbol = draw.pack_image(draw.pack_data(*self.values), scale=scale)
            return ImageOps.expand(symbol, border=3 * scale, fill=255)
        label = draw.sscc_label if self.kind == "sscc" else draw.ean13_label
        return Image.open(io.BytesIO(label(self.values[0], kind="png", scale=scale))).convert("L")


@dataclass(frozen=True)
class Sample:
    record: Record
    variant: str
    content: bytes  # PNG, or JPEG for jpeg30 and photo


def pack_record(gtin: str, serial: str, batch: str, expiry_raw: str) -> Record:
    data = draw.pack_data(gtin, serial, batch, expiry_raw)
    return Record("pack", (gtin, serial, batch, expiry_raw), "]d2", data.element_string.encode())


def ean13_record(gtin13: str) -> Record:
    return Record("ean13", (gtin13,), "]E0", gtin13.encode())


def sscc_record(sscc: str) -> Record:
    return Record("sscc", (sscc,), "]C1", f"00{sscc}".encode())


def pack_records(count: int, seed: int = 0) -> list[Record]:
    """Packs with random valid data; the first serial holds every tricky character of CSET82."""
    rng = random.Random(f"packs-{seed}")
    return [pack_record(_gtin14(rng), TRICKY if i == 0 else _cset82(rng), _cset82(rng, tricky=0.05),
                        _expiry(rng)) for i in range(count)]


def ean13_records(count: int, seed: int = 0) -> list[Record]:
    rng = random.Random(f"ean13-{seed}")
    return [ean13_record(_gtin14(rng)[1:]) for _ in range(count)]


def sscc_records(count: int, seed: int = 0) -> list[Record]:
    rng = random.Random(f"sscc-{seed}")
    return [sscc_record(_with_check(str(rng.randint(0, 9)) + _digits(rng, 16))) for _ in range(count)]


def samples(records: Iterable[Record], variants: Iterable[str] = VARIANTS, seed: int = 0) -> Iterator[Sample]:
    """Every record in every variant, deterministic for the seed."""
    variants = tuple(variants)
    for n, record in enumerate(records):
        clean = record.image()
        for variant in variants:
            rng = random.Random(f"{seed}-{n}-{variant}")
            yield Sample(record, variant, VARIANT_MAKERS[variant](clean, rng, record.kind))


# ---------------------------------------------------------------- variants


def _clean(image, rng, kind) -> bytes:
    return _encode(image)


def _rotated15(image, rng, kind) -> bytes:
    return _encode(image.rotate(15, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255))


def _rotated90(image, rng, kind) -> bytes:
    return _encode(image.transpose(Image.Transpose.ROTATE_90))


def _downscaled(image, rng, kind) -> bytes:
    return _encode(image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS))


def _small(image, rng, kind) -> bytes:
    return _encode(image.resize((image.width * 9 // 20, image.height * 9 // 20), Image.Resampling.LANCZOS))


def _noise(image, rng, kind) -> bytes:
    return _encode(_noisy(image, rng, sigma=40))


def _blur(image, rng, kind) -> bytes:
    return _encode(image.filter(ImageFilter.GaussianBlur(0.4 * _MODULE_PX[kind])))


def _jpeg30(image, rng, kind) -> bytes:
    return _encode(image, "JPEG", quality=30)


def _photo(image, rng, kind) -> bytes:
    """The label on a cluttered background, in perspective, unevenly lit, slightly out of focus."""
    canvas = _background(rng)
    low, high = _PHOTO_WIDTH[kind]
    scale = rng.uniform(low, high) / image.width
    quad = _quad(image.size, scale, rng)
    coefficients = _perspective(quad, [(0, 0), (image.width, 0), (image.width, image.height), (0, image.height)])
    warped = image.transform(PHOTO_SIZE, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC,
                             fillcolor=255)
    mask = Image.new("L", image.size, 255).transform(PHOTO_SIZE, Image.Transform.PERSPECTIVE, coefficients,
                                                     Image.Resampling.BILINEAR, fillcolor=0)
    canvas.paste(warped, (0, 0), mask)
    lit = ImageChops.multiply(canvas, _gradient(rng, 150, 255))
    return _encode(_noisy(lit.filter(ImageFilter.GaussianBlur(0.7)), rng, sigma=6), "JPEG", quality=75)


VARIANT_MAKERS = {
    "clean": _clean, "rotated15": _rotated15, "rotated90": _rotated90, "downscaled": _downscaled, "small": _small,
    "noise": _noise, "blur": _blur, "jpeg30": _jpeg30, "photo": _photo,
}


# ---------------------------------------------------------------- drawing helpers


def _encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


@cache
def _normal_lut(sigma: float) -> list[int]:
    """Maps a uniform byte to 128 plus Gaussian noise: seeded noise without numpy."""
    normal = NormalDist(128, sigma)
    return [max(0, min(255, round(normal.inv_cdf((i + 0.5) / 256)))) for i in range(256)]


def _noisy(image: Image.Image, rng: random.Random, sigma: float) -> Image.Image:
    noise = Image.frombytes("L", image.size, rng.randbytes(image.width * image.height)).point(_normal_lut(sigma))
    return ImageChops.add(image, noise, scale=1.0, offset=-128)


def _gradient(rng: random.Random, low: int, high: int) -> Image.Image:
    ramp = Image.linear_gradient("L").rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR, expand=True,
                                             fillcolor=128)
    ramp = ramp.crop((ramp.width // 4, ramp.height // 4, ramp.width * 3 // 4, ramp.height * 3 // 4))
    return ramp.resize(PHOTO_SIZE, Image.Resampling.BILINEAR).point(lambda v: low + v * (high - low) // 255)


def _background(rng: random.Random) -> Image.Image:
    """A box's print: a shaded surface with a few blocks and lines of ink."""
    canvas = _gradient(rng, rng.randint(90, 140), rng.randint(170, 230))
    pen = ImageDraw.Draw(canvas)
    width, height = PHOTO_SIZE
    for _ in range(rng.randint(3, 8)):
        x, y = rng.randrange(width), rng.randrange(height)
        box = (x, y, x + rng.randint(20, 200), y + rng.randint(4, 60))
        pen.rectangle(box, fill=rng.randint(0, 255))
    return canvas


def _quad(size: tuple[int, int], scale: float, rng: random.Random) -> list[tuple[float, float]]:
    """Where the label's corners land in the photo: scaled, turned, placed, pulled in perspective."""
    from math import cos, radians, sin

    w, h = size[0] * scale, size[1] * scale
    angle = radians(rng.uniform(-20, 20))
    margin = max(w, h) * 0.65
    cx = rng.uniform(margin, PHOTO_SIZE[0] - margin) if PHOTO_SIZE[0] > 2 * margin else PHOTO_SIZE[0] / 2
    cy = rng.uniform(margin, PHOTO_SIZE[1] - margin) if PHOTO_SIZE[1] > 2 * margin else PHOTO_SIZE[1] / 2
    jitter = 0.08 * min(w, h)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [(cx + x * cos(angle) - y * sin(angle) + rng.uniform(-jitter, jitter),
             cy + x * sin(angle) + y * cos(angle) + rng.uniform(-jitter, jitter)) for x, y in corners]


def _perspective(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> tuple[float, ...]:
    """Pillow's eight PERSPECTIVE coefficients mapping each photo point in ``dst`` to ``src``."""
    rows = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -x * u, -y * u, u])
        rows.append([0, 0, 0, x, y, 1, -x * v, -y * v, v])
    return tuple(_solve(rows))


def _solve(rows: list[list[float]]) -> list[float]:
    """Gauss-Jordan elimination with partial pivoting on an augmented n x (n+1) matrix."""
    n = len(rows)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


# ---------------------------------------------------------------- random identifiers


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _with_check(body: str) -> str:
    return body + str(gs1_check_digit(body))


def _gtin14(rng: random.Random) -> str:
    return _with_check("0" + str(rng.randint(1, 9)) + _digits(rng, 11))


_PLAIN = sorted(set(string.ascii_letters + string.digits))
_CSET82 = sorted(CSET82)


def _cset82(rng: random.Random, tricky: float = 0.3) -> str:
    """1 to 20 characters of CSET82, mostly letters and digits, with tricky ones at the given rate."""
    return "".join(rng.choice(_CSET82) if rng.random() < tricky else rng.choice(_PLAIN)
                   for _ in range(rng.randint(1, 20)))


def _expiry(rng: random.Random) -> str:
    day = 0 if rng.random() < 0.3 else rng.randint(1, 28)
    return f"{rng.randint(25, 35):02d}{rng.randint(1, 12):02d}{day:02d}"
