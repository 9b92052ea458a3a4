"""Sending sales invoices to KSeF: one ``Submission`` per invoice (a claimable state machine with its
timeline of ``SubmissionEvent``) and the company's reusable online session (``KsefOnlineSession``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company
from invoices.models import Invoice


class SubmissionStatus(models.TextChoices):
    """PENDING → INFLIGHT (claimed, sending) → SENT (reference saved) → ACCEPTED | REJECTED; FAILED_LOCAL
    when our own checks stop the invoice before it leaves."""

    PENDING = "pending", _("queued")
    INFLIGHT = "inflight", _("sending")
    SENT = "sent", _("sent, awaiting KSeF")
    ACCEPTED = "accepted", _("accepted by KSeF")
    REJECTED = "rejected", _("rejected by KSeF")
    FAILED_LOCAL = "failed_local", _("not sent: invoice data problems")


FINAL_STATUSES = (SubmissionStatus.ACCEPTED, SubmissionStatus.REJECTED, SubmissionStatus.FAILED_LOCAL)


class Submission(models.Model):
    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="ksef_submission")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_submissions")
    status = models.CharField(
        _("status"), max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)

    session_reference = models.CharField(_("session reference number"), max_length=64, blank=True)
    invoice_reference = models.CharField(_("invoice reference number"), max_length=64, blank=True)
    # Set before a batch package holding this invoice is uploaded; its outcome is then only ever asked of
    # KSeF (the batch session's invoice list), never guessed.
    batch_reference = models.CharField(_("batch session reference number"), max_length=64, blank=True)
    ksef_number = models.CharField(_("KSeF number"), max_length=64, blank=True)
    acquisition_date = models.DateTimeField(_("KSeF acquisition date"), null=True, blank=True)
    duplicate = models.BooleanField(_("already in KSeF (duplicate)"), default=False)
    upo = models.TextField(_("UPO"), blank=True)

    # Built once and resent byte for byte on every retry.
    xml = models.BinaryField(null=True, blank=True, editable=False)
    xml_sha256_b64 = models.CharField(_("XML SHA-256 (Base64)"), max_length=44, blank=True)

    last_error_code = models.CharField(_("last error code"), max_length=32, blank=True)
    last_error_message = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # When the owners were told the invoice is stuck (once per queuing; see sending/alerts.py).
    stuck_notified_at = models.DateTimeField(_("owners told it is stuck at"), null=True, blank=True)

    class Meta:
        verbose_name = _("KSeF submission")
        verbose_name_plural = _("KSeF submissions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SubmissionStatus.values), name="ksef_submission_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | ~Q(ksef_number=""), name="ksef_submission_accepted_number"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | ~Q(invoice_reference=""), name="ksef_submission_sent_reference"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="ksef_sub_due"),
            models.Index(fields=["company", "status", "next_attempt_at"], name="ksef_sub_company_due"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.status}"

    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class SubmissionEvent(models.Model):
    """One step of the KSeF timeline shown on the invoice page. Never holds a secret."""

    class Kind(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent to KSeF")
        ACCEPTED = "accepted", _("accepted by KSeF")
        UPO = "upo", _("UPO received")
        REJECTED = "rejected", _("rejected by KSeF")
        FAILED_LOCAL = "failed_local", _("stopped before sending")
        RETRY = "retry", _("will try again")
        PAUSED = "paused", _("sending paused")

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=16, choices=Kind.choices)
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("KSeF submission event")
        verbose_name_plural = _("KSeF submission events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind}"


class KsefOnlineSession(models.Model):
    """The company's open online session, reused while valid. The AES key and IV are Fernet ciphertext."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="ksef_online_session")
    reference_number = models.CharField(max_length=64)
    key_ciphertext = models.TextField(editable=False)
    valid_until = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("KSeF online session")
        verbose_name_plural = _("KSeF online sessions")

    def __str__(self) -> str:
        return self.reference_number
