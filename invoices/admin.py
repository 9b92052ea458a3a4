"""Back office: invoices searchable by number, NIP and KSeF number; contractors; numbering series."""

from __future__ import annotations

from django.contrib import admin

from invoices.models import Contractor, Invoice, InvoiceLine, NumberingCounter, NumberingSeries


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ("before_correction", "ordinal", "name", "quantity", "unit", "unit_price", "vat_rate",
              "net_value", "vat_amount", "gross_value")  # fmt: skip
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ("number", "company", "direction", "kind", "issue_date", "buyer_nip", "seller_nip",
                    "total_gross", "currency", "ksef_status", "ksef_number")  # fmt: skip
    list_filter = ("direction", "kind", "ksef_status", "company")
    search_fields = ("=uuid", "number", "buyer_nip", "seller_nip", "=ksef_number", "buyer_name")
    list_select_related = ("company",)
    date_hierarchy = "issue_date"
    ordering = ("-issue_date", "-id")
    raw_id_fields = ("company", "contractor", "corrected_invoice", "created_by")
    readonly_fields = ("uuid", "total_net", "total_vat", "total_gross", "ksef_number", "ksef_status",
                       "ksef_acquisition_date", "ksef_status_message", "xml_sha256_b64", "idempotency_key",
                       "created_at", "updated_at")  # fmt: skip
    inlines = (InvoiceLineInline,)
    show_full_result_count = False  # COUNT(*) over every invoice on each page is what makes admin slow


@admin.register(Contractor)
class ContractorAdmin(admin.ModelAdmin):
    list_display = ("name", "nip", "foreign_id", "country_code", "company", "updated_at")
    search_fields = ("name", "=nip", "foreign_id")
    list_filter = ("country_code",)
    raw_id_fields = ("company",)
    list_select_related = ("company",)


class NumberingCounterInline(admin.TabularInline):
    model = NumberingCounter
    extra = 0
    readonly_fields = ("period", "last_number")
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(NumberingSeries)
class NumberingSeriesAdmin(admin.ModelAdmin):
    list_display = ("company", "kind", "pattern", "reset")
    list_filter = ("kind", "reset")
    raw_id_fields = ("company",)
    inlines = (NumberingCounterInline,)
