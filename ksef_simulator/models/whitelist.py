"""The VAT white list stand-in's test data: subjects a test set, overriding the ones derived from the NIP."""

from __future__ import annotations

from django.db import models

__all__ = ["WlSubject"]


class WlSubject(models.Model):
    """``POST /ksef-sim/wl-api/testdata/subject``: what the register says about one NIP. An empty
    ``status_vat`` means the NIP is not in the register at all (search answers ``subject: null``)."""

    nip = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=256, blank=True)
    status_vat = models.CharField(max_length=32, blank=True)  # Czynny, Zwolniony, Niezarejestrowany or ""
    account_numbers = models.JSONField(default=list)
    has_virtual_accounts = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.nip
