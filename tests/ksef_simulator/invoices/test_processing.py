"""Lazy processing under concurrency: two workers that picked the same invoice agree on one outcome."""

from __future__ import annotations

import datetime as dt

from ksef_simulator import crypto, ids, processing
from ksef_simulator.models import SimInvoice
from tests.ksef_simulator.invoices import fa3
from tests.ksef_simulator.invoices.conftest import Clock


def test_a_second_worker_does_not_overwrite_the_first(clock: Clock) -> None:
    seller = fa3.nip()
    xml = fa3.invoice(seller=seller, buyer=fa3.nip(), number=fa3.number())
    SimInvoice.objects.create(
        reference_number=ids.reference_number("EE"),
        context_nip=seller,
        xml=xml,
        invoice_hash=crypto.sha256_b64(xml),
        invoice_size=len(xml),
        received_at=clock.now,
        due_at=clock.now,
    )
    first, second = SimInvoice.objects.all()[0], SimInvoice.objects.all()[0]
    processing.process_invoice(first, timing=processing.timings())
    processing.process_invoice(second, timing=processing.timings())
    stored = SimInvoice.objects.get()
    assert stored.status_code == 200
    assert stored.ksef_number == first.ksef_number
    assert ids.ksef_number_is_valid(stored.ksef_number or "")


def test_settle_processes_due_invoices_in_arrival_order(clock: Clock) -> None:
    seller = fa3.nip()
    number = fa3.number()
    references = []
    for offset in (2, 1):  # the later row arrived first
        xml = fa3.invoice(seller=seller, buyer=fa3.nip(), number=number, net=f"{offset}.00")
        invoice = SimInvoice.objects.create(
            reference_number=ids.reference_number("EE"),
            context_nip=seller,
            xml=xml,
            invoice_hash=crypto.sha256_b64(xml),
            invoice_size=len(xml),
            received_at=clock.now - dt.timedelta(seconds=offset),
            due_at=clock.now - dt.timedelta(seconds=offset),
        )
        references.append(invoice.reference_number)
    processing.settle()
    earlier, later = (SimInvoice.objects.get(reference_number=r) for r in references)
    assert (earlier.status_code, later.status_code) == (200, 440)
    assert later.status_extensions == {
        "originalSessionReferenceNumber": "",
        "originalKsefNumber": earlier.ksef_number,
    }
