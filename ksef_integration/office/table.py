"""The Biuro table's rows as HTML, written here rather than in a template loop: the template language spent
~0.2 ms of CPU per row (variable lookups, escaping, ``|date``), a quarter of the whole page with 25 rows.
Every text value goes through ``escape`` (numbers and dates are ours); the markup is plain f-strings, a
tenth of ``format_html``'s cost. The page around the rows, and every other word on it, is in
``templates/ksef_integration/_office_content.html``.

A row holds nothing of the request: its Open button submits the page's one form (``#office-switch``, with
the CSRF token) to the company switcher.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
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
    t = {name: str(escape(text)) for name, text in t.items()}
    t["noperm_text"] = _("no permissions")  # as the row's problems say it, unescaped
    return mark_safe("".join(_row(row, t, switch) for row in rows))  # noqa: S308 - every value escaped


def _row(row: ClientRow, t: dict[str, str], switch: str) -> str:
    """One ``<tr>``; ``t`` are the labels, already escaped."""
    name = escape(row.name)
    ksef = f'<span class="status {_ok(row)}" data-field="health">{escape(row.health_label)}</span>'
    if row.permissions_missing and row.health != "no_permissions":
        missing = escape(", ".join(row.permissions_missing))
        ksef += f' <span class="status status--off" data-field="permissions">{t["noperm"]} ({missing})</span>'
    if row.expires_on is not None:
        label = t["token"] if row.credential == "token" else t["cert"]
        expired = f" ({t['expired']})" if row.expires_in_days is not None and row.expires_in_days < 0 else ""
        ksef += (
            f'<span class="muted office-row__expiry" data-field="expiry">{label} {_day(row.expires_on)}'
            f"{expired}</span>"
        )
    # what the badges above do not say already (the state, the missing permissions)
    said = {t["noperm_text"]} if row.health_ok else {row.health_label, t["noperm_text"]}
    rest = [p for p in row.problems if p not in said]
    if rest:
        ksef += f'<span class="office-row__problems" data-field="problems">{escape(" · ".join(rest))}</span>'
    deadline = ""
    if row.offline_deadline is not None:
        deadline = f' <span class="muted">({t["deadline"]} {_day(row.offline_deadline)})</span>'
    elif row.offline_deadline_open:
        deadline = f' <span class="muted">({t["open_deadline"]})</span>'
    last = timezone.localtime(row.last_import_at).strftime("%d.%m.%Y %H:%M") if row.last_import_at else "—"
    problem = " office-row--problem" if row.problems else ""
    return (
        f'<tr class="office-row{problem}" id="client-{escape(row.nip)}" data-health="{escape(row.health)}">'
        f'<th scope="row" class="office-row__name">{name}<span class="muted">NIP {escape(row.nip)} · '
        f"{escape(row.role_label)}</span></th>"
        f'<td class="office-row__ksef">{ksef}</td>'
        f'<td class="num" data-label="{t["waiting"]}" data-field="waiting">{int(row.waiting)}</td>'
        f'<td class="num{" office-row__bad" if row.rejected else ""}" data-label="{t["rejected"]}"'
        f' data-field="rejected">{int(row.rejected)}</td>'
        f'<td class="num{" office-row__bad" if row.offline else ""}" data-label="{t["offline"]}"'
        f' data-field="offline">{int(row.offline)}{deadline}</td>'
        f'<td class="num" data-label="{t["new"]}" data-field="new">{int(row.new_purchases)}</td>'
        f'<td data-label="{t["import"]}" data-field="import">{last}</td>'
        f'<td class="office-row__open"><button type="submit" form="office-switch"'
        f' formaction="{escape(switch.replace(_PLACEHOLDER, row.company_uuid))}" class="button button--small"'
        f' aria-label="{t["open"]} {name}">{t["open"]}</button></td></tr>\n'
    )


def _ok(row: ClientRow) -> str:
    return "status--ok" if row.health_ok else "status--off"
