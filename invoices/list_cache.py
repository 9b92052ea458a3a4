"""The rows of the Dokumenty list, rendered once and cached under a key made of what they show; the
filter form while no filter is set; and, for the list without filters, the whole page.

The key is a digest of every value a row displays (uuid, number, kind, the "new" marker, date, counterparty,
amounts, currency, KSeF status) plus the language and a markup version. Any change to a shown value — by a
service, the KSeF status mirror, a queryset ``update()`` or the admin — gives another key, so a stale row
can never be served and nothing has to invalidate the cache. The rows come from the page query the list
runs anyway, so a hit costs one cache read and a hash of 50 short tuples instead of the rendering.

The whole page (``ListPageCache``) is kept in the memory of each web process, on PostgreSQL, under its rows'
ids and row versions (``invoices.selectors.invoice_list_versions``: a new version for every insert or update
of a row, so equal versions mean equal rows) and everything else the page shows (language, company name
and NIP, role, direction and paging parameters). A hit reads the versions, not the rows. It is kept only
for the list without filters, never for a page that carries messages or a CSRF token, and in process
memory so that a deployment (new templates, translations, static file names) starts empty.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connections, router
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.loader import render_to_string
from django.test.signals import setting_changed
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from invoices import formatting
from invoices.models import Invoice, InvoiceKind, KsefStatus
from invoices.selectors import ListedInvoice, PageVersions

MARKUP_VERSION = 3  # bump when _document_rows.html or the row values change
CACHE_SECONDS = 60 * 60
_PLACEHOLDER = uuid.UUID(int=0)


@dataclass(frozen=True)
class ListRow:
    """One row as the template shows it: every value already formatted."""

    url: str
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
    digest.update(repr((MARKUP_VERSION, language, [_shown_values(i) for i in invoices])).encode())
    return f"invoices:list-rows:{digest.hexdigest()}"


class ListPageCache:
    """Whole list pages in this process's memory, least recently used dropped first (~30 KB a page).

    A page is filed under the hash of everything it shows and kept with those values: a hit needs them to
    be equal, not only their hash, so a collision can never serve another page.
    """

    def __init__(self, max_pages: int = 256) -> None:
        self._pages: OrderedDict[int, tuple[tuple[object, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()  # gthread workers share the process
        self._max_pages = max_pages

    @staticmethod
    def shown(*parts: object, rows: PageVersions) -> tuple[object, ...]:
        """Everything the page shows: ``parts`` (company, role, parameters ...) and the rows' versions."""
        return (MARKUP_VERSION, get_language(), settings.SITE_NAME, parts, rows)

    @staticmethod
    def usable(request: HttpRequest) -> bool:
        """Not while templates reload (DEBUG), not for a page that will show messages, and not inside a
        transaction: rows it wrote itself carry its own row version through any number of changes, and only
        committed versions identify rows (a version another transaction can see is never rewritten)."""
        if settings.DEBUG or connections[router.db_for_read(Invoice)].in_atomic_block:
            return False
        return len(get_messages(request)) == 0

    def get(self, shown: tuple[object, ...]) -> HttpResponse | None:
        key = hash(shown)
        with self._lock:
            entry = self._pages.get(key)
            if entry is None or entry[0] != shown:
                return None
            self._pages.move_to_end(key)
        return HttpResponse(entry[1])

    def put(self, shown: tuple[object, ...], request: HttpRequest, response: HttpResponse) -> None:
        """Keep a rendered 200 page, unless rendering it used the CSRF token (which is per visitor)."""
        if response.status_code != 200 or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
            return
        key = hash(shown)
        with self._lock:
            self._pages[key] = (shown, response.content)
            self._pages.move_to_end(key)
            while len(self._pages) > self._max_pages:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


list_pages = ListPageCache()


@receiver(setting_changed)
def _pages_clear(**_: object) -> None:
    """Tests that override settings (the URLconf, the languages) must not see pages built before."""
    list_pages.clear()


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
    key = f"invoices:list-filters:{MARKUP_VERSION}:{get_language()}:{direction}:{int(form.is_bound)}"
    html = cache.get(key)
    if html is None:
        html = render_to_string("invoices/_document_filters.html", context)
        cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by our template with autoescaping
