"""The parser's one-pass reading of a clean pack code gives exactly what the general reader gives:
the same ParsedScan, or (by leaving the scan to it) the same refusal, over the parser's corpus and
mutations of it."""

from __future__ import annotations

import dataclasses
import random

import pytest

from pharma.shared.identifiers import CSET82
from pharma.verify import parser as p
from pharma.verify.parser import DEFAULT_GS_SUBSTITUTES, GS, ScanRefused, parse_scan
from tests.unit import test_verify_parser as corpus
from tests.unit.test_verify_parser import PACK, TODAY, Record, element_string, with_check

KWARGS = ({}, {"symbology": "]d2"}, {"symbology": "d2"}, {"symbology": "]Q3"}, {"symbology": "]d1"},
          {"gs_substitutes": ("<GS>",)})


def _outcome(read, raw, kwargs):
    try:
        return "read", read(raw, kwargs)
    except ScanRefused as err:
        return "refused", err.code, err.message
    except Exception as err:  # whatever the general reader raises, the fast one must raise too
        return "raised", type(err), str(err)


def _with_fast_path(raw, kwargs):
    return parse_scan(raw, today=TODAY, **kwargs)


def _general(raw, kwargs):
    text, opts = p._setup(raw, kwargs.get("symbology"), kwargs.get("gs_substitutes", DEFAULT_GS_SUBSTITUTES),
                          TODAY)
    return p._read(text, opts, None)


def _fast_only(raw, kwargs):
    text, opts = p._setup(raw, kwargs.get("symbology"), kwargs.get("gs_substitutes", DEFAULT_GS_SUBSTITUTES),
                          TODAY)
    return p._clean_pack(text, opts)


_POOL = "0123456789ABCabc-/ ~^]{}" + GS + "\r\n\t()%\"'йЁə" + "".join(sorted(CSET82))[:10]


def _mutations(text: str, rng: random.Random) -> list[str]:
    out = [text, text[:-1], text[1:], text + GS, " " + text, text + "\r\n", text.replace(GS, ""),
           text.replace(GS, "~"), text.swapcase(), text.replace("]d2", "]D2"), text.replace("]d2", "]Q3"),
           text.replace("]d2", "]d1"), text.replace("]d2", "]e0"), text.replace("]d2", ""), text + "21X",
           text + GS + "10LOT", text + "91ABC", text + GS + "17" + "260230"]
    for _ in range(12):
        i = rng.randrange(len(text) + 1)
        choice = rng.random()
        if choice < 0.4:
            out.append(text[:i] + rng.choice(_POOL) + text[i:])
        elif choice < 0.7:
            out.append(text[:i] + text[i + 1:])
        else:
            out.append(text[:i] + rng.choice(_POOL) + text[i + 1:])
    return out


def _records(rng: random.Random, n: int) -> list[Record]:
    alphabets = ["".join(sorted(CSET82)), "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", "0123456789"]
    records = [corpus._random_record(rng, alphabets[i % 3]) for i in range(n)]
    odd = [Record(PACK.gtin, "A" * 20, "B" * 20, "270500"), Record(PACK.gtin, "1", "2", "280229"),
           Record(PACK.gtin, "x", "y", "270229"), Record(PACK.gtin, "S" * 21, "L", "271301"),
           Record(PACK.gtin, "S", "L" * 21, "270431"), Record(PACK.gtin[:-1] + "0", "S", "L", "270101"),
           Record("0" + with_check("0000000000001"), "S", "L", "991231")]
    return records + odd


def _corpus(rng: random.Random) -> list[tuple[object, dict]]:
    cases: list[tuple[object, dict]] = []
    for record in _records(rng, 150):
        for serial_first in (True, False):
            for prefix in ("]d2", ""):
                text = prefix + element_string(record, serial_first=serial_first)
                cases += [(m, rng.choice(KWARGS)) for m in _mutations(text, rng)]
                cases.append((text, {}))
        raw, _faults = corpus._as_scanned(record, rng)
        cases += [(raw, {}), (raw.encode("utf-8", "replace"), {})]
    refusals = corpus.test_what_cannot_be_read_for_sure_is_refused_with_its_code_and_exact_message.pytestmark
    cases += [(raw, kwargs) for raw, kwargs, _code, _message in refusals[0].args[1]]
    cases += [("]d2" + element_string(PACK), k) for k in KWARGS]
    cases += [(f"01{PACK.gtin}17{PACK.expiry}10{PACK.batch}", {}), (f"01{PACK.gtin}21{PACK.serial}", {}),
              (f"01{PACK.gtin}17{PACK.expiry}", {}), (f"01{PACK.gtin}", {}), (f"01{PACK.gtin}{GS}", {}),
              (f"01{PACK.gtin}17{PACK.expiry}21A{GS}21A", {}), (f"01{PACK.gtin}01{PACK.gtin}", {}),
              ("]d2", {}), ("]d201", {}), (f"]d201{PACK.gtin}10{GS}21A", {})]
    return cases


def test_the_one_pass_reading_of_a_clean_pack_is_exactly_the_general_readers():
    rng = random.Random(7)
    cases = _corpus(rng)
    taken = 0
    for raw, kwargs in cases:
        fast = _outcome(_fast_only, raw, kwargs)
        general = _outcome(_general, raw, kwargs)
        assert _outcome(_with_fast_path, raw, kwargs) == general, (raw, kwargs)
        if fast[0] == "read" and fast[1] is not None:
            taken += 1
            assert fast == general, (raw, kwargs)
            scan = fast[1]
            assert scan == dataclasses.replace(scan) and hash(scan) == hash(dataclasses.replace(scan))
    assert len(cases) > 15_000
    assert taken > 2_000  # the one-pass reading is really what reads the clean scans


@pytest.mark.parametrize("prefix", ["]d2", ""])
def test_a_clean_pack_code_is_read_in_one_pass(prefix):
    scan = _fast_only(prefix + element_string(PACK), {})
    assert scan is not None and scan == _general(prefix + element_string(PACK), {})


@pytest.mark.parametrize("raw", [
    element_string(PACK, sep=""),  # a lost GS: for the general reader's search
    element_string(PACK, sep="~"),  # a substitute: repaired, and said so
    "]d2" + element_string(PACK) + "\r\n",  # something to trim
    "]D2" + element_string(PACK),  # Caps Lock
    f"01{PACK.gtin}17{PACK.expiry}10{PACK.batch}",  # the last field variable without any GS
])
def test_anything_but_a_clean_pack_code_goes_to_the_general_reader(raw):
    assert _fast_only(raw, {}) is None
