"""The receipt's QR code: ``<public base URL>/r/<token>`` as SVG (for screens and
printable receipts) and PNG (for thermal printers), made with segno.

Error correction M (15 %): a creased or smudged paper receipt still scans, and a token
URL stays a small code (version 4-5, about 37 modules square) that prints sharply at
the 203 dpi of a thermal printer with ``scale`` 4-6.
"""

from __future__ import annotations

import io

import segno

from qrefund.platform.config import Settings

BORDER = 4  # the quiet zone the QR standard asks for, in modules
MAX_SCALE = 20


def receipt_url(settings: Settings, token: str) -> str:
    """Where a receipt's QR code leads: the consumer page of that payment."""
    return f"{settings.public_base_url.rstrip('/')}/r/{token}"


def _code(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False, boost_error=False)


def svg(url: str, *, scale: int = 4) -> str:
    """An ``<svg>`` document (with its namespace, no XML declaration), black on white."""
    out = io.BytesIO()
    _code(url).save(out, kind="svg", xmldecl=False, svgns=True, nl=False, light="#fff",
                    scale=max(1, min(scale, MAX_SCALE)), border=BORDER)
    return out.getvalue().decode()


def png(url: str, *, scale: int = 5) -> bytes:
    """A 1-bit PNG, black on white."""
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=max(1, min(scale, MAX_SCALE)), border=BORDER)
    return out.getvalue()
