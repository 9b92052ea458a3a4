"""The Biuro page's content (the totals, the filters, the table of one page of companies, the pager), rendered
once per set of values it shows and kept in the shared cache.

The key is a digest of everything the content shows: the user's companies as read (names, NIPs, roles,
connections, invoice counts, last imports, offline invoices, announced failures: ``selectors.office_digest``,
one statement on PostgreSQL, where the rows are digested); today's date (deadlines and expiries count days);
the token sunset (a setting); the page's path and the search, filter, order and page as the form cleans
them (``OfficeQuery``: the form echoes them and the pager's links carry them; anything else in the query is
ignored); the language and the release (``settings.RELEASE_KEY``). A change to any shown value gives another
key: nothing stale is served and nothing has to invalidate the cache. Content is rendered from rows read
with their own digest (``selectors.office_state``) and kept under that digest, so what is kept under a key
is exactly what the key describes even when something changed since the first read. The content holds
nothing of the request beyond its query: the CSRF field is in the page's switch form, outside the kept
content (office.html)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

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


@dataclass(frozen=True)
class OfficeQuery:
    """The search, filter, order and page asked for, as the form cleans them: the key and the page depend on
    these alone (anything else in the query is ignored, so it cannot multiply the kept copies)."""

    name: str
    show: str
    sort: str
    page: int

    def url(self, path: str, page: int) -> str:
        """This query on another page, with the defaults left out."""
        params = {"name": self.name, "show": self.show, "sort": "" if self.sort == "attention" else self.sort}
        return f"{path}?{urlencode({**{k: v for k, v in params.items() if v}, 'page': page})}"


def office_query(request: HttpRequest) -> OfficeQuery:
    form = OfficeFilterForm(request.GET)
    form.is_valid()  # a field with a bad value (a made-up order, an overlong name) is left out, no error page
    data = form.cleaned_data
    return OfficeQuery(
        name=data.get("name") or "",
        show=data.get("show") or "",
        sort=data.get("sort") or "attention",
        page=data.get("page") or 1,
    )


def content_key(*, digest: str, today: dt.date, path: str, query: OfficeQuery, language: str) -> str:
    key = hashlib.blake2b(digest_size=20)
    # the token sunset is a setting (a connection's state and expiry read it), not in the release's code
    shown = (settings.RELEASE_KEY, settings.KSEF_TOKEN_SUNSET, language, today, path, query, digest)
    key.update(repr(shown).encode())
    return f"office:content:{key.hexdigest()}"


def office_content(*, request: HttpRequest, user: User) -> SafeString:
    """The content for ``user``'s companies and the request's query, from the cache when the same values were
    rendered before (one statement and one cache read), else rendered and kept."""
    language, query = get_language() or "", office_query(request)
    today = timezone.localdate()
    key = content_key(
        digest=office_digest(user=user), today=today, path=request.path, query=query, language=language
    )
    html: str | None = cache.get(key)
    if html is None:
        return _render(request=request, user=user, query=query, language=language)
    return mark_safe(html)  # noqa: S308 - our template, autoescaped


def _render(*, request: HttpRequest, user: User, query: OfficeQuery, language: str) -> SafeString:
    """Read the state, render the content and keep it under the digest of what was read."""
    state = office_state(user=user)
    page = office_page(state=state, name=query.name, show=query.show, sort=query.sort, page=query.page)
    # the form shows the cleaned values (an unknown order reads as the default), like the key
    form = OfficeFilterForm({"name": query.name, "show": query.show, "sort": query.sort})
    html = render_to_string(
        "ksef_integration/_office_content.html",
        {
            "form": form,
            "page": page,
            "totals": page.totals,
            "rows": page.rows,
            "rows_html": rows_html(page.rows),
            "filtered": bool(query.name or query.show),
            "sort": query.sort,
            "prev_url": query.url(request.path, page.number - 1),
            "next_url": query.url(request.path, page.number + 1),
        },
    )
    key = content_key(
        digest=state.digest, today=state.today, path=request.path, query=query, language=language
    )
    cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - our template, autoescaped
