"""Images decoded per second by pharma.barcodes.decode_image, in one process on one core.

    .venv/bin/python bench/decode_photos.py [--records 100] [--seed 1] [--variants photo clean ...]

Generates the corpus first (pharma.barcodes.corpus: packs, EAN-13s and SSCC cases), then times
decode_image on the encoded bytes (opening the image included) per label kind and variant, and
prints images/s, the share read exactly and any wrong reading. The issue's target is at least 50
photos/s (the ``photo`` variant: a 640x480 JPEG); clean images show the ceiling.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pharma.barcodes import corpus  # noqa: E402
from pharma.barcodes.decode import decode_image  # noqa: E402

KINDS = ("pack", "ean13", "sscc")


def records(n: int, seed: int) -> list[corpus.Record]:
    return corpus.pack_records(n, seed) + corpus.ean13_records(n, seed) + corpus.sscc_records(max(1, n // 2), seed)


def run(samples: list[corpus.Sample]) -> dict[tuple[str, str], list]:
    """(kind, variant) -> [images, read exactly, wrong readings, seconds]"""
    figures: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, 0, 0.0])
    for sample in samples:
        started = time.perf_counter()
        found = decode_image(sample.content)
        elapsed = time.perf_counter() - started
        row = figures[(sample.record.kind, sample.variant)]
        right = [d for d in found if (d.symbology, d.data) == (sample.record.symbology, sample.record.data)]
        row[0] += 1
        row[1] += bool(right)
        row[2] += len(found) - len(right)
        row[3] += elapsed
    return figures


def report(figures: dict[tuple[str, str], list], variants: tuple[str, ...]) -> None:
    print(f"{'variant':<11} {'kind':<6} {'images':>6} {'read':>7} {'wrong':>5} {'images/s':>9}")
    for variant in variants:
        total = [0, 0, 0, 0.0]
        for kind in KINDS:
            row = figures.get((kind, variant))
            if row:
                _line(variant, kind, row)
                total = [a + b for a, b in zip(total, row, strict=True)]
        _line(variant, "all", total)


def _line(variant: str, kind: str, row: list) -> None:
    images, read, wrong, seconds = row
    print(f"{variant:<11} {kind:<6} {images:>6} {read / images:>7.1%} {wrong:>5} {images / seconds:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100, help="packs and EAN-13s each; half as many cases")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=list(corpus.VARIANTS), choices=corpus.VARIANTS)
    args = parser.parse_args()
    started = time.perf_counter()
    samples = list(corpus.samples(records(args.records, args.seed), args.variants, seed=args.seed))
    print(f"corpus: {len(samples)} images in {time.perf_counter() - started:.1f} s (not timed below)")
    figures = run(samples)
    report(figures, tuple(args.variants))
    photos = [figures[(k, "photo")] for k in KINDS if (k, "photo") in figures]
    if photos:
        count, seconds = sum(r[0] for r in photos), sum(r[3] for r in photos)
        print(f"photos/s (640x480 JPEG, every kind): {count / seconds:.0f}   target >= 50")


if __name__ == "__main__":
    main()
