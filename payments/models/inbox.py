"""The purchase inbox: where each purchase invoice stands (nowa → do akceptacji → zaakceptowana → w pliku do
zapłaty → zapłacona, or odrzucona), its history and comments, who has seen it, the company's approver, and
the payment files generated for it.

A purchase invoice without a :class:`PurchaseEntry` is "nowa": entries are created the first time someone
acts on the invoice, so invoices imported before this feature need no data migration."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company, Membership
from invoices.models import Invoice

REASON_MAX = 500
COMMENT_MAX = 2000


class PurchaseStatus(models.TextChoices):
    NEW = "new", _("new")
    PENDING = "pending", _("awaiting approval")
    ACCEPTED = "accepted", _("accepted")
    IN_FILE = "in_file", _("in a payment file")
    PAID = "paid", _("paid")
    REJECTED = "rejected", _("not ours")


class PaymentFileFormat(models.TextChoices):
    ELIXIR = "elixir", _("Elixir-O")
    PAIN001 = "pain001", _("ISO 20022 pain.001")


class PaymentFileStatus(models.TextChoices):
    READY = "ready", _("ready")
    PREPARING = "preparing", _("asking KSeF for collective identifiers")


class InboxSettings(models.Model):
    """The company's inbox rules: an optional approver (an owner or accountant) who accepts invoices."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="+")
    approver = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approver"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("purchase inbox settings")
        verbose_name_plural = _("purchase inbox settings")

    def __str__(self) -> str:
        return f"{self.company_id}"


class PaymentFile(models.Model):
    """A transfer file generated for the bank, kept so that it can be downloaded again."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    format = models.CharField(_("format"), max_length=8, choices=PaymentFileFormat.choices)
    filename = models.CharField(_("file name"), max_length=100)
    content = models.BinaryField(_("content"), default=b"", blank=True)
    # A file with "one transfer for all" waits for KSeF's collective identifiers (the worker asks, then
    # writes the content); until then it cannot be downloaded.
    status = models.CharField(
        _("status"), max_length=10, choices=PaymentFileStatus.choices, default=PaymentFileStatus.READY
    )
    # The total per currency when the file pays invoices in several ({"EUR": "100.00"}); empty: PLN only.
    totals = models.JSONField(_("totals per currency"), default=dict, blank=True)
    payer_account = models.CharField(_("payer's account"), max_length=26)
    execution_date = models.DateField(_("execution date"))
    transfer_count = models.PositiveIntegerField(_("transfers"))
    total = models.DecimalField(_("total"), max_digits=18, decimal_places=2)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment file")
        verbose_name_plural = _("payment files")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "-created_at"], name="payfile_company")]
        constraints = [
            models.CheckConstraint(condition=Q(format__in=PaymentFileFormat.values), name="payfile_format"),
            models.CheckConstraint(condition=Q(transfer_count__gt=0), name="payfile_not_empty"),
            models.CheckConstraint(condition=Q(status__in=PaymentFileStatus.values), name="payfile_status"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_ready(self) -> bool:
        return self.status == PaymentFileStatus.READY


class CollectiveTransfer(models.Model):
    """One transfer paying several invoices of one seller (same account, same currency) in a payment file:
    the KSeF collective identifier its title carries, or, when KSeF refused one, why (the title then lists
    the KSeF numbers). The statement matcher reads ``identifier`` → ``ksef_numbers``."""

    class State(models.TextChoices):
        PENDING = "pending", _("waiting for KSeF")
        ISSUED = "issued", _("issued by KSeF")
        REFUSED = "refused", _("refused: the title lists the KSeF numbers")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    payment_file = models.ForeignKey(PaymentFile, on_delete=models.CASCADE, related_name="collective")
    seller_nip = models.CharField(_("seller's NIP"), max_length=16)
    ksef_numbers = models.JSONField(_("KSeF numbers"), default=list)
    invoice_ids = models.JSONField(default=list)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PENDING)
    identifier = models.CharField(_("collective identifier"), max_length=35, blank=True)
    message = models.CharField(_("why"), max_length=500, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("collective transfer")
        verbose_name_plural = _("collective transfers")
        ordering = ["id"]
        indexes = [models.Index(fields=["company", "identifier"], name="collective_identifier")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["pending", "issued", "refused"]), name="collective_state"
            ),
            models.CheckConstraint(
                condition=~Q(state="issued") | ~Q(identifier=""), name="collective_issued_id"
            ),
        ]

    def __str__(self) -> str:
        return self.identifier or f"{self.payment_file_id} {self.seller_nip}"


class PurchaseEntry(models.Model):
    """Where one purchase invoice stands in the inbox, and who moved it there last."""

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="purchase_entry")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        _("status"), max_length=10, choices=PurchaseStatus.choices, default=PurchaseStatus.NEW
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    reject_reason = models.CharField(_("reason"), max_length=REASON_MAX, blank=True)
    payment_file = models.ForeignKey(
        PaymentFile, on_delete=models.SET_NULL, null=True, blank=True, related_name="entries"
    )
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    paid_reference = models.CharField(_("payment reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("purchase inbox entry")
        verbose_name_plural = _("purchase inbox entries")
        indexes = [models.Index(fields=["company", "status"], name="purchase_entry_company")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PurchaseStatus.values), name="purchase_entry_status"
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reject_reason=""), name="purchase_rejected_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_on__isnull=False), name="purchase_paid_has_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.status}"


class PurchaseEvent(models.Model):
    """One step in an invoice's history (a status change, with who and when) or a comment."""

    class Kind(models.TextChoices):
        STATUS = "status", _("status change")
        COMMENT = "comment", _("comment")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=PurchaseStatus.choices, blank=True)
    text = models.CharField(_("text"), max_length=COMMENT_MAX, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("purchase invoice event")
        verbose_name_plural = _("purchase invoice events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["invoice", "created_at"], name="purchase_event_invoice")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["status", "comment"]), name="purchase_event_kind"),
            models.CheckConstraint(
                condition=~Q(kind="status") | Q(status__in=PurchaseStatus.values),
                name="purchase_event_status",
            ),
            models.CheckConstraint(condition=~Q(kind="comment") | ~Q(text=""), name="purchase_comment_text"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.kind} {self.status}"


class PurchaseSeen(models.Model):
    """This member has opened this invoice: the "nowa" marker is per person, not per company."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("purchase invoice seen")
        verbose_name_plural = _("purchase invoices seen")
        constraints = [
            models.UniqueConstraint(fields=["membership", "invoice"], name="purchase_seen_once"),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} {self.invoice_id}"
