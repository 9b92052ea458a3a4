"""Sessions (online and batch), the invoices sent in them (or stored as incoming test data), and exports.

Statuses move with time, lazily: ``ksef_simulator.processing.settle()`` finishes whatever is due when
somebody reads, so nothing sleeps and nothing runs in the background.
"""

from __future__ import annotations

from django.db import models

__all__ = [
    "CollectiveIdentifier",
    "CollectiveIdentifierEntry",
    "SimBatchPart",
    "SimExport",
    "SimExportPart",
    "SimInvoice",
    "SimSession",
]


class SimSession(models.Model):
    """An online or batch session. ``status_code`` is materialised by ``processing.settle``."""

    class Kind(models.TextChoices):
        ONLINE = "Online"
        BATCH = "Batch"

    reference_number = models.CharField(max_length=36, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    context_type = models.CharField(max_length=16)
    context_value = models.CharField(max_length=64)
    context_nip = models.CharField(max_length=10, db_index=True)
    auth_reference = models.CharField(max_length=36)
    subject_key = models.CharField(max_length=200, blank=True)  # who authenticated (sessions list filter)
    ksef_token_reference = models.CharField(max_length=36, blank=True)
    system_code = models.CharField(max_length=32)
    schema_version = models.CharField(max_length=16)
    form_value = models.CharField(max_length=16)
    aes_key = models.BinaryField(null=True)  # None when the wrapped key did not decrypt (status 415)
    iv = models.BinaryField()
    offline_mode = models.BooleanField(default=False)  # batch: declared for the whole session
    status_code = models.PositiveSmallIntegerField(default=100)
    status_details = models.JSONField(default=list, blank=True)
    finalized = models.BooleanField(default=False)
    invoice_count = models.PositiveIntegerField(default=0)
    # The context's limits when the session opened (GET /limits/context; overridable on TEST).
    max_invoices = models.PositiveIntegerField(default=10_000)
    max_invoice_size = models.PositiveIntegerField(default=1_000_000)
    max_invoice_with_attachment_size = models.PositiveIntegerField(default=3_000_000)
    upo_reference = models.CharField(max_length=36, unique=True)
    upo_xml = models.BinaryField(null=True, editable=False)  # the signed session UPO, made once
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    valid_until = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # Batch only: what the client declared at open.
    batch_file_size = models.BigIntegerField(null=True, blank=True)
    batch_file_hash = models.CharField(max_length=44, blank=True)
    compression_type = models.CharField(max_length=8, default="Zip")
    declared_parts = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["context_nip", "kind", "-created_at"], name="simsess_ctx_kind_created"),
            models.Index(fields=["finalized", "valid_until"], name="simsess_finalized_valid"),
        ]

    def __str__(self) -> str:
        return self.reference_number

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class SimBatchPart(models.Model):
    """One uploaded (encrypted) part of a batch archive."""

    session = models.ForeignKey(SimSession, on_delete=models.CASCADE, related_name="parts")
    ordinal_number = models.PositiveIntegerField()
    content = models.BinaryField()
    uploaded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "ordinal_number"], name="simbatchpart_unique_ordinal")
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.ordinal_number}"


