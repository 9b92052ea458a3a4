"""Forms of the Integracje page: a new API key, a new webhook endpoint."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.models import ApiScope, EventType


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What uses the key, e.g. “our online shop”.")
    )
    scope = forms.ChoiceField(label=_("Scope"), choices=ApiScope.choices, initial=ApiScope.READ)


class EndpointForm(forms.Form):
    url = forms.URLField(
        label=_("Address (URL)"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Where the events are POSTed, e.g. https://example.com/ksef/webhook."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=EventType.values,
    )
