"""Limits on what a decoder accepts, importable without loading any codec."""

DEFAULT_MAX_PIXELS = 150_000_000
"""Images with more pixels are refused from their header, before decoding (a
1200 dpi scan of an 8 x 10 inch print is 115 megapixels)."""
