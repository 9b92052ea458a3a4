"""Back office for KSeF certificates the portal obtains: every enrollment (switch or renewal) with its
outcome, and the certificate connections by expiry with "Odnów teraz", which only queues the renewal.
Never a key."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ksef_integration.enrollment.services import renewal_start, renewal_window
from ksef_integration.models import AuthMethod, CertificateConnection, CertificateEnrollment


@admin.register(CertificateEnrollment)
class CertificateEnrollmentAdmin(admin.ModelAdmin):
    list_display = [
        "created_at", "company", "kind", "status", "step", "authentication_serial", "offline_serial",
        "valid_to", "error_message",
    ]  # fmt: skip
    list_filter = ["kind", "status"]
    search_fields = ["company__nip", "company__name", "authentication_serial", "offline_serial"]
    list_select_related = ["company"]
    # The key and signed-request ciphertexts are not editable and so never rendered.
    fields = (
        "company", "kind", "status", "step", "started_by", "signer", "challenge", "challenge_valid_until",
        "authentication_serial", "offline_serial", "valid_to", "replaced_serial", "error_code",
        "error_message", "created_at", "finished_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ExpiryFilter(admin.SimpleListFilter):
    title = _("expiry")
    parameter_name = "expires"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("window", _("within the renewal window")), ("60", _("within 60 days"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CertificateConnection]) -> QuerySet:
        now = timezone.now()
        if self.value() == "window":
            return queryset.filter(certificate_valid_to__lte=now + renewal_window())
        if self.value() == "60":
            return queryset.filter(certificate_valid_to__lte=now + dt.timedelta(days=60))
        return queryset


@admin.register(CertificateConnection)
class CertificateConnectionAdmin(admin.ModelAdmin):
    """Companies on a KSeF certificate, the soonest to expire first, with their latest renewal."""

    list_display = [
        "company",
        "nip",
        "certificate_serial",
        "certificate_valid_to",
        "days_left",
        "last_renewal",
    ]
    list_filter = [ExpiryFilter, "status"]
    search_fields = ["company__nip", "company__name", "certificate_serial"]
    ordering = ["certificate_valid_to"]
    fields = ("company", "status", "certificate_serial", "certificate_valid_from", "certificate_valid_to")
    readonly_fields = fields
    actions = ["renew_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CertificateConnection]:
        latest = CertificateEnrollment.objects.filter(
            company_id=OuterRef("company_id"), kind=CertificateEnrollment.Kind.RENEWAL
        ).order_by("-created_at")
        return (
            CertificateConnection.objects.filter(method=AuthMethod.CERTIFICATE)
            .select_related("company")
            .annotate(renewal_status=Subquery(latest.values("status")[:1]))
        )

    @admin.display(description="NIP", ordering="company__nip")
    def nip(self, obj: CertificateConnection) -> str:
        return obj.company.nip

    @admin.display(description=_("days left"))
    def days_left(self, obj: CertificateConnection) -> str:
        if obj.certificate_valid_to is None:
            return "—"
        return str((obj.certificate_valid_to - timezone.now()).days)

    @admin.display(description=_("latest renewal"))
    def last_renewal(self, obj: CertificateConnection) -> str:
        status = getattr(obj, "renewal_status", None)
        return str(CertificateEnrollment.Status(status).label) if status else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description=_("Renew now"))
    def renew_now(self, request: HttpRequest, queryset: QuerySet[CertificateConnection]) -> None:
        count = sum(renewal_start(connection=connection) is not None for connection in queryset)
        self.message_user(
            request,
            ngettext(
                "A renewal was queued for %(count)s company.",
                "Renewals were queued for %(count)s companies.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
