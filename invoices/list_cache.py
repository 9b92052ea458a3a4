"""The rows of the Dokumenty list, rendered once and cached under a key made of what they show, and the
filter form while no filter is set.

The key is a digest of every value a row displays (uuid, number, kind, the "new" marker, date, counterparty,
amounts, currency, KSeF status) plus the language and the release (``settings.RELEASE_KEY``: a digest of the
code, templates and catalogs, computed at start-up). Any change to a shown value — by a service, the KSeF
status mirror, a queryset ``update()`` or the admin — gives another key, so a stale row can never be served
and nothing has to invalidate the cache; a deployment gives every key anew. The rows come from the page query
the list runs anyway, so a hit costs one cache read and a hash of 50 short tuples instead of the rendering.

Only markup that is the same for everyone who may see it is kept in the shared cache: the rows (what any
member of the company sees) and the empty filter panel. The page around them — the user, their role, the
messages, the CSRF token, anything added later — is rendered for each request.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from invoices import formatting
from invoices.models import InvoiceKind, KsefStatus
from invoices.selectors import ListedInvoice

CACHE_SECONDS = 60 * 60
_PLACEHOLDER = uuid.UUID(int=0)


@dataclass(frozen=True)
class ListRow:
    """One row as the template shows it: every value already formatted."""

    url: str
    uuid: str
    number: str
    kind: str  # "" for a plain VAT invoice (no badge)
    is_new: bool
    issue_date: str
    party_name: str
    party_nip: str
    net: str
    gross: str
    status: str
    status_label: str


def _shown_values(invoice: ListedInvoice) -> tuple[object, ...]:
    return (
        invoice.uuid, invoice.number, invoice.kind, invoice.stated_kind, invoice.is_new, invoice.issue_date,
        invoice.counterparty_name, invoice.counterparty_nip,
        invoice.total_net, invoice.total_gross, invoice.currency, invoice.ksef_status,
    )  # fmt: skip


def rows_cache_key(*, invoices: Sequence[ListedInvoice], language: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((settings.RELEASE_KEY, language, [_shown_values(i) for i in invoices])).encode())
    return f"invoices:list-rows:{digest.hexdigest()}"


def list_rows_build(*, invoices: Sequence[ListedInvoice]) -> list[ListRow]:
    """The rows in one pass: one reverse(), the status labels translated once, money and dates formatted."""
    url_pattern = reverse("invoices:detail", kwargs={"invoice_uuid": _PLACEHOLDER})
    placeholder = str(_PLACEHOLDER)
    labels = {value: str(label) for value, label in KsefStatus.choices}
    rows = []
    for invoice in invoices:
        kind = invoice.stated_kind or invoice.kind  # as its issuer wrote it (ROZ, UPR, KOR_ZAL …)
        rows.append(
            ListRow(
                url=url_pattern.replace(placeholder, str(invoice.uuid)),
                uuid=str(invoice.uuid),
                number=invoice.number,
                kind="" if kind == InvoiceKind.VAT else kind,
                is_new=invoice.is_new,
                issue_date=invoice.issue_date.strftime("%d.%m.%Y"),
                party_name=invoice.counterparty_name,
                party_nip=invoice.counterparty_nip,
                net=formatting.money(invoice.total_net),
                gross=formatting.money(invoice.total_gross, invoice.currency),
                status=invoice.ksef_status,
                status_label=labels.get(invoice.ksef_status, invoice.ksef_status),
            )
        )
    return rows


def list_rows_html(*, invoices: Sequence[ListedInvoice]) -> SafeString:
    """The ``<tr>`` rows of the page, from the cache when the same values were rendered before."""
    key = rows_cache_key(invoices=invoices, language=get_language() or "")
    html = cache.get(key)
    if html is None:
        html = render_to_string("invoices/_document_rows.html", {"rows": list_rows_build(invoices=invoices)})
        cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by our template with autoescaping


_UNFILTERED_PARAMS = frozenset({"direction", "after"})


def is_unfiltered(params: QueryDict) -> bool:
    """Whether the query string holds nothing but the direction and the paging cursor."""
    return _UNFILTERED_PARAMS.issuperset(params.keys())


def list_filters_html(*, form: forms.Form, direction: str, filtered: bool, params: QueryDict) -> SafeString:
    """The filters panel. Without filter parameters it depends only on the direction and the language,
    so it is rendered once per pair; with filters set (values, errors) it is rendered every time."""
    context = {"form": form, "direction": direction, "filtered": filtered}
    if filtered or not is_unfiltered(params):
        return mark_safe(render_to_string("invoices/_document_filters.html", context))  # noqa: S308
    key = f"invoices:list-filters:{settings.RELEASE_KEY}:{get_language()}:{direction}:{int(form.is_bound)}"
    html = cache.get(key)
    if html is None:
        html = render_to_string("invoices/_document_filters.html", context)
        cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by our template with autoescaping