class SimInvoice(models.Model):
    """An invoice file KSeF received: in a session, or stored directly as incoming test data."""

    reference_number = models.CharField(max_length=36, unique=True)
    session = models.ForeignKey(
        SimSession, on_delete=models.CASCADE, related_name="invoices", null=True, blank=True
    )
    ordinal_number = models.PositiveIntegerField(default=1)
    context_nip = models.CharField(max_length=10)
    system_code = models.CharField(max_length=32, default="FA (3)")
    schema_version = models.CharField(max_length=16, default="1-0E")
    form_value = models.CharField(max_length=16, default="FA")
    xml = models.BinaryField(null=True)  # None when the file did not decrypt (status 435)
    invoice_hash = models.CharField(max_length=44, db_index=True)
    invoice_size = models.PositiveIntegerField()
    file_name = models.CharField(max_length=128, blank=True)
    offline_requested = models.BooleanField(default=False)
    hash_of_corrected_invoice = models.CharField(max_length=44, blank=True, db_index=True)
    received_at = models.DateTimeField()  # invoicingDate
    due_at = models.DateTimeField()  # when processing finishes
    processed = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(default=100)
    status_details = models.JSONField(default=list, blank=True)
    status_extensions = models.JSONField(null=True, blank=True)
    # Filled on success.
    ksef_number = models.CharField(max_length=36, null=True, blank=True, unique=True)
    duplicate_key = models.CharField(max_length=300, null=True, blank=True, unique=True)
    acquisition_date = models.DateTimeField(null=True, blank=True)
    permanent_storage_date = models.DateTimeField(null=True, blank=True)
    invoicing_mode = models.CharField(max_length=8, blank=True)
    # Read from the XML (when it parsed), for the metadata queries.
    invoice_number = models.CharField(max_length=256, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    invoice_type = models.CharField(max_length=16, blank=True)
    seller_nip = models.CharField(max_length=10, blank=True)
    seller_name = models.CharField(max_length=512, blank=True)
    buyer_id_type = models.CharField(max_length=8, blank=True)
    buyer_id_value = models.CharField(max_length=50, blank=True)
    buyer_name = models.CharField(max_length=512, blank=True)
    third_subjects = models.JSONField(default=list, blank=True)
    third_nips = models.CharField(max_length=1200, blank=True)  # "|nip|nip|" for Subject3 look-ups
    authorized_nip = models.CharField(max_length=10, blank=True)
    authorized = models.JSONField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    net_amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    gross_amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    vat_amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    is_self_invoicing = models.BooleanField(default=False)
    has_attachment = models.BooleanField(default=False)
    upo_xml = models.BinaryField(null=True, editable=False)  # the signed invoice UPO, made once

    class Meta:
        indexes = [
            models.Index(fields=["processed", "due_at"], name="siminv_processed_due"),
            models.Index(fields=["session", "ordinal_number"], name="siminv_session_ordinal"),
            models.Index(fields=["seller_nip", "permanent_storage_date"], name="siminv_seller_psd"),
            models.Index(fields=["buyer_id_value", "permanent_storage_date"], name="siminv_buyer_psd"),
            models.Index(fields=["authorized_nip", "permanent_storage_date"], name="siminv_auth_psd"),
        ]

    def __str__(self) -> str:
        return self.reference_number

    @property
    def accepted(self) -> bool:
        return self.processed and self.status_code == 200


class SimExport(models.Model):
    """An asynchronous export (``POST /invoices/exports``); the package is built lazily when due."""

    reference_number = models.CharField(max_length=36, unique=True)
    context_type = models.CharField(max_length=16)
    context_value = models.CharField(max_length=64)
    context_nip = models.CharField(max_length=10, db_index=True)
    filters = models.JSONField()
    only_metadata = models.BooleanField(default=False)
    compression_type = models.CharField(max_length=8, default="Zip")
    aes_key = models.BinaryField(null=True)
    iv = models.BinaryField()
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(default=100)
    status_details = models.JSONField(default=list, blank=True)
    package = models.JSONField(null=True, blank=True)  # InvoicePackage without the per-request URLs

    def __str__(self) -> str:
        return self.reference_number


class SimExportPart(models.Model):
    export = models.ForeignKey(SimExport, on_delete=models.CASCADE, related_name="parts")
    ordinal_number = models.PositiveIntegerField()
    content = models.BinaryField()  # encrypted

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["export", "ordinal_number"], name="simexportpart_unique_ordinal")
        ]

    def __str__(self) -> str:
        return f"{self.export_id}#{self.ordinal_number}"


class CollectiveIdentifier(models.Model):
    """A collective identifier (identyfikator zbiorczy, ``POST /collective-identifiers``): one number that
    one bank transfer's title may carry to pay several invoices of one seller. Created in a context, which
    sees it with ``createdInCurrentContext``; the seller (Podmiot1) sees it too."""

    number = models.CharField(max_length=35, unique=True)  # <seller NIP>-IZ<YYYYMM>-<12 hex>-<CRC-8>
    seller_nip = models.CharField(max_length=10, db_index=True)
    context_type = models.CharField(max_length=16)
    context_value = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    invoice_count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["context_type", "context_value", "created_at"])]

    def __str__(self) -> str:
        return self.number


class CollectiveIdentifierEntry(models.Model):
    """One invoice of a collective identifier, with the payment and description its creator gave."""

    identifier = models.ForeignKey(CollectiveIdentifier, on_delete=models.CASCADE, related_name="entries")
    ksef_number = models.CharField(max_length=36, db_index=True)
    amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    description = models.CharField(max_length=512, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["identifier", "ksef_number"], name="ksefsim_izentry_unique_invoice"
            )
        ]

    def __str__(self) -> str:
        return f"{self.identifier_id}:{self.ksef_number}"
