"""zbar, through pyzbar's ctypes bindings, for the linear codes zxing-cpp misses.

``pyzbar.decode`` loses what GS1-128 needs: zbar drops a Code 128 symbol's leading FNC1 and
reports it only as the symbol's GS1 modifier (later FNC1s come through as GS, 0x1d), and pyzbar
does not expose modifiers. So this module drives zbar's image scanner itself and reads
``zbar_symbol_get_modifiers``: a GS1 symbol is ``]C1``, any other Code 128 ``]C0``. zbar has no
Data Matrix decoder at all.
"""

from __future__ import annotations

from ctypes import POINTER, c_uint, c_void_p, cast, string_at

from PIL import Image
from pyzbar import wrapper as zw

_SYMBOL = POINTER(zw.zbar_symbol)
_get_type = zw.zbar_function("zbar_symbol_get_type", c_uint, _SYMBOL)
_get_modifiers = zw.zbar_function("zbar_symbol_get_modifiers", c_uint, _SYMBOL)
_GS1 = 1 << 0  # ZBAR_MOD_GS1
_Y800 = int.from_bytes(b"Y800", "little")  # 8-bit grayscale
_ALL = 0  # ZBAR_NONE: a setting applied to every symbology
_ENABLE = zw.ZBarConfig.CFG_ENABLE
# zbar symbology -> (AIM symbology identifier, format name as zxing-cpp names it)
SYMBOLOGIES = {
    zw.ZBarSymbol.EAN13: ("]E0", "EAN13"),
    zw.ZBarSymbol.EAN8: ("]E4", "EAN8"),
    zw.ZBarSymbol.CODE128: ("]C0", "Code128"),
}


def read(image: Image.Image) -> list[tuple[str, bytes, str]]:
    """(symbology identifier, raw bytes, format) of each EAN-13, EAN-8 or Code 128 in a grayscale image."""
    scanner = zw.zbar_image_scanner_create()
    img = zw.zbar_image_create()
    pixels = image.tobytes()
    try:
        zw.zbar_image_scanner_set_config(scanner, _ALL, _ENABLE, 0)
        for symbology in SYMBOLOGIES:
            zw.zbar_image_scanner_set_config(scanner, symbology, _ENABLE, 1)
        zw.zbar_image_set_format(img, _Y800)
        zw.zbar_image_set_size(img, image.width, image.height)
        zw.zbar_image_set_data(img, cast(pixels, c_void_p), len(pixels), None)  # pixels outlive the scan
        zw.zbar_scan_image(scanner, img)
        return [_symbol(s) for s in _symbols(img)]
    finally:
        zw.zbar_image_destroy(img)
        zw.zbar_image_scanner_destroy(scanner)


def _symbols(img):
    symbol = zw.zbar_image_first_symbol(img)
    while symbol:
        yield symbol
        symbol = zw.zbar_symbol_next(symbol)


def _symbol(symbol) -> tuple[str, bytes, str]:
    identifier, name = SYMBOLOGIES[zw.ZBarSymbol(_get_type(symbol))]
    if name == "Code128" and _get_modifiers(symbol) & _GS1:
        identifier = "]C1"
    data = string_at(zw.zbar_symbol_get_data(symbol), zw.zbar_symbol_get_data_length(symbol))
    return identifier, data, name
