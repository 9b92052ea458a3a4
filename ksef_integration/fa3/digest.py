"""The invoice hash KSeF uses: SHA-256 of the exact XML bytes sent (before encryption)."""

from __future__ import annotations

import base64
import hashlib


def invoice_sha256(xml: bytes) -> bytes:
    """The raw 32-byte digest."""
    return hashlib.sha256(xml).digest()


def invoice_hash(xml: bytes) -> str:
    """Standard Base64 (44 chars, with ``=``): ``invoiceHash``, ``hashOfCorrectedInvoice``, UPO."""
    return base64.b64encode(invoice_sha256(xml)).decode("ascii")


def invoice_hash_url(xml: bytes) -> str:
    """Base64URL without padding (43 chars), as written in QR-code URLs."""
    return base64.urlsafe_b64encode(invoice_sha256(xml)).rstrip(b"=").decode("ascii")
