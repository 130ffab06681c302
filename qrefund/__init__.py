"""qrefund: a multi-tenant refund platform for QR-code payments."""

__version__ = "0.1.0"
