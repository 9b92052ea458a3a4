"""The purchase inbox's rows, formatted in one pass and rendered once per set of shown values, and the rest
of its content (heading, filter panel, table head, bulk actions, pager), rendered once per set of values it
shows (as ``invoices.list_cache`` does for Dokumenty).

The rows' key is a digest of every value a row shows (the inbox row as read, with the reader's "unread"
marker, and "overdue"), whether the reader may act (the checkboxes), the language and the release
(``settings.RELEASE_KEY``); the content's key a digest of the reader's rights, the approver, the request's
path with its query (which the filter panel shows), the pager's links, the language and the release. Any
change to a shown value gives another key, so nothing stale is ever served and nothing has to invalidate the
cache. The CSRF field is this request's, put into the kept content on each request."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from invoices import formatting
from payments.inbox import InboxRowView
from payments.models import PurchaseStatus

CACHE_SECONDS = 60 * 60
_PLACEHOLDER = uuid.UUID(int=0)


@dataclass(frozen=True)
class InboxListRow:
    """One row as the template shows it: every value already formatted."""

    uuid: str
    url: str
    number: str
    unread: bool
    overdue: bool
    split_payment: bool
    issue_date: str
    ksef_number: str
    seller_name: str
    seller_nip: str
    due_date: str
    gross: str
    status: str
    status_label: str
    note: str  # the rejection's reason or the payment's date, under the status


def inbox_rows_build(*, rows: Sequence[InboxRowView]) -> list[InboxListRow]:
    """The rows in one pass: one reverse(), the labels translated once, money and dates formatted."""
    url_pattern = reverse("invoices:detail", kwargs={"invoice_uuid": _PLACEHOLDER})
    placeholder = str(_PLACEHOLDER)
    labels = {value: str(label) for value, label in PurchaseStatus.choices}
    built = []
    for item in rows:
        row = item.row
        note = ""
        if row.status == PurchaseStatus.REJECTED and row.reject_reason:
            note = row.reject_reason
        elif row.status == PurchaseStatus.PAID and row.paid_on:
            note = row.paid_on.strftime("%d.%m.%Y")
        built.append(
            InboxListRow(
                uuid=str(row.uuid),
                url=url_pattern.replace(placeholder, str(row.uuid)),
                number=row.number,
                unread=item.unread,
                overdue=item.overdue,
                split_payment=row.split_payment,
                issue_date=row.issue_date.strftime("%d.%m.%Y"),
                ksef_number=row.ksef_number or "",
                seller_name=row.seller_name,
                seller_nip=row.seller_nip,
                due_date=row.due_date.strftime("%d.%m.%Y") if row.due_date else "",
                gross=formatting.money(row.total_gross, row.currency),
                status=row.status,
                status_label=labels.get(row.status, row.status),
                note=note,
            )
        )
    return built


def rows_cache_key(*, rows: Sequence[InboxRowView], can_act: bool, language: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    shown = [(tuple(item.row), item.unread, item.overdue) for item in rows]  # a plain tuple: its repr is C
    digest.update(repr((settings.RELEASE_KEY, language, can_act, shown)).encode())
    return f"payments:inbox-rows:{digest.hexdigest()}"


# Where the page's own pieces go in the kept content: comments, so that no escaped value shown on the page
# (a seller's name, the query echoed in the filters) can ever read as one.
ROWS_PLACEHOLDER = "<!--inbox:rows-->"
CSRF_PLACEHOLDER = "<!--inbox:csrf-->"
FRAME_KEYS = (
    "can_act", "can_accept", "is_owner", "approver_email", "filtered", "has_rows", "here", "next_url",
    "first_url", "reason_max",
)  # fmt: skip


def _frame_key(frame: dict[str, Any], language: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((settings.RELEASE_KEY, language, [frame[name] for name in FRAME_KEYS])).encode())
    return f"payments:inbox-frame:{digest.hexdigest()}"


def inbox_content(
    *, request: HttpRequest, rows: Sequence[InboxRowView], frame: dict[str, Any], form: forms.Form
) -> SafeString:
    """The page's content: the frame (heading, filter panel, table head, bulk actions, pager: everything
    but the rows and the CSRF field) and the ``<tr>`` rows, each from the cache when the same values were
    rendered before (one round trip for both), the rows and this request's CSRF field put in their places.

    The frame's key holds every value it shows (``FRAME_KEYS``: the reader's rights, the approver, the
    request's path with its query, which the filter panel shows, the pager's links), the language and the
    release; the rows' key every shown value of every row (``rows_cache_key``)."""
    language = get_language() or ""
    can_act = frame["can_act"]
    rows_key = rows_cache_key(rows=rows, can_act=can_act, language=language)
    frame_key = _frame_key(frame, language)
    found = cache.get_many([rows_key, frame_key])
    missing = {}
    rows_html = found.get(rows_key)
    if rows_html is None:
        rows_html = render_to_string(
            "payments/_inbox_rows.html", {"rows": inbox_rows_build(rows=rows), "can_act": can_act}
        )
        missing[rows_key] = rows_html
    frame_html = found.get(frame_key)
    if frame_html is None:
        frame_html = render_to_string(
            "payments/_inbox_content.html",
            {
                **frame,
                "form": form,
                "rows_placeholder": mark_safe(ROWS_PLACEHOLDER),  # noqa: S308 - a constant
                "csrf_placeholder": mark_safe(CSRF_PLACEHOLDER),  # noqa: S308 - a constant
            },
        )
        missing[frame_key] = frame_html
    if missing:
        cache.set_many(missing, CACHE_SECONDS)
    csrf_field = format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)
    )
    html = frame_html.replace(CSRF_PLACEHOLDER, csrf_field, 1).replace(ROWS_PLACEHOLDER, rows_html, 1)
    return mark_safe(html)  # noqa: S308 - our templates with autoescaping, and an escaped field
