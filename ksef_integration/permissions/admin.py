"""Back office for KSeF permissions: every grant and revocation asked for in the portal, with its outcome,
read-only (changes go through the Uprawnienia page, which queues them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ksef_integration.models import PermissionChange


@admin.register(PermissionChange)
class PermissionChangeAdmin(admin.ModelAdmin):
    list_display = [
        "created_at", "company", "kind", "identifier_type", "identifier_value", "status", "source",
        "error_message",
    ]  # fmt: skip
    list_filter = ["kind", "status", "source"]
    search_fields = ["company__nip", "company__name", "identifier_value", "operation_reference"]
    list_select_related = ["company"]
    fields = (
        "company", "kind", "status", "source", "requested_by", "identifier_type", "identifier_value", "name",
        "permissions", "can_delegate", "permission_id", "operation_reference", "attempts", "error_message",
        "created_at", "finished_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
