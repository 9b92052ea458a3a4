"""The invoice as a PDF (reportlab), with the QR codes the visualisation hook supplies and their labels.

A PDF is rendered once per version of what it shows and then served from the cache (``invoice_pdf_bytes``),
under the invoice's id and ``invoices.visualisation.shown_digest`` (every stored value of the invoice and
its lines, the QR codes with the KSeF state, language and release): nothing has to invalidate it, and an
old version simply expires. Kept in the cache rather than in storage: it is made again from the database
whenever needed, so losing it (eviction, a flushed Redis) costs one rendering and nothing else.

DejaVu Sans is embedded when the system has it, so Polish letters render; otherwise the PDF falls back to
Helvetica (which cannot show ą, ę, ł …), and says so in the log.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import LayoutError

from invoices import advances
from invoices.formatting import bank_account, money, price, quantity, rate_code
from invoices.models import Invoice, InvoiceKind, InvoiceLine, KsefStatus
from invoices.totals import MARGIN, DueKind
from invoices.visualisation import QrCode, qr_png, shown_digest

logger = logging.getLogger(__name__)

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_fonts: tuple[str, str] | None = None
# reportlab's TrueType fonts keep per-document subset state on the shared, registered font objects
# (ttfonts makeSubset), so two renderings at once in one process (gthread workers) corrupt each other
# (IndexError). One rendering at a time per process; processes do not share fonts.
_RENDER_LOCK = threading.Lock()


def _font_names() -> tuple[str, str]:
    """(regular, bold) font names, registering DejaVu Sans once if it is installed."""
    global _fonts
    if _fonts is None:
        for folder in FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
                pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
                _fonts = ("DejaVuSans", "DejaVuSans-Bold")
                break
        else:
            logger.warning(
                "DejaVu Sans not found; invoice PDFs fall back to Helvetica without Polish letters"
            )
            _fonts = ("Helvetica", "Helvetica-Bold")
    return _fonts


def _title(invoice: Invoice) -> str:
    return invoice.title


# A table cell cannot continue on the next page: its text is folded to this many lines (the rest of the
# lines joined into the last one, which wraps), so any name or address lays out. Free text outside tables
# (notes, the correction's reason) splits across pages and is kept whole.
CELL_LINES = 12
COMPACT_LINES = 3
COMPACT_CHARS = 300


def fold(text: str, *, max_lines: int = CELL_LINES, max_chars: int | None = None) -> str:
    """``text`` with blank lines dropped and at most ``max_lines`` lines (and ``max_chars`` characters)."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    folded = "\n".join(lines)
    if max_chars is not None and len(folded) > max_chars:
        folded = folded[: max_chars - 1] + "…"
    return folded


PDF_CACHE_SECONDS = 7 * 24 * 60 * 60


def invoice_pdf_bytes(invoice: Invoice, *, qr_codes: Sequence[QrCode] = ()) -> bytes:
    """The invoice's PDF, rendered once per version of what it shows and kept in the cache."""
    key = f"invoices:pdf:{invoice.pk}:{shown_digest(invoice, qr_codes)}"
    pdf: bytes | None = cache.get(key)
    if pdf is None:
        pdf = invoice_pdf_render(invoice, qr_codes=qr_codes)
        cache.set(key, pdf, PDF_CACHE_SECONDS)
    return pdf


def invoice_pdf_render(invoice: Invoice, *, qr_codes: Sequence[QrCode] = ()) -> bytes:
    """The invoice as PDF bytes; safe to call from several threads (they take turns).

    Whatever the invoice's texts are, it lays out: table cells are folded (``fold``), and should a page
    still overflow, the PDF is made again with every text cut short (``compact``)."""
    with _RENDER_LOCK:
        try:
            return _pdf_render(invoice, qr_codes=qr_codes, compact=False)
        except LayoutError:
            logger.warning("invoice %s: the PDF did not lay out; made again with shortened texts", invoice.pk)
            return _pdf_render(invoice, qr_codes=qr_codes, compact=True)


