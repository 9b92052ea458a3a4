"""The Biuro page's company cards, rendered once and cached under a key made of what each shows.

As the Dokumenty rows (``invoices.list_cache``): the key is a digest of every value of the card's row
(``office.selectors.ClientRow``: state, counts, dates, the viewer's role) plus the language and the release
(``settings.RELEASE_KEY``), so a changed count or state gives another key and nothing has to be invalidated.
A card holds nothing of the request — its Open button submits the page's one form, which carries the CSRF
token — so it is the same for everyone who may see it. All cards are read in one cache round trip; only the
missing ones are rendered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from ksef_integration.office.selectors import ClientRow

CACHE_SECONDS = 60 * 60
TEMPLATE = "ksef_integration/_office_card.html"


def card_cache_key(*, row: ClientRow, language: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    # vars(), not dataclasses.astuple(): the same values in field order without astuple's deep copy
    digest.update(repr((settings.RELEASE_KEY, language, vars(row))).encode())
    return f"ksef:office-card:{digest.hexdigest()}"


def office_cards_html(*, rows: Sequence[ClientRow]) -> SafeString:
    """Every card in the rows' order, from the cache where the same values were rendered before."""
    language = get_language() or ""
    keys = [card_cache_key(row=row, language=language) for row in rows]
    found = cache.get_many(keys)
    missing = {}
    parts = []
    for key, row in zip(keys, rows, strict=True):
        html = found.get(key)
        if html is None:
            html = missing[key] = render_to_string(TEMPLATE, {"row": row})
        parts.append(html)
    if missing:
        cache.set_many(missing, CACHE_SECONDS)
    return mark_safe("".join(parts))  # noqa: S308 - rendered by our template with autoescaping
