"""Back office for sending: every submission with its timeline; "retry now" and "check status" queue the
company's drain (nothing talks to KSeF inside the admin's request)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ksef_integration.models import Submission, SubmissionEvent
from ksef_integration.sending import drain


class SubmissionEventInline(admin.TabularInline):
    model = SubmissionEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "message"]
    readonly_fields = ["created_at", "kind", "message"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = [
        "invoice",
        "company",
        "status",
        "ksef_number",
        "attempts",
        "next_attempt_at",
        "updated_at",
    ]
    list_filter = ["status", "company"]
    search_fields = ["invoice__number", "ksef_number", "company__nip", "invoice_reference"]
    list_select_related = ["invoice", "company"]
    exclude = ["xml"]
    readonly_fields = [f.name for f in Submission._meta.fields if f.name != "xml"]
    inlines = [SubmissionEventInline]
    actions = ["retry", "check_status"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Retry sending now"))
    def retry(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        for submission in queryset:
            drain.submission_retry(submission=submission)
        self.message_user(request, _("Queued again."), messages.SUCCESS)

    @admin.action(description=_("Check the status in KSeF now"))
    def check_status(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        asked = sum(drain.submission_check_status(submission=submission) for submission in queryset)
        self.message_user(
            request,
            _("%(count)s queued for a check with KSeF; the statuses change here when KSeF answers.")
            % {"count": asked},
            messages.INFO,
        )
