"""The Biuro page's search, filter, order and page number."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class OfficeFilterForm(forms.Form):
    name = forms.CharField(label=_("Name or NIP"), max_length=100, required=False)
    show = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            ("", _("all companies")),
            ("attention", _("needing attention")),
            ("no_permissions", _("without KSeF permissions")),
            ("rejected", _("with rejected invoices")),
            ("offline", _("with offline invoices to send")),
            ("new", _("with new purchase invoices")),
            ("waiting", _("with invoices waiting for KSeF")),
        ],
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("attention", _("needing attention first")),
            ("name", _("name")),
            ("waiting", _("most waiting for KSeF")),
            ("new", _("most new purchase invoices")),
        ],
    )
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)
