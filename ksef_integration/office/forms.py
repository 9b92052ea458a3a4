"""The Biuro page's filters: a name or NIP, only companies with problems, and the order."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class OfficeFilterForm(forms.Form):
    name = forms.CharField(label=_("Name or NIP"), max_length=100, required=False)
    problems = forms.BooleanField(label=_("Only with problems"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("name", _("name")),
            ("problems", _("problems first")),
            ("waiting", _("most waiting for KSeF")),
        ],
    )
