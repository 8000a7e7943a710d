"""A bulk's scans, read item by item in a tight loop, load exactly as marshmallow's own nested
list loads them: the same items, or the same refusals word for word."""

from __future__ import annotations

import marshmallow as ma
import pytest
from marshmallow import validate

from pharma.verify import schemas as s
from pharma.verify import services as svc


class PlainBulkIn(ma.Schema):
    """BulkIn as marshmallow alone would read it."""

    scans = ma.fields.List(ma.fields.Nested(s.ScanItemIn), required=True,
                           validate=validate.Length(min=1, max=svc.MAX_BULK))
    location_gln = s._gln()


GOOD = {"scan": "]d2010460123456789317270531"}


@pytest.mark.parametrize("scans", [
    [GOOD],
    [GOOD, {"scan": "x", "symbology": None}, {"scan": "", "symbology": "]d2"}, {"scan": "y", "symbology": "d2"}],
    [{"scan": "a" * s.MAX_SCAN}, {"scan": "z", "symbology": "]Q3\n"}],
    [GOOD, {"scan": "a" * (s.MAX_SCAN + 1)}],
    [GOOD, {"scan": None}],
    [GOOD, {}],
    [GOOD, {"scan": 12}],
    [GOOD, {"scan": b"bytes"}],
    [GOOD, {"scan": "x", "symbology": "]d"}],
    [GOOD, {"scan": "x", "symbology": 2}],
    [GOOD, {"scan": "x", "extra": 1}],
    [GOOD, "not an item"],
    [GOOD, None],
    [GOOD, ["scan"]],
    [],
    [GOOD] * (svc.MAX_BULK + 1),
    "not a list",
    {"scan": "x"},
    None,
])
def test_bulk_items_load_as_marshmallow_loads_them(scans):
    def outcome(schema):
        try:
            return "loaded", schema.load({"scans": scans, "location_gln": "4760000000001"})
        except ma.ValidationError as err:
            return "refused", err.messages

    assert outcome(s.BulkIn()) == outcome(PlainBulkIn())


def test_clean_items_take_the_tight_loop():
    field = s.BulkIn().fields["scans"]
    assert isinstance(field, s.ScanItems)
    assert s._plain_item(GOOD) == {"scan": GOOD["scan"], "symbology": None}
    assert s._plain_item({"scan": "x", "extra": 1}) is None


class PlainVerifyIn(s.ScanItemIn):
    """VerifyIn as marshmallow alone would read it."""

    location_gln = s._gln()


@pytest.mark.parametrize("data", [
    GOOD,
    {**GOOD, "location_gln": "4760000000001"},
    {**GOOD, "location_gln": None, "symbology": "]d2"},
    {**GOOD, "location_gln": "1" * 20},
    {**GOOD, "location_gln": "1" * 21},
    {**GOOD, "location_gln": 4760000000001},
    {**GOOD, "symbology": "bad"},
    {**GOOD, "extra": True},
    {"scan": None},
    {"scan": "a" * (s.MAX_SCAN + 1)},
    {},
    [GOOD],
    "text",
    None,
])
def test_a_single_scan_loads_as_marshmallow_loads_it(data):
    def outcome(schema, **kwargs):
        try:
            return "loaded", schema.load(data, **kwargs)
        except ma.ValidationError as err:
            return "refused", err.messages

    assert outcome(s.VerifyIn()) == outcome(PlainVerifyIn())
    assert outcome(s.VerifyIn(), unknown=ma.EXCLUDE) == outcome(PlainVerifyIn(), unknown=ma.EXCLUDE)
