"""Admin for offline work (issue 8): staff record announced KSeF outages; availability, offline certificates
(never the key) and offline invoices are shown read-only. Imported by ``ksef_integration.admin``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ksef_integration.models import KsefAvailability, KsefOutage, OfflineCertificate, OfflineInvoice


@admin.register(KsefOutage)
class KsefOutageAdmin(admin.ModelAdmin):
    list_display = ("kind", "starts_at", "ends_at", "announced_at", "note")
    list_filter = ("kind",)
    fields = ("kind", "starts_at", "ends_at", "announced_at", "note", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")
    date_hierarchy = "starts_at"

    def save_model(self, request: HttpRequest, obj: KsefOutage, form: Any, change: bool) -> None:
        if not change and request.user.is_authenticated:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(KsefAvailability)
class KsefAvailabilityAdmin(_ReadOnly):
    list_display = (
        "company",
        "unavailable_since",
        "consecutive_failures",
        "last_failure_at",
        "last_success_at",
    )
    list_filter = ("unavailable_since",)


@admin.register(OfflineCertificate)
class OfflineCertificateAdmin(_ReadOnly):
    list_display = ("company", "serial", "key_type", "valid_from", "valid_to", "uploaded_at")
    exclude = ("private_key_ciphertext",)


@admin.register(OfflineInvoice)
class OfflineInvoiceAdmin(_ReadOnly):
    list_display = ("invoice", "company", "reason", "outage", "issued_at", "deadline_notified_for")
    list_filter = ("reason",)
    raw_id_fields = ("invoice",)
