"""Staff see keys, endpoints, events and deliveries read-only; no hash, secret or ciphertext is shown."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from integrations.models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnly):
    list_display = ["name", "prefix", "company", "scope", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["prefix", "name", "company__nip", "company__name"]
    fields = ["name", "prefix", "company", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnly):
    list_display = ["url", "company", "is_active", "consecutive_failures", "failing_since", "disabled_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "company__nip", "company__name"]
    fields = [
        "url", "company", "events", "is_active", "disabled_at", "disabled_reason", "consecutive_failures",
        "failing_since", "created_by", "created_at",
    ]  # fmt: skip


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = ["attempted_at", "status_code", "error", "duration_ms"]
    extra = 0
    can_delete = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at"]
    list_filter = ["status"]
    search_fields = ["event__uuid", "endpoint__url", "endpoint__company__nip"]
    fields = [
        "event", "endpoint", "status", "attempts", "window_started_at", "next_attempt_at", "last_status_code",
        "last_error", "delivered_at", "created_at",
    ]  # fmt: skip
    inlines = [AttemptInline]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnly):
    list_display = ["uuid", "type", "company", "created_at"]
    list_filter = ["type"]
    search_fields = ["uuid", "company__nip"]
    fields = ["uuid", "type", "company", "payload", "created_at"]
