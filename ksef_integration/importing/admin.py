"""Back office for invoices an import could not store ("nie udało się zaimportować"): see why, try again."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ksef_integration.importing.mapping import failure_retry
from ksef_integration.models import ImportFailure


@admin.register(ImportFailure)
class ImportFailureAdmin(admin.ModelAdmin):
    list_display = ["ksef_number", "company", "subject_type", "attempts", "first_failed_at", "last_failed_at"]
    list_filter = ["subject_type"]
    search_fields = ["ksef_number", "company__name", "company__nip"]
    readonly_fields = [
        "company",
        "ksef_number",
        "subject_type",
        "reason",
        "attempts",
        "first_failed_at",
        "last_failed_at",
        "metadata",
        "xml_text",
    ]
    exclude = ["xml"]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("XML"))
    def xml_text(self, obj: ImportFailure) -> str:
        return bytes(obj.xml).decode("utf-8", errors="replace")

    @admin.action(description=_("Try importing again"))
    def retry(self, request: HttpRequest, queryset: QuerySet[ImportFailure]) -> None:
        done = sum(1 for failure in queryset.select_related("company") if failure_retry(failure=failure))
        still = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)d invoice imported.", "%(count)d invoices imported.", done) % {"count": done},
            messages.SUCCESS if done else messages.INFO,
        )
        if still:
            self.message_user(
                request,
                ngettext(
                    "%(count)d invoice still cannot be imported.",
                    "%(count)d invoices still cannot be imported.",
                    still,
                )
                % {"count": still},
                messages.WARNING,
            )
