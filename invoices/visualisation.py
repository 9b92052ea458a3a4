"""The invoice's visualisation (HTML and PDF) and the hook that supplies its QR codes.

``qr_provider`` is a settable callable ``(invoice) -> list[QrCode]``. By default an invoice has no QR code;
ksef_integration sets the provider at start-up to return KOD I (and KOD II for offline invoices) with their
labels (the KSeF number, or "OFFLINE"). This keeps ``invoices`` free of any KSeF knowledge.

The document itself (the HTML shown on the invoice's page and its preview, and the PDF) is made from the
invoice's stored values, its lines and its QR codes only, so it is rendered once per version of those and
kept in the shared cache under ``shown_digest`` (every stored value of the invoice and its lines, the QR
codes — which carry the KSeF state: KSeF number, the hash of the file KSeF holds, KOD II — the language and
the release, ``settings.RELEASE_KEY``). Any change, by a service, the KSeF status mirror, a queryset
``update()``, the admin or a deployment, gives another key: nothing has to be invalidated. The document is
the same for every member of the company (who may see the invoice at all); nothing of the viewer is in it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import segno
from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from invoices import advances

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


@lru_cache(maxsize=2048)
def qr_svg(url: str, *, scale: int = 3) -> str:
    """The QR code as inline SVG markup (no XML declaration), for the HTML pages. A pure function of its
    arguments, so each process keeps the latest codes (~5 KB each) instead of drawing them on every view."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=scale, xmldecl=False, svgns=True, border=2)
    return buffer.getvalue().decode()


DOCUMENT_CACHE_SECONDS = 7 * 24 * 60 * 60


def shown_digest(invoice: Invoice, codes: Sequence[QrCode]) -> str:
    """A digest of everything the document is made from: the invoice's stored values, its lines (the
    prefetched ``invoice.lines.all()``, as the rendering reads them), the QR codes, language and release."""
    lines = invoice.lines.all()
    shown = (
        settings.RELEASE_KEY,
        get_language(),
        settings.SITE_NAME,
        settings.TIME_ZONE,
        [getattr(invoice, field.attname) for field in invoice._meta.concrete_fields],
        [[getattr(line, field.attname) for field in line._meta.concrete_fields] for line in lines],
        [(code.url, code.label) for code in codes],
    )
    return hashlib.blake2b(repr(shown).encode(), digest_size=20).hexdigest()


def document_html(invoice: Invoice, codes: Sequence[QrCode]) -> SafeString:
    """The invoice as HTML (``invoices/_document.html``), rendered once per version of what it shows."""
    key = f"invoices:document:{invoice.pk}:{shown_digest(invoice, codes)}"
    html = cache.get(key)
    if html is None:
        lines = list(invoice.lines.all())
        context = {
            "invoice": invoice,
            "lines_before": [line for line in lines if line.before_correction],
            "lines_after": [line for line in lines if not line.before_correction],
            "show_discount": any(line.discount for line in lines),
            "show_gtu": any(line.gtu for line in lines),
            "pricing": invoice.pricing,
            "invoice_discount": invoice.invoice_discount_total,
            "rate_totals": invoice.rate_totals(),
            "summary": invoice.summary(),
            "stated": invoice.stated,
            "third_parties": invoice.third_parties_shown(),
            # An advance invoice's lines are the order's positions; its totals are the advance's.
            "order_value": advances.order_value(
                lines, currency=invoice.currency, exchange_rate=invoice.exchange_rate
            )
            if invoice.is_advance and lines
            else None,
            # A correction of an advance invoice: the order's value before and after it.
            "order_value_before": _order_value(invoice, [line for line in lines if line.before_correction]),
            "order_value_after": _order_value(
                invoice, [line for line in lines if not line.before_correction]
            ),
            "qr_codes": [{"code": code, "svg": qr_svg(code.url)} for code in codes],
        }
        html = render_to_string("invoices/_document.html", context)
        cache.set(key, html, DOCUMENT_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by our template with autoescaping


def _order_value(invoice: Invoice, lines: Sequence[Any]) -> Any:
    if not invoice.is_advance_correction:
        return None
    return advances.order_value(lines, currency=invoice.currency, exchange_rate=invoice.exchange_rate)


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


# The purchase invoice's payment panel (the VAT white list checks): ``(request, invoice, membership) -> safe
# HTML``; payments sets it at start-up.
PaymentPanelProvider = Callable[[Any, "Invoice", Any], str]


def no_payment_panel(request: Any, invoice: Invoice, membership: Any) -> str:
    return ""


payment_panel_provider: PaymentPanelProvider = no_payment_panel


def set_payment_panel_provider(provider: PaymentPanelProvider | None) -> PaymentPanelProvider:
    """Install ``provider`` (None restores the default) and return the previous one."""
    global payment_panel_provider
    previous = payment_panel_provider
    payment_panel_provider = provider or no_payment_panel
    return previous


def payment_panel_html(request: Any, invoice: Invoice, membership: Any) -> str:
    return payment_panel_provider(request, invoice, membership)
