# Offline modes (issue 8): announced outages, KSeF availability per company, the Offline certificate and
# the offline side of an invoice.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("invoices", "0003_invoice_offline_mode"),
        ("ksef_integration", "0005_import_digest"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="KsefOutage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("offline", "KSeF unavailability (announced)"),
                            ("awaryjny", "KSeF failure (announced)"),
                            ("total", "total KSeF failure (announced in the media)"),
                        ],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                ("starts_at", models.DateTimeField(verbose_name="starts at")),
                (
                    "ends_at",
                    models.DateTimeField(
                        blank=True, help_text="Empty while it lasts.", null=True, verbose_name="ends at"
                    ),
                ),
                (
                    "announced_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="announced at"),
                ),
                ("note", models.CharField(blank=True, max_length=300, verbose_name="note")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, editable=False, verbose_name="created at"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "announced KSeF outage",
                "verbose_name_plural": "announced KSeF outages",
                "ordering": ["-starts_at", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["offline", "awaryjny", "total"])),
                        name="ksef_outage_kind",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("ends_at__isnull", True),
                            ("ends_at__gte", models.F("starts_at")),
                            _connector="OR",
                        ),
                        name="ksef_outage_ends_after_start",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="KsefAvailability",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("consecutive_failures", models.PositiveIntegerField(default=0)),
                (
                    "unavailable_since",
                    models.DateTimeField(blank=True, null=True, verbose_name="KSeF unavailable since"),
                ),
                ("last_failure_at", models.DateTimeField(blank=True, null=True)),
                ("last_success_at", models.DateTimeField(blank=True, null=True)),
                (
                    "company",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ksef_availability",
                        to="accounts.company",
                    ),
                ),
            ],
            options={"verbose_name": "KSeF availability", "verbose_name_plural": "KSeF availability"},
        ),
        migrations.CreateModel(
            name="OfflineCertificate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("certificate_pem", models.TextField(verbose_name="certificate")),
                ("private_key_ciphertext", models.TextField(editable=False)),
                ("serial", models.CharField(max_length=64, verbose_name="certificate serial number")),
                ("key_type", models.CharField(max_length=8, verbose_name="key type")),
                (
                    "subject_nip",
                    models.CharField(blank=True, max_length=10, verbose_name="NIP in the certificate"),
                ),
                ("valid_from", models.DateTimeField(verbose_name="valid from")),
                ("valid_to", models.DateTimeField(verbose_name="valid to")),
                (
                    "uploaded_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="uploaded at"),
                ),
                (
                    "company",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ksef_offline_certificate",
                        to="accounts.company",
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "offline certificate", "verbose_name_plural": "offline certificates"},
        ),
        migrations.CreateModel(
            name="OfflineInvoice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("chosen", "chosen by the issuer"),
                            ("unreachable", "KSeF did not answer"),
                            ("announced", "announced outage"),
                        ],
                        max_length=16,
                        verbose_name="reason",
                    ),
                ),
                (
                    "issued_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="issued at"),
                ),
                ("deadline_notified_for", models.DateField(blank=True, null=True)),
                ("corrected_invoice_hash", models.CharField(blank=True, max_length=44)),
                ("corrections", models.PositiveSmallIntegerField(default=0)),
                (
                    "company",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.company"
                    ),
                ),
                (
                    "invoice",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ksef_offline",
                        to="invoices.invoice",
                    ),
                ),
                (
                    "outage",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="ksef_integration.ksefoutage",
                    ),
                ),
            ],
            options={"verbose_name": "offline invoice", "verbose_name_plural": "offline invoices"},
        ),
    ]
