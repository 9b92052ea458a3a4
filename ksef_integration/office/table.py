"""The Biuro table's rows as HTML, written here rather than in a template loop: the template language spent
~0.2 ms of CPU per row (variable lookups, escaping, ``|date``), a quarter of the whole page with 25 rows;
``format_html`` escapes every value the same way at a tenth of that. The page around the rows, and every
other word on it, is in ``templates/ksef_integration/office.html``.

A row holds nothing of the request: its Open button submits the page's one form (``#office-switch``, with
the CSRF token) to the company switcher.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from ksef_integration.office.selectors import ClientRow

_PLACEHOLDER = str(uuid.UUID(int=0))


def _day(value: dt.date) -> str:
    return value.strftime("%d.%m.%Y")


def rows_html(rows: Sequence[ClientRow]) -> SafeString:
    """One ``<tr>`` per company: name and NIP, the KSeF state with what needs attention, the counts (each
    with its label for the phone layout, ``data-label``), the last import and Open."""
    # the switcher's URL once, then each company's uuid in its place (reverse() per row costs like a row)
    switch = reverse("accounts:company_switch", args=[_PLACEHOLDER])
    t = {
        # short: a table column's header, and a number's label on a phone (the template's <th> say the same)
        "waiting": _("Waiting"),
        "rejected": _("Rejected"),
        "offline": _("Offline"),
        "new": _("New purchases"),
        "import": _("Last import"),
        "open": _("Open"),
        "token": _("Token works until"),
        "cert": _("Certificate valid until"),
        "noperm": _("no permissions"),
        "expired": _("expired"),
        "deadline": _("deadline"),
        "open_deadline": _("deadline set when the outage ends"),
    }
    return format_html_join("", "{}", ((_row(row, t, switch),) for row in rows))


def _row(row: ClientRow, t: dict[str, str], switch: str) -> SafeString:
    ksef = [format_html('<span class="status {}" data-field="health">{}</span>', _ok(row), row.health_label)]
    if row.permissions_missing and row.health != "no_permissions":
        ksef.append(
            format_html(
                ' <span class="status status--off" data-field="permissions">{} ({})</span>',
                t["noperm"],
                ", ".join(row.permissions_missing),
            )
        )
    if row.expires_on is not None:
        ksef.append(
            format_html(
                '<span class="muted office-row__expiry" data-field="expiry">{} {}{}</span>',
                t["token"] if row.credential == "token" else t["cert"],
                _day(row.expires_on),
                f" ({t['expired']})" if row.expires_in_days is not None and row.expires_in_days < 0 else "",
            )
        )
    # what the badges above do not say already (the state, the missing permissions)
    said = {t["noperm"]} if row.health_ok else {row.health_label, t["noperm"]}
    rest = [p for p in row.problems if p not in said]
    if rest:
        ksef.append(
            format_html(
                '<span class="office-row__problems" data-field="problems">{}</span>', " · ".join(rest)
            )
        )
    deadline: str = ""
    if row.offline_deadline is not None:
        deadline = format_html(
            ' <span class="muted">({} {})</span>', t["deadline"], _day(row.offline_deadline)
        )
    elif row.offline_deadline_open:
        deadline = format_html(' <span class="muted">({})</span>', t["open_deadline"])
    last = timezone.localtime(row.last_import_at).strftime("%d.%m.%Y %H:%M") if row.last_import_at else "—"
    return format_html(
        '<tr class="office-row{}" id="client-{}" data-health="{}">'
        '<th scope="row" class="office-row__name">{}<span class="muted">NIP {} · {}</span></th>'
        '<td class="office-row__ksef">{}</td>'
        '<td class="num" data-label="{}" data-field="waiting">{}</td>'
        '<td class="num{}" data-label="{}" data-field="rejected">{}</td>'
        '<td class="num{}" data-label="{}" data-field="offline">{}{}</td>'
        '<td class="num" data-label="{}" data-field="new">{}</td>'
        '<td data-label="{}" data-field="import">{}</td>'
        '<td class="office-row__open"><button type="submit" form="office-switch" formaction="{}" '
        'class="button button--small" aria-label="{} {}">{}</button></td></tr>\n',
        " office-row--problem" if row.problems else "",
        row.nip,
        row.health,
        row.name,
        row.nip,
        row.role_label,
        mark_safe("".join(ksef)),  # noqa: S308 - each part made by format_html above
        t["waiting"],
        row.waiting,
        " office-row__bad" if row.rejected else "",
        t["rejected"],
        row.rejected,
        " office-row__bad" if row.offline else "",
        t["offline"],
        row.offline,
        deadline,
        t["new"],
        row.new_purchases,
        t["import"],
        last,
        switch.replace(_PLACEHOLDER, row.company_uuid),
        t["open"],
        row.name,
        t["open"],
    )


def _ok(row: ClientRow) -> str:
    return "status--ok" if row.health_ok else "status--off"
