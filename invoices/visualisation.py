"""The invoice's visualisation (HTML and PDF) and the hook that supplies its QR codes.

``qr_provider`` is a settable callable ``(invoice) -> list[QrCode]``. By default an invoice has no QR code;
ksef_integration sets the provider at start-up to return KOD I (and KOD II for offline invoices) with their
labels (the KSeF number, or "OFFLINE"). This keeps ``invoices`` free of any KSeF knowledge.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import segno

if TYPE_CHECKING:
    from invoices.models import Invoice


@dataclass(frozen=True)
class QrCode:
    url: str
    label: str


QrProvider = Callable[["Invoice"], Sequence[QrCode]]


def no_qr_codes(invoice: Invoice) -> list[QrCode]:
    return []


qr_provider: QrProvider = no_qr_codes


def set_qr_provider(provider: QrProvider | None) -> QrProvider:
    """Install ``provider`` (None restores the default) and return the previous one."""
    global qr_provider
    previous = qr_provider
    qr_provider = provider or no_qr_codes
    return previous


def qr_codes(invoice: Invoice) -> list[QrCode]:
    return list(qr_provider(invoice))


def qr_svg(url: str, *, scale: int = 3) -> str:
    """The QR code as inline SVG markup (no XML declaration), for the HTML pages."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=scale, xmldecl=False, svgns=True, border=2)
    return buffer.getvalue().decode()


def qr_png(url: str, *, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


# The invoice page's KSeF timeline: ``(invoice) -> safe HTML``; ksef_integration sets it at start-up.
TimelineProvider = Callable[["Invoice"], str]


def no_timeline(invoice: Invoice) -> str:
    return ""


timeline_provider: TimelineProvider = no_timeline


def set_timeline_provider(provider: TimelineProvider | None) -> TimelineProvider:
    """Install ``provider`` (None restores the default) and return the previous one."""
    global timeline_provider
    previous = timeline_provider
    timeline_provider = provider or no_timeline
    return previous


def timeline_html(invoice: Invoice) -> str:
    return timeline_provider(invoice)
