"""Barcode images: decoding photos (zxing-cpp, with zbar and retries as fallbacks) and drawing
GS1 labels (Data Matrix packs, GS1-128 cases, EAN-13), plus the generator of test images."""

from pharma.barcodes.decode import Decoded, ImageRefused, decode_image
from pharma.barcodes.draw import ean13_label, pack_label, sscc_label

__all__ = ["Decoded", "ImageRefused", "decode_image", "ean13_label", "pack_label", "sscc_label"]
