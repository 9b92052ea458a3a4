"""payments' pages: the VAT white list panel and actions, the purchase inbox, paying and statements."""

from typing import Any

from payments.views.inbox import inbox_action, inbox_list, inbox_settings, invoice_action, purchase_panel
from payments.views.paying import file_detail, file_download, files, pay, statement
from payments.views.whitelist import whitelist_check, whitelist_override, whitelist_panel


def purchase_invoice_panels(request: Any, invoice: Any, membership: Any) -> str:
    """What payments adds to a purchase invoice's page (``invoices.visualisation``'s payment panel hook):
    its place in the inbox, then the VAT white-list checks."""
    return purchase_panel(request, invoice, membership) + whitelist_panel(request, invoice, membership)


__all__ = [
    "file_detail",
    "file_download",
    "files",
    "inbox_action",
    "inbox_list",
    "inbox_settings",
    "invoice_action",
    "pay",
    "purchase_invoice_panels",
    "purchase_panel",
    "statement",
    "whitelist_check",
    "whitelist_override",
    "whitelist_panel",
]
