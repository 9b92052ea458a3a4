"""The Biuro page's content (the totals, the filters, the table of one page of companies, the pager), rendered
once per set of values it shows and kept in the shared cache.

The key is a digest of everything the content shows — the user's companies as read (names, NIPs, roles,
connections, invoice counts, last imports, offline invoices, announced failures: ``selectors.office_digest``,
one statement on PostgreSQL, where the rows are digested), today's date (deadlines and expiries count days)
and the token sunset (a setting),
the request's path with its query (the search, filter, order and page, which the form echoes and the pager's
links carry), the language and the release (``settings.RELEASE_KEY``). A change to any shown value gives
another key: nothing stale is served and nothing has to invalidate the cache. Content is rendered from rows
read with their own digest (``selectors.office_state``) and kept under that digest, so what is kept under a
key is exactly what the key describes even when something changed since the first read. The content holds
nothing of the request beyond its query: the CSRF field is in the page's switch form, outside the kept
content (office.html)."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from accounts.models import User
from ksef_integration.office.forms import OfficeFilterForm
from ksef_integration.office.selectors import office_digest, office_page, office_state
from ksef_integration.office.table import rows_html

# Every change to a client gives a new key, and the old content (~40 KiB) stays until it expires: five
# minutes keeps what a busy office leaves behind small (a render costs ~10 ms when it has gone).
CACHE_SECONDS = 5 * 60


def content_key(*, digest: str, today: dt.date, full_path: str, language: str) -> str:
    key = hashlib.blake2b(digest_size=20)
    # the token sunset is a setting (a connection's state and expiry read it), not in the release's code
    shown = (settings.RELEASE_KEY, settings.KSEF_TOKEN_SUNSET, language, today, full_path, digest)
    key.update(repr(shown).encode())
    return f"office:content:{key.hexdigest()}"


def office_content(*, request: HttpRequest, user: User) -> SafeString:
    """The content for ``user``'s companies and the request's query, from the cache when the same values were
    rendered before (one statement and one cache read), else rendered and kept."""
    language, full_path = get_language() or "", request.get_full_path()
    key = content_key(
        digest=office_digest(user=user), today=timezone.localdate(), full_path=full_path, language=language
    )
    html: str | None = cache.get(key)
    if html is None:
        return _render(request=request, user=user, full_path=full_path, language=language)
    return mark_safe(html)  # noqa: S308 - our template, autoescaped


def _render(*, request: HttpRequest, user: User, full_path: str, language: str) -> SafeString:
    """Read the state, render the content and keep it under the digest of what was read. The search, filter,
    order and page come from the request's query (which is in the key)."""
    form = OfficeFilterForm(request.GET)
    form.is_valid()  # a field with a bad value (a made-up order, an overlong name) is left out, no error page
    state = office_state(user=user)
    data = form.cleaned_data
    name, show = data.get("name") or "", data.get("show") or ""
    sort = data.get("sort") or "attention"
    page = office_page(state=state, name=name, show=show, sort=sort, page=data.get("page") or 1)
    html = render_to_string(
        "ksef_integration/_office_content.html",
        {
            "form": form,
            "page": page,
            "totals": page.totals,
            "rows": page.rows,
            "rows_html": rows_html(page.rows),
            "filtered": bool(name or show),
            "sort": sort,
        },
        request=request,  # {% querystring %} reads the request's query
    )
    key = content_key(digest=state.digest, today=state.today, full_path=full_path, language=language)
    cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - our template, autoescaped
