"""Every URL pattern of the project, read from the URLconf (never a hand-kept list), with sample kwargs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse

# Left out of the matrices, each for a reason:
SKIPPED_PREFIXES = {
    # Django's admin: staff-only, guarded by is_staff and tested by Django itself; every model page has its
    # own URL shape. Its login form is still in the CSRF matrix (see ADMIN_FORMS).
    "admin/": "Django admin (staff only)",
    # The simulator plays the government side in development and tests only; production does not mount it
    # (tests/ksefportal/test_settings.py). Its machine API is csrf-exempt as KSeF's is (bearer tokens).
    "ksef-sim/": "KSeF simulator (not mounted in production)",
    # The public API authenticates by API key, not by session, and has no forms: its own tenancy matrix
    # walks the served OpenAPI document with keys (tests/test_tenancy.py, the API section).
    "api/v1/": "the public API (API keys; its own matrix)",
}
ADMIN_FORMS = ["admin:login"]


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    converters: Mapping[str, str]  # kwarg -> converter class name
    callback: Any

    @property
    def uuid_kwargs(self) -> list[str]:
        return [k for k, c in self.converters.items() if c == "UUIDConverter"]

    def url(self, values: Mapping[str, Any]) -> str:
        kwargs = {}
        for kwarg, converter in self.converters.items():
            if kwarg in values:
                kwargs[kwarg] = values[kwarg]
            elif converter == "UUIDConverter":
                kwargs[kwarg] = uuid.uuid4()
            else:
                kwargs[kwarg] = "MQ" if kwarg == "uidb64" else "x-set-password"
        return reverse(self.name, kwargs=kwargs or None)


def _walk(resolver: URLResolver, route: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, route + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern) and entry.name:
            converters = {k: type(c).__name__ for k, c in getattr(entry.pattern, "converters", {}).items()}
            yield Route(f"{namespace}{entry.name}", route + str(entry.pattern), converters, entry.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


def app_routes() -> list[Route]:
    """The portal's own URLs: everything but the skipped prefixes."""
    return [r for r in all_routes() if not any(r.route.startswith(p) for p in SKIPPED_PREFIXES)]


def company_rows(company_pk: int | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of our apps' tables (or only those of one company): a snapshot to compare before/after."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    for model in apps.get_models():
        if model._meta.app_label not in {
            "accounts",
            "invoices",
            "ksef_integration",
            "payments",
            "integrations",
        }:
            continue
        queryset: models.QuerySet[Any] = model._default_manager.all()
        if company_pk is not None:
            names = {f.name for f in model._meta.get_fields()}
            if "company" in names:
                queryset = queryset.filter(company_id=company_pk)
            elif model._meta.label == "accounts.Company":
                queryset = queryset.filter(pk=company_pk)
            else:
                continue
        snapshot[model._meta.label] = [tuple(row) for row in queryset.order_by("pk").values_list()]
    return snapshot
