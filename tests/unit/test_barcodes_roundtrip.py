"""Round trips through the project's image generator: labels we draw, degraded as cameras and
uploads degrade them, decode to exactly the element string a scanner must send; a second,
independent encoder (pystrich) agrees with ours."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from pystrich.datamatrix import DataMatrixData, DataMatrixEncoder
from pystrich.gs1 import GS1Fixed, GS1Variable

from pharma.barcodes import corpus
from pharma.barcodes.decode import Decoded, decode_image

# share of images that must decode exactly (BARCODES.md: 100% clean, 99.9% degraded Data Matrix);
# the small corpus here allows one miss in 20 in a degraded variant
MUST_READ = {variant: 1.0 if variant == "clean" else 0.95 for variant in corpus.VARIANTS}
FORMAT = {"pack": "DataMatrix", "ean13": "EAN13", "sscc": "Code128"}


def _read_rates(records, variants=corpus.VARIANTS) -> dict[str, float]:
    read, total = Counter(), Counter()
    for sample in corpus.samples(records, variants, seed=11):
        expected = Decoded(sample.record.symbology, sample.record.data, FORMAT[sample.record.kind])
        found = decode_image(sample.content)
        assert found in ([], [expected]), (sample.variant, sample.record.values, found)  # never a wrong reading
        read[sample.variant] += bool(found)
        total[sample.variant] += 1
    return {variant: read[variant] / total[variant] for variant in total}


def _assert_rates(rates: dict[str, float]) -> None:
    below = {variant: rate for variant, rate in rates.items() if rate < MUST_READ[variant]}
    assert below == {}, rates


def test_pack_labels_decode_to_their_element_string_in_every_variant():
    records = corpus.pack_records(20)
    assert records[0].values[1] == corpus.TRICKY
    _assert_rates(_read_rates(records))


def test_the_element_string_has_gs_only_after_the_batch():
    record = corpus.pack_record("04030096123457", "S/1(2)", "B%7", "270600")
    assert record.data == b"010403009612345717270600" + b"10B%7\x1d21S/1(2)"


def test_ean13_labels_decode_in_every_variant():
    _assert_rates(_read_rates(corpus.ean13_records(12)))


def test_sscc_labels_decode_as_gs1_128_in_every_variant():
    _assert_rates(_read_rates(corpus.sscc_records(8)))


def test_the_corpus_is_the_same_for_the_same_seed_and_differs_for_another():
    records = corpus.pack_records(2) + corpus.ean13_records(1)
    first = [s.content for s in corpus.samples(records, seed=5)]
    assert first == [s.content for s in corpus.samples(corpus.pack_records(2) + corpus.ean13_records(1), seed=5)]
    assert first != [s.content for s in corpus.samples(records, seed=6)]
    assert corpus.pack_records(3, seed=1) != corpus.pack_records(3, seed=2)


def test_photos_are_640_by_480_jpegs():
    from io import BytesIO

    from PIL import Image

    sample = next(corpus.samples(corpus.pack_records(1), ["photo"]))
    image = Image.open(BytesIO(sample.content))
    assert (image.format, image.size) == ("JPEG", corpus.PHOTO_SIZE)


# ---------------------------------------------------------------- a second encoder


def _pystrich(record: corpus.Record):
    gtin, serial, batch, expiry = record.values
    data = DataMatrixData.gs1(GS1Fixed("01", gtin), GS1Fixed("17", expiry), GS1Variable("10", batch),
                              GS1Variable("21", serial))
    from io import BytesIO

    from PIL import Image

    return Image.open(BytesIO(DataMatrixEncoder(data).get_imagedata(cellsize=4))).convert("L")


@pytest.mark.parametrize("variant", ["clean", "rotated15", "jpeg30", "photo"])
def test_pystrich_symbols_of_the_same_data_decode_to_what_ours_decode_to(variant):
    make = corpus.VARIANT_MAKERS[variant]
    for n, record in enumerate(corpus.pack_records(8, seed=4)):
        ours = decode_image(make(record.image(), random.Random(n), "pack"))
        theirs = decode_image(make(_pystrich(record), random.Random(n), "pack"))
        assert ours == theirs == [Decoded("]d2", record.data, "DataMatrix")], record.values
