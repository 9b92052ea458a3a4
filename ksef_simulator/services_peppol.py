"""The register of Peppol service providers behind ``GET /peppol/query``. KSeF registers a provider at its
first login with its seal; the simulator's control API (``/ksef-sim/control/peppol-providers``) does it
for tests. Without any provider the query answers an empty page, as KSeF does."""

from __future__ import annotations

import re

from django.db.models import QuerySet

from ksef_simulator.models import PeppolProvider
from ksef_simulator.responses import now_utc

PEPPOL_ID_RE = re.compile(r"^P[A-Z]{2}[0-9]{6}$")  # the spec's PeppolId


class PeppolError(ValueError):
    """A provider the register refuses (a malformed id or name)."""


def provider_register(*, provider_id: str, name: str) -> PeppolProvider:
    """Register (or rename) a provider; its registration date stays the first one."""
    if not PEPPOL_ID_RE.match(provider_id):
        raise PeppolError("id must match ^P[A-Z]{2}[0-9]{6}$")
    if not name.strip() or len(name) > 256:
        raise PeppolError("name must have 1..256 characters")
    provider, created = PeppolProvider.objects.get_or_create(
        provider_id=provider_id, defaults={"name": name, "created_at": now_utc()}
    )
    if not created and provider.name != name:
        provider.name = name
        provider.save(update_fields=["name"])
    return provider


def providers_clear() -> int:
    deleted, _ = PeppolProvider.objects.all().delete()
    return deleted


def providers() -> QuerySet[PeppolProvider]:
    """Every registered provider in the spec's order: newest first, then by id."""
    return PeppolProvider.objects.order_by("-created_at", "provider_id")
