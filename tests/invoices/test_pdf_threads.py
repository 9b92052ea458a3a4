"""PDF rendering from several threads of one process at once (gunicorn gthread workers).

reportlab reads glyphs for the font subsets through a file position shared by every document using the
font (ttfonts makeSubset); interleaved threads read garbage (IndexError) unless renderings take turns. The
thread switch interval is shortened so that, without the lock, the threads do interleave there.
"""

import sys
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Company
from invoices import pdf, selectors, services
from invoices.models import Invoice
from invoices.pdf import invoice_pdf_render
from invoices.services import LineData, PartyData
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db

THREADS = 6
ROUNDS = 3


def _render_concurrently(invoices: list[Invoice]) -> tuple[list[bytes], list[BaseException]]:
    barrier = threading.Barrier(len(invoices))
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work(invoice: Invoice) -> None:
        try:
            barrier.wait()
            for _ in range(ROUNDS):
                results.append(invoice_pdf_render(invoice))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(invoice,)) for invoice in invoices]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    return results, errors


def test_pdfs_rendered_by_several_threads_at_once_are_all_whole(company_a: Company, monkeypatch: Any) -> None:
    # different invoices, so that the threads' font subsets differ (the race corrupts the shared font)
    invoices = []
    for i in range(THREADS):
        party = PartyData(
            name=f"Łódzka Hurtownia Źródło {i} " + "ąęśćżńó"[i:], nip="5260250274",
            address_line1=f"ul. Żółta {i}", address_line2="90-001 Łódź",
        )  # fmt: skip
        # many distinct glyphs (Latin Extended-A/B), different per thread: long subset loops that overlap
        name = "".join(chr(0x100 + (i * 13 + k) % 300) for k in range(60))
        lines = [LineData(name, Decimal("1"), Decimal("100.00"), "23", "usł.")]
        issued = services.invoice_issue(
            company=company_a, user=None, data=issue_data(party=party, lines=lines)
        )
        invoices.append(selectors.invoice_get_for_company_or_404(company=company_a, invoice_uuid=issued.uuid))
    # the real rendering, watched: how many run at the same moment (the wait widens any overlap)
    render, active, overlaps = pdf._pdf_render, [0], [0]

    def watched(invoice: Invoice, **kwargs: Any) -> bytes:
        active[0] += 1
        overlaps[0] = max(overlaps[0], active[0])
        time.sleep(0.005)
        try:
            return render(invoice, **kwargs)
        finally:
            active[0] -= 1

    monkeypatch.setattr(pdf, "_pdf_render", watched)
    results, errors = _render_concurrently(invoices)
    assert overlaps[0] == 1  # one rendering at a time in the process
    assert errors == []
    assert len(results) == THREADS * ROUNDS
    assert all(pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF") for pdf in results)
