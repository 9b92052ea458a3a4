"""Per company, how many of its invoices need someone: the numbers the Biuro page and Start show, kept by the
database itself so that reading them costs one row per company however many invoices it has.

Triggers on ``invoices_invoice`` (migration ``0019_invoice_counts``, for PostgreSQL and for SQLite) change
a company's row in the same transaction as the invoice: an insert, a delete, or an update that moves an
invoice into or out of a count, through ``save()``, ``QuerySet.update()``, ``bulk_create()`` or plain SQL
alike. Nothing in Python writes these rows. The three counts are ``office.selectors``' ``WAITING``,
``REJECTED`` and ``NEW_PURCHASES``; tests/office/test_invoice_counts.py holds the two definitions equal.

A transaction that moves a company's invoice into or out of a count holds the company's row until it
commits: another one counting in the same company waits for it (an import window's transaction, a second at
most), which is also what keeps the counts exact. Invoices of other companies never wait. TRUNCATE empties the
counts with the invoices (PostgreSQL; SQLite has no TRUNCATE). Write one company's invoices per transaction
(every path does): two transactions changing invoices of two companies in opposite orders could now wait for
each other's counts rows, and one would be cancelled as a deadlock.

A later migration of the invoices table must keep the triggers: on SQLite, Django rebuilds a table for most
changes (dropping its triggers), and on PostgreSQL the function names the counted columns; create them again
in that migration. tests/office/test_invoice_counts.py, run on both databases, fails otherwise."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Company


class InvoiceCounts(models.Model):
    """A company's sales invoices waiting for KSeF and rejected, and its purchase invoices nobody has opened.

    A company none of whose invoices was ever counted has no row: read it as zeros."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, primary_key=True, related_name="invoice_counts"
    )
    waiting = models.IntegerField(_("waiting for KSeF"), default=0)
    rejected = models.IntegerField(_("rejected"), default=0)
    new_purchases = models.IntegerField(_("new purchase invoices"), default=0)

    class Meta:
        verbose_name = _("invoice counts")
        verbose_name_plural = _("invoice counts")

    def __str__(self) -> str:
        return f"{self.company_id}: {self.waiting}/{self.rejected}/{self.new_purchases}"
