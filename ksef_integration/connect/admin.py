"""Back office for KSeF connections: status at a glance, "verify now", the audit log, and the token sunset's
list "Firmy na tokenie" with its "Wyślij przypomnienie". Never a secret."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.db.models import Max, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from ksef_integration import queue
from ksef_integration.connect import sunset
from ksef_integration.models import AuditEvent, KsefConnection, TokenConnection


class AuditEventInline(admin.TabularInline):
    model = AuditEvent
    fk_name = "company"
    extra = 0
    can_delete = False
    _visible = ["created_at", "kind", "actor", "message"]
    readonly_fields = ["created_at", "kind", "actor", "message"]
    ordering = ["-created_at"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(KsefConnection)
class KsefConnectionAdmin(admin.ModelAdmin):
    list_display = [
        "company",
        "nip",
        "status",
        "environment",
        "method",
        "credential",
        "connected_at",
        "last_verified_at",
    ]
    list_filter = ["status", "environment", "method"]
    search_fields = ["company__nip", "company__name", "token_reference", "certificate_serial"]
    list_select_related = ["company"]
    # Ciphertext columns are not editable and so never rendered; what staff see is listed here.
    _visible = [
        "company", "status", "attention_reason", "environment", "method", "credential", "token_reference",
        "certificate_serial", "certificate_valid_from", "certificate_valid_to", "permissions", "connected_at",
        "connected_by", "last_verified_at", "auto_send", "auto_import", "import_interval_minutes",
        "import_start_date",
    ]  # fmt: skip
    fields = tuple(_visible)
    readonly_fields = [
        f for f in _visible if f not in {"auto_send", "auto_import", "import_interval_minutes"}
    ]
    actions = ["verify_now"]

    @admin.display(description="NIP", ordering="company__nip")
    def nip(self, obj: KsefConnection) -> str:
        return obj.company.nip

    @admin.display(description=_("credential"))
    def credential(self, obj: KsefConnection) -> str:
        return obj.credential_label

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # connections are made by owners through the guided flow

    @admin.action(description=_("Verify now (log in to KSeF)"))
    def verify_now(self, request: HttpRequest, queryset: QuerySet[KsefConnection]) -> None:
        """Queued: the worker logs in (nothing talks to KSeF inside the admin's request); the outcome shows in
        the connection's status and its audit events."""
        count = 0
        for connection in queryset:
            queue.connection_verify(company_id=connection.company_id)
            count += 1
        self.message_user(
            request,
            ngettext(
                "A check of %(count)s connection was queued; its outcome appears in the audit events.",
                "Checks of %(count)s connections were queued; their outcome appears in the audit events.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "company", "kind", "actor", "message"]
    list_filter = ["kind"]
    search_fields = ["company__nip", "company__name", "message"]
    list_select_related = ["company", "actor"]
    readonly_fields = ["created_at", "company", "kind", "actor", "message", "data"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# --- sending -------------------------------------------------------------------------------------------


@admin.register(TokenConnection)
class TokenConnectionAdmin(admin.ModelAdmin):
    """ "Firmy na tokenie": every company still connected by a KSeF token, with the days its token has left
    and the last reminder it got. "Wyślij przypomnienie" only queues the e-mails (the notifier's task sends
    them)."""

    list_display = ["company", "nip", "status", "days_left", "last_reminder", "connected_at"]
    list_filter = ["status"]
    search_fields = ["company__nip", "company__name"]
    list_select_related = ["company"]
    ordering = ["company__name"]
    fields = (
        "company", "status", "attention_reason", "credential", "connected_at", "auto_send", "auto_import",
    )  # fmt: skip
    readonly_fields = fields
    actions = ["send_reminder"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[KsefConnection]:
        return (
            TokenConnection.objects.on_token()
            .select_related("company")
            .annotate(last_reminder_at=Max("company__ksef_sunset_reminders__sent_at"))
        )

    @admin.display(description="NIP", ordering="company__nip")
    def nip(self, obj: TokenConnection) -> str:
        return obj.company.nip

    @admin.display(description=_("credential"))
    def credential(self, obj: TokenConnection) -> str:
        return obj.credential_label

    @admin.display(description=_("days left"))
    def days_left(self, obj: TokenConnection) -> str:
        days = sunset.days_left()
        return str(days) if days >= 0 else sunset.expired_text()

    @admin.display(description=_("last reminder"), ordering="last_reminder_at")
    def last_reminder(self, obj: TokenConnection) -> dt.datetime | None:
        return getattr(obj, "last_reminder_at", None)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a list to act on; the connection itself is edited under "KSeF connections"

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description=_("Send a reminder"))
    def send_reminder(self, request: HttpRequest, queryset: QuerySet[TokenConnection]) -> None:
        actor = request.user if isinstance(request.user, User) else None
        count = sum(
            sunset.reminder_send_now(connection=connection, user=actor)
            for connection in queryset.select_related("company")
        )
        self.message_user(
            request,
            ngettext(
                "A reminder to %(count)s company was queued.",
                "Reminders to %(count)s companies were queued.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