def _pdf_render(invoice: Invoice, *, qr_codes: Sequence[QrCode], compact: bool) -> bytes:
    regular, bold = _font_names()
    base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=12)
    small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5)
    head = ParagraphStyle("head", parent=base, fontName=bold, fontSize=16, leading=20)
    label = ParagraphStyle(
        "label", parent=base, fontName=bold, fontSize=9, textColor=colors.HexColor("#5b6675")
    )
    center = ParagraphStyle("center", parent=small, alignment=1)
    center_bold = ParagraphStyle("center_bold", parent=center, fontName=bold, fontSize=9, leading=12)

    def p(text: str, style: ParagraphStyle = base) -> Paragraph:
        if compact:
            text = fold(text, max_lines=COMPACT_LINES, max_chars=COMPACT_CHARS)
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    def cell(text: str, style: ParagraphStyle = base) -> Paragraph:
        return p(fold(text), style)

    story: list[Flowable] = [p(_title(invoice), head), Spacer(1, 2 * mm)]
    meta = [
        f"{_('Issue date')}: {date_format(invoice.issue_date, 'd.m.Y')}",
    ]
    if invoice.sale_date:
        meta.append(f"{_('Sale date')}: {date_format(invoice.sale_date, 'd.m.Y')}")
    if invoice.period_from and invoice.period_to:
        start, end = date_format(invoice.period_from, "d.m.Y"), date_format(invoice.period_to, "d.m.Y")
        meta.append(f"{_('Billing period')}: {start} \u2013 {end}")
    if invoice.place_of_issue:
        meta.append(f"{_('Place of issue')}: {invoice.place_of_issue}")
    if invoice.ksef_number:
        meta.append(f"{_('KSeF number')}: {invoice.ksef_number}")
    if invoice.ksef_number and invoice.ksef_acquisition_date:
        received = timezone.localtime(invoice.ksef_acquisition_date)
        meta.append(f"{_('received by KSeF')}: {date_format(received, 'd.m.Y H:i:s')}")
    story += [p(" · ".join(meta)), Spacer(1, 5 * mm)]

    def party(
        title: str,
        name: str,
        nip: str,
        foreign: str,
        line1: str,
        line2: str,
        country: str,
        registries: Sequence[str] = (),
    ) -> list[Paragraph]:
        ident = f"NIP {nip}" if nip else foreign
        lines = [
            fold(x, max_lines=4)
            for x in (name, line1, line2, country if country != "PL" else "", ident, *registries)
        ]
        return [p(title, label), cell("\n".join(x for x in lines if x))]

    parties = Table(
        [
            [
                party(
                    _("Seller"),
                    invoice.seller_name,
                    invoice.seller_nip,
                    invoice.seller_foreign_id,
                    invoice.seller_address_line1,
                    invoice.seller_address_line2,
                    invoice.seller_country_code,
                    registries=[
                        f"{label} {value}"
                        for label, value in (
                            ("KRS", invoice.seller_krs),
                            ("REGON", invoice.seller_regon),
                            ("BDO", invoice.seller_bdo),
                        )
                        if value
                    ],
                ),
                party(
                    _("Buyer"),
                    invoice.buyer_name,
                    invoice.buyer_nip,
                    invoice.buyer_foreign_id,
                    invoice.buyer_address_line1,
                    invoice.buyer_address_line2,
                    invoice.buyer_country_code,
                ),
            ]
        ],
        colWidths=[90 * mm, 90 * mm],
        hAlign="LEFT",
    )
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story += [parties, Spacer(1, 3 * mm)]
    for third in invoice.third_parties_shown():  # Podmiot3: recipient, payer…
        story += party(
            str(third["role_label"]).capitalize(),
            str(third.get("name") or ""),
            str(third.get("nip") or ""),
            str(third.get("foreign_id") or ""),
            str(third.get("address_line1") or ""),
            str(third.get("address_line2") or ""),
            str(third.get("country_code") or "PL"),
        )
    story.append(Spacer(1, 2 * mm))

    if invoice.is_correction:
        corrected = _("Corrects invoice %(number)s of %(date)s") % {
            "number": invoice.corrected_number,
            "date": date_format(invoice.corrected_issue_date, "d.m.Y")
            if invoice.corrected_issue_date
            else "",
        }
        if invoice.corrected_ksef_number:
            corrected += f" (KSeF {invoice.corrected_ksef_number})"
        story += [
            p(corrected),
            p(f"{_('Reason for the correction')}: {invoice.correction_reason}"),
            Spacer(1, 3 * mm),
        ]

    lines = list(invoice.lines.all())
    show_discount = any(line.discount for line in lines)
    show_gtu = any(line.gtu for line in lines)
    pricing = invoice.pricing
    # The amounts each line shows: net-priced lines all of them; gross-priced ones (art. 106e ust. 7-8) the
    # gross price and value with the rate; lines in a margin scheme the price and value only (ust. 2-3).
    amount_heads = {
        "net": [_("Net value"), _("VAT rate"), _("VAT"), _("Gross")],
        "gross": [_("VAT rate"), _("Gross value")],
        "margin": [_("Value")],
    }[pricing]
    price_head = {"net": _("Net price"), "gross": _("Gross price"), "margin": _("Price")}[pricing]
    header = [
        _("No."),
        _("Name"),
        _("Qty"),
        _("Unit"),
        price_head,
        *([_("Discount")] if show_discount else []),
        *amount_heads,
        *(["GTU"] if show_gtu else []),
    ]
    amount_widths = {"net": [20, 16, 18, 20], "gross": [16, 22], "margin": [22]}[pricing]
    widths = [10, 14, 12, 20, *([18] if show_discount else []), *amount_widths, *([15] if show_gtu else [])]
    widths.insert(1, 180 - sum(widths))  # the name takes what the other columns leave
    groups: list[tuple[str | None, list[InvoiceLine]]] = [
        (None, [x for x in lines if not x.before_correction])
    ]
    if invoice.is_advance_correction:
        groups = [
            (_("The order before the correction"), [x for x in lines if x.before_correction]),
            (_("The order after the correction"), [x for x in lines if not x.before_correction]),
        ]
    elif invoice.is_correction:
        groups = [
            (_("Before correction"), [x for x in lines if x.before_correction]),
            (_("After correction"), [x for x in lines if not x.before_correction]),
        ]
    elif invoice.is_advance and lines:
        groups = [(_("The order (contract) the advance is for"), lines)]
    for title, group in groups:
        if title:
            story.append(p(title, label))
        rows: list[list[object]] = [[p(h, small) for h in header]]
        for line in group:
            rows.append(
                [
                    str(line.ordinal),
                    cell(
                        " · ".join(
                            [f"{line.name} ({_('Annex 15')})" if line.annex15 else line.name, *line.codes()]
                        ),
                        small,
                    ),
                    quantity(line.quantity),
                    cell(line.unit, small),
                    price(
                        line.unit_price
                        if pricing == "net" or line.unit_price_gross is None
                        else line.unit_price_gross
                    ),
                    *([money(line.discount) if line.discount else "—"] if show_discount else []),
                    *_line_amounts(line, pricing),
                    *([line.gtu or "—"] if show_gtu else []),
                ]
            )
        table = Table(rows, colWidths=[w * mm for w in widths], repeatRows=1)
        table.setStyle(_table_style(regular, bold))
        story += [table, Spacer(1, 4 * mm)]

    if invoice.is_advance and lines:
        value = advances.order_value(lines, currency=invoice.currency, exchange_rate=invoice.exchange_rate)
        story += [
            p(f"{_('Order value including VAT')}: {money(value)} {invoice.currency}"),
            p(_("The advance received"), label),
        ]
    stated = invoice.stated
    if invoice.is_advance_correction and stated is not None:
        for title, side in (
            (_("The order before the correction"), True),
            (_("The order after the correction"), False),
        ):
            value = advances.order_value(
                [x for x in lines if x.before_correction == side],
                currency=invoice.currency,
                exchange_rate=invoice.exchange_rate,
            )
            story.append(p(f"{title}: {_('Order value including VAT')} {money(value)} {invoice.currency}"))
        story += [
            p(f"{_('Advance before the correction')}: {money(stated.paid_before, invoice.currency)}"),
            p(f"{_('Advance after the correction')}: {money(stated.paid_after, invoice.currency)}"),
            p(_("Change of the advance's tax, per rate"), label),
        ]
    if invoice.advance_refs:
        story.append(p(_("Advance invoices settled"), label))
        for ref in invoice.advance_refs:
            story.append(
                p(ref["number"] + (f" (KSeF {ref['ksef_number']})" if ref.get("ksef_number") else ""))
            )
        if invoice.kind == InvoiceKind.KOR_ROZ and stated is not None:
            before, after = (
                money(stated.paid_before, invoice.currency),
                money(stated.paid_after, invoice.currency),
            )
            story += [
                p(f"{_('Left to pay before the correction')}: {before}"),
                p(f"{_('Left to pay after the correction')}: {after}"),
                p(_("Change after deducting the advances"), label),
            ]
        else:
            story.append(p(_("After deducting the advances"), label))

    summary = invoice.summary()
    currency_pln = invoice.currency != "PLN"
    heads = [_("VAT rate"), _("Net"), _("VAT"), _("Gross")] + ([_("VAT in PLN")] if currency_pln else [])
    totals_rows: list[list[object]] = [[p(h, small) for h in heads]]
    for total in invoice.rate_totals():
        row: list[object] = [
            _rate_label(total.vat_rate),
            money(total.net),
            money(total.vat) if total.stated_vat and total.vat_rate != MARGIN else "—",
            money(total.gross),
        ]
        if currency_pln:
            row.append(money(total.vat_pln) if total.vat_pln is not None else "—")
        totals_rows.append(row)
    total_row: list[object] = [
        _("Total"),
        money(summary.net) if summary.net is not None else "—",
        money(summary.vat) if summary.vat is not None else "—",
        money(summary.gross),
    ]
    if currency_pln:
        total_row.append(money(summary.vat_pln) if summary.vat_pln is not None else "")
    totals_rows.append(total_row)
    widths = [30 * mm, 25 * mm, 25 * mm, 25 * mm] + ([25 * mm] if currency_pln else [])
    totals = Table(totals_rows, colWidths=widths, hAlign="RIGHT")
    style = _table_style(regular, bold, first_number_column=1)
    style.add("FONTNAME", (0, -1), (-1, -1), bold)
    totals.setStyle(style)
    story += [totals, Spacer(1, 4 * mm)]

    stated = invoice.stated
    if stated is not None and stated.settlement is not None:
        settlement = stated.settlement
        rows_s: list[list[object]] = [[p(_("Settlement"), small), ""]]
        rows_s += [[cell(f"{_('Charge')}: {e.reason}", small), money(e.amount)] for e in settlement.charges]
        if settlement.charges_total is not None:
            rows_s.append([_("Charges in total"), money(settlement.charges_total)])
        rows_s += [
            [cell(f"{_('Deduction')}: {e.reason}", small), money(e.amount)] for e in settlement.deductions
        ]
        if settlement.deductions_total is not None:
            rows_s.append([_("Deductions in total"), money(settlement.deductions_total)])
        table_s = Table(rows_s, colWidths=[80 * mm, 25 * mm], hAlign="RIGHT")
        table_s.setStyle(_table_style(regular, bold, first_number_column=1))
        story += [table_s, Spacer(1, 4 * mm)]

    due_label = {
        DueKind.DUE: _("Amount due"),
        DueKind.DIFFERENCE: _("Difference to settle"),
        DueKind.TO_SETTLE: _("Amount to settle"),
    }[summary.due_kind]
    story.append(
        p(
            f"{due_label}: {money(summary.due, invoice.currency)}",
            ParagraphStyle("due", parent=base, fontName=bold, fontSize=12, leading=16),
        )
    )
    payment = []
    if invoice.payment_method:
        payment.append(f"{_('Payment method')}: {invoice.get_payment_method_display()}")
    if invoice.due_date:
        payment.append(f"{_('Due date')}: {date_format(invoice.due_date, 'd.m.Y')}")
    if invoice.paid_on:
        payment.append(f"{_('Paid')}: {date_format(invoice.paid_on, 'd.m.Y')}")
    for amount, paid_on in invoice.partial_payments_made():
        payment.append(
            f"{_('Partly paid')}: {money(amount)} {invoice.currency} ({date_format(paid_on, 'd.m.Y')})"
        )
    if invoice.bank_account:
        payment.append(f"{_('Bank account')}: {bank_account(invoice.bank_account)}")
    if invoice.split_payment:
        payment.append(_("Split payment mechanism"))
    if invoice.cash_accounting:
        payment.append(_("Cash accounting"))
    if invoice.self_billing:
        payment.append(_("Self-billing"))
    if invoice.related_parties:
        payment.append(f"TP — {_('related parties')}")
    if invoice.reverse_charge():
        payment.append(_("Reverse charge"))
    if invoice.margin_scheme:
        payment.append(invoice.margin_label)
    if pricing == "gross":
        payment.append(
            _(
                "Prices include VAT: the tax of each rate is computed from its gross total "
                "(art. 106e ust. 7-8)."
            )
        )
    invoice_discount = invoice.invoice_discount_total
    if invoice_discount:
        percent = invoice.discount_percent
        shown = f"{percent.normalize():f}".replace(".", ",") + "% — " if percent else ""
        included = _("included in the lines' discounts")
        payment.append(
            f"{_('Discount on the whole invoice')}: {shown}{money(invoice_discount)} {invoice.currency}"
            f" ({included})"
        )
    if invoice.exemption_shown():
        basis = invoice.get_exemption_basis_display()
        payment.append(f"{_('Exempt from VAT under')}: {invoice.exemption_text} ({basis})")
    if invoice.currency != "PLN" and invoice.exchange_rate:
        payment.append(f"{_('Exchange rate')}: {invoice.exchange_rate.normalize():f} PLN/{invoice.currency}")
    elif invoice.currency != "PLN" and stated is not None and stated.exchange_rate:
        payment.append(f"{_('Exchange rate')}: {stated.exchange_rate} PLN/{invoice.currency}")
    if payment:
        story.append(p("\n".join(payment)))
    if invoice.notes:
        story += [Spacer(1, 3 * mm), p(_("Notes"), label), p(invoice.notes)]

    if qr_codes:
        story.append(Spacer(1, 6 * mm))
        cells = []
        for code in qr_codes:
            image = Image(io.BytesIO(qr_png(code.url)), width=32 * mm, height=32 * mm)
            cells.append([_LinkedImage(image, code.url), p(code.label, center_bold), p(code.url, center)])
        qr_table = Table([cells], colWidths=[60 * mm] * len(cells), hAlign="LEFT")
        qr_table.setStyle(
            TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER")])
        )
        story.append(qr_table)
    elif invoice.ksef_status == KsefStatus.NOT_SENT and invoice.direction == "sales":
        story += [Spacer(1, 4 * mm), p(_("This invoice has not been sent to KSeF."), small)]

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=_title(invoice),
        author=invoice.seller_name,
        subject=invoice.number,
        creator=settings.SITE_NAME,
    )
    doc.build(story)
    return buffer.getvalue()


def _line_amounts(line: InvoiceLine, pricing: str) -> list[str]:
    if pricing == "margin":
        return [money(line.gross_value)]
    if pricing == "gross":
        return [_rate_label(line.vat_rate), money(line.gross_value)]
    return [
        money(line.net_value),
        line.get_vat_rate_display(),
        money(line.vat_amount),
        money(line.gross_value),
    ]


def _rate_label(code: str) -> str:
    from invoices.models import VatRate

    return str(VatRate(code).label) if code in VatRate.values else rate_code(code)


def _table_style(regular: str, bold: str, *, first_number_column: int = 2) -> TableStyle:
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), regular),
            ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8f1fb")),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b9c3cf")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (first_number_column, 1), (-1, -1), "RIGHT"),
        ]
    )


class _LinkedImage(Flowable):
    """An image that is also a link to ``url`` (so a reader can click the QR code)."""

    def __init__(self, image: Image, url: str) -> None:
        super().__init__()
        self.image = image
        self.url = url

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        width, height = self.image.wrap(available_width, available_height)
        self.width, self.height = width, height
        return width, height

    def draw(self) -> None:
        self.image.drawOn(self.canv, 0, 0)
        self.canv.linkURL(self.url, (0, 0, self.width, self.height), relative=1)
