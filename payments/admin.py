from django.contrib import admin

from payments.models import WhitelistCheck


@admin.register(WhitelistCheck)
class WhitelistCheckAdmin(admin.ModelAdmin):
    list_display = (
        "invoice",
        "nip",
        "account",
        "checked_for",
        "result",
        "request_id",
        "automatic",
        "created_at",
    )
    list_filter = ("result", "automatic", "checked_for")
    search_fields = ("nip", "account", "request_id", "invoice__number")
    raw_id_fields = ("invoice", "requested_by", "overridden_by")
    readonly_fields = [f.name for f in WhitelistCheck._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
