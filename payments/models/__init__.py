"""payments' tables: the VAT white-list checks, and the purchase inbox (statuses, history, pay files)."""

from payments.models.inbox import (
    COMMENT_MAX,
    REASON_MAX,
    CollectiveTransfer,
    InboxSettings,
    PaymentFile,
    PaymentFileFormat,
    PaymentFileStatus,
    PurchaseEntry,
    PurchaseEvent,
    PurchaseSeen,
    PurchaseStatus,
)
from payments.models.whitelist import WhitelistCheck, WhitelistResult

__all__ = [
    "COMMENT_MAX",
    "REASON_MAX",
    "CollectiveTransfer",
    "InboxSettings",
    "PaymentFile",
    "PaymentFileFormat",
    "PaymentFileStatus",
    "PurchaseEntry",
    "PurchaseEvent",
    "PurchaseSeen",
    "PurchaseStatus",
    "WhitelistCheck",
    "WhitelistResult",
]
