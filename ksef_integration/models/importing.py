"""Importing invoices from KSeF: a cursor per (company, subject type), one row per import run (which is also
the per-company lock), and the original XML + KSeF metadata of each imported invoice."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company


class SubjectType(models.TextChoices):
    """Which side of the invoice the company is on (ksef-api.md §8.1)."""

    SUBJECT1 = "Subject1", _("own sales issued outside the portal")
    SUBJECT2 = "Subject2", _("purchase invoices")


class SyncCursor(models.Model):
    """How far one company's invoices of one subject type are known to be complete.

    ``checkpoint`` is a KSeF ``permanentStorageDate``: every invoice stored up to it is in our database. It is
    moved in the same transaction that stores the invoices of a window, never before.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_sync_cursors")
    subject_type = models.CharField(_("subject type"), max_length=16, choices=SubjectType.choices)
    checkpoint = models.DateTimeField(_("complete up to"))
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last successful run"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    failures_in_row = models.PositiveIntegerField(_("failures in a row"), default=0)
    invoices_total = models.PositiveIntegerField(_("invoices imported"), default=0)
    # The export in flight for the window starting at ``export_from`` (exports are limited to 20 an hour):
    # a run that dies polls or downloads the same export again instead of starting a new one. The AES key
    # and IV are stored encrypted (``secret_encrypt``); all four are cleared with the window's commit.
    export_reference = models.CharField(max_length=64, blank=True)
    export_key = models.TextField(blank=True, editable=False)
    export_from = models.DateTimeField(null=True, blank=True)
    export_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("KSeF sync cursor")
        verbose_name_plural = _("KSeF sync cursors")
        constraints = [
            models.UniqueConstraint(fields=["company", "subject_type"], name="ksef_sync_cursor_unique"),
            models.CheckConstraint(
                condition=Q(subject_type__in=SubjectType.values), name="ksef_sync_cursor_subject"
            ),
        ]
        indexes = [
            # A company's last successful import (Biuro, Start): its newest cursor, read from the index.
            models.Index(
                F("company"),
                F("last_success_at").desc(),
                name="ksef_sync_cursor_last_success",
                condition=Q(last_success_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} {self.subject_type} @ {self.checkpoint:%Y-%m-%d %H:%M}"


class ImportRun(models.Model):
    """One import of one company. A RUNNING row is the company's import lock (one at a time, by a partial
    unique constraint); a run whose heartbeat went stale (a killed worker) is taken over by the next one."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        ABANDONED = "abandoned", _("interrupted")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_import_runs")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    invoices_new = models.PositiveIntegerField(_("new invoices"), default=0)
    invoices_updated = models.PositiveIntegerField(_("updated invoices"), default=0)
    windows = models.PositiveIntegerField(default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    # A run that failed for a passing reason (KSeF down, timeout, 429): when the company is due again (a short
    # backoff instead of its whole interval). Empty otherwise: the interval counts from ``started_at``.
    retry_at = models.DateTimeField(_("retry at"), null=True, blank=True)

    class Meta:
        verbose_name = _("KSeF import run")
        verbose_name_plural = _("KSeF import runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=Q(status="running"), name="ksef_import_one_running"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["running", "succeeded", "failed", "abandoned"]),
                name="ksef_import_run_status",
            ),
        ]
        indexes = [models.Index(fields=["company", "-started_at"], name="ksef_import_run_recent")]

    def __str__(self) -> str:
        return f"{self.company_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class ImportedDocument(models.Model):
    """What KSeF gave us for one invoice: the original XML (byte for byte) and its metadata record."""

    invoice = models.OneToOneField(
        "invoices.Invoice", on_delete=models.CASCADE, related_name="ksef_document", primary_key=True
    )
    ksef_number = models.CharField(_("KSeF number"), max_length=64)
    subject_type = models.CharField(_("subject type"), max_length=16, choices=SubjectType.choices)
    xml = models.BinaryField(editable=False)
    # SHA-256 (Base64) of ``xml`` itself, for KOD I: kept so that showing the invoice never reads the XML.
    xml_sha256_b64 = models.CharField(max_length=44, blank=True, editable=False)
    invoice_hash = models.CharField(max_length=44, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    permanent_storage_date = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("imported KSeF document")
        verbose_name_plural = _("imported KSeF documents")

    def __str__(self) -> str:
        return self.ksef_number


class ImportDigestSubscription(models.Model):
    """One member's choice to get an e-mail about the purchase invoices each import brings (opt-in)."""

    membership = models.OneToOneField(
        "accounts.Membership", on_delete=models.CASCADE, related_name="ksef_import_digest", primary_key=True
    )
    enabled = models.BooleanField(_("E-mail me about new purchase invoices"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("KSeF import digest subscription")
        verbose_name_plural = _("KSeF import digest subscriptions")

    def __str__(self) -> str:
        return f"{self.membership_id} {'on' if self.enabled else 'off'}"


class ImportFailure(models.Model):
    """An invoice KSeF listed that could not be stored or shown ("nie udało się zaimportować"): its KSeF
    number, the XML byte for byte and why. The import goes on past it (the cursor moves), and it is tried
    again on every later run and from the admin; once it imports, the row is deleted."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_import_failures")
    ksef_number = models.CharField(_("KSeF number"), max_length=64)
    subject_type = models.CharField(_("subject type"), max_length=16, choices=SubjectType.choices)
    xml = models.BinaryField(editable=False)
    metadata = models.JSONField(default=dict, blank=True)
    reason = models.TextField(_("reason"))
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    first_failed_at = models.DateTimeField(_("first failed"), default=timezone.now)
    last_failed_at = models.DateTimeField(_("last tried"), default=timezone.now)

    class Meta:
        verbose_name = _("invoice that could not be imported")
        verbose_name_plural = _("invoices that could not be imported")
        ordering = ["-last_failed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "ksef_number"], name="ksef_import_failure_unique"),
        ]

    def __str__(self) -> str:
        return self.ksef_number
