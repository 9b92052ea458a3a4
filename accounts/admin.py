"""Back office for users, companies, memberships and invitations (search by NIP and e-mail)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import Company, Invitation, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user", "company"]
    readonly_fields = ["created_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name", "memberships__company__nip"]
    readonly_fields = ["uuid", "date_joined", "last_login"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("uuid", "email", "password")}),
        (_("Personal info"), {"fields": ("full_name",)}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "nip", "country_code", "created_at"]
    search_fields = ["name", "nip", "memberships__user__email"]
    readonly_fields = ["uuid", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "company", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "company__nip", "company__name"]
    autocomplete_fields = ["user", "company"]
    list_select_related = ["user", "company"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "company", "role", "created_at", "sent_at", "accepted_at", "expires_at"]
    list_filter = ["role"]
    search_fields = ["email", "company__nip", "company__name"]
    list_select_related = ["company"]
    # The link's secret is never stored; its hash is not useful to staff either.
    exclude = ["token_hash"]
    readonly_fields = ["uuid", "created_at", "sent_at", "accepted_at", "accepted_by", "invited_by"]
