"""Show invoices imported before this change as their issuers wrote them (kind, P_13_x/P_14_x/P_14_xW,
P_15, Rozliczenie), read again from the XML KSeF gave us.

Only invoices the import created: they have KSeF's XML (``ImportedDocument``) and were never sent by the
portal (no ``Submission``). Invoices made in the portal keep their computed totals. Safe to run again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from invoices.models import Invoice
from ksef_integration.importing.mapping import imported_restate
from ksef_integration.models import ImportedDocument


class Command(BaseCommand):
    help = "Keep the amounts of invoices imported earlier as their XML states them."

    def handle(self, *args: Any, **options: Any) -> None:
        documents = ImportedDocument.objects.filter(
            invoice__stated_kind="", invoice__ksef_submission__isnull=True
        ).values_list("invoice_id", flat=True)
        restated = skipped = 0
        for invoice_id in documents.iterator():
            with transaction.atomic():
                invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
                xml = bytes(ImportedDocument.objects.get(invoice_id=invoice_id).xml)
                if imported_restate(invoice=invoice, xml=xml):
                    restated += 1
                else:
                    skipped += 1
        self.stdout.write(f"restated {restated} imported invoices; {skipped} left as they were")
