"""The VAT white list check of purchase invoices: asking MF (cached per NIP, account and day, within the
daily limits), recording each check, and whether a check blocks paying (``payment_block``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from invoices.models import Direction, Invoice
from payments.models import WhitelistCheck, WhitelistResult
from payments.whitelist_client import (
    WhitelistClient,
    WhitelistError,
    WhitelistInvalidInput,
    WhitelistLimitReached,
    WhitelistRejected,
    WhitelistUnavailable,
    account_normalize,
    nip_normalize,
)

logger = logging.getLogger("payments.whitelist")

# Art. 19 Prawa przedsiębiorców: a payment of a transaction above 15,000 PLN goes through a bank account,
# and paying it to an account not on the white list costs the buyer the tax deduction (art. 15d CIT/22p PIT)
# and makes it jointly liable for the VAT (art. 117ba Ordynacji podatkowej).
THRESHOLD_PLN = Decimal("15000.00")
ANSWERS = (WhitelistResult.ON_LIST, WhitelistResult.NOT_ON_LIST, WhitelistResult.SELLER_NOT_ACTIVE)
OVERRIDE_MAX = 500


def client() -> WhitelistClient:
    return WhitelistClient(base_url=settings.WHITELIST_API_URL)


def amount_pln(invoice: Invoice) -> Decimal | None:
    """The gross total in PLN; None when a foreign-currency invoice states no exchange rate."""
    if invoice.currency == "PLN":
        return invoice.total_gross
    if invoice.exchange_rate:
        return invoice.total_gross * invoice.exchange_rate
    return None


def check_required(invoice: Invoice) -> bool:
    """A purchase invoice from a Polish seller above 15,000 PLN (a foreign-currency one without a rate
    counts as above: we cannot tell)."""
    if invoice.direction != Direction.PURCHASE or not invoice.seller_nip:
        return False
    amount = amount_pln(invoice)
    return amount is None or abs(amount) > THRESHOLD_PLN


def _today() -> dt.date:
    return timezone.localdate()  # TIME_ZONE is Europe/Warsaw, the register's day


def _seconds_to_midnight() -> int:
    now = timezone.localtime()
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds()))


def _take(kind: str, day: dt.date) -> bool:
    """One more request of ``kind`` ("search", "check") today, if the day's limit allows it."""
    limit = (
        settings.WHITELIST_SEARCH_DAILY_LIMIT if kind == "search" else settings.WHITELIST_CHECK_DAILY_LIMIT
    )
    key = f"payments:wl:used:{kind}:{day.isoformat()}"
    cache.add(key, 0, timeout=_seconds_to_midnight() + 3600)
    return not cache.incr(key) > limit


def _exhaust(kind: str, day: dt.date) -> None:
    """MF said the limit is used up (WL-191): ask no more today."""
    limit = (
        settings.WHITELIST_SEARCH_DAILY_LIMIT if kind == "search" else settings.WHITELIST_CHECK_DAILY_LIMIT
    )
    cache.set(f"payments:wl:used:{kind}:{day.isoformat()}", limit, timeout=_seconds_to_midnight() + 3600)


@dataclass(frozen=True)
class Outcome:
    result: str
    seller_status: str = ""
    request_id: str = ""
    request_date_time: str = ""
    error_code: str = ""
    detail: str = ""


def _cache_key(nip: str, account: str, day: dt.date) -> str:
    return f"payments:wl:answer:{nip}:{account}:{day.isoformat()}"


def _ask(nip: str, account: str, day: dt.date) -> Outcome:
    """MF's answer for (NIP, account, day), from the day's cache when asked before. Raises
    WhitelistUnavailable for a transient failure."""
    key = _cache_key(nip, account, day)
    cached = cache.get(key)
    if cached is not None:
        return Outcome(**cached)
    if not _take("check", day):
        return Outcome(WhitelistResult.LIMIT_REACHED, error_code="limit")
    api = client()
    try:
        answer = api.check_account(nip=nip, account=account, on=day)
    except WhitelistLimitReached as exc:
        _exhaust("check", day)
        return Outcome(WhitelistResult.LIMIT_REACHED, error_code=exc.code)
    except WhitelistRejected as exc:
        return Outcome(WhitelistResult.FAILED, error_code=exc.code, detail=exc.message_pl[:500])
    if answer.account_assigned:
        outcome = Outcome(
            WhitelistResult.ON_LIST, request_id=answer.request_id, request_date_time=answer.request_date_time
        )
    else:
        outcome = Outcome(
            WhitelistResult.NOT_ON_LIST,
            request_id=answer.request_id,
            request_date_time=answer.request_date_time,
        )
        # Why not: a seller who is not an active VAT payer is worth saying so. A search costs one of the
        # day's 100; without it (limit, failure) the check's answer stands on its own.
        if _take("search", day):
            try:
                found = api.search_nip(nip=nip, on=day)
            except WhitelistLimitReached:
                _exhaust("search", day)
            except WhitelistError as exc:
                logger.info("white list search failed after a check: %s", exc)
            else:
                status = found.subject.status_vat if found.subject else ""
                if not (found.subject and found.subject.is_active):
                    outcome = Outcome(
                        WhitelistResult.SELLER_NOT_ACTIVE,
                        seller_status=status,
                        request_id=answer.request_id,
                        request_date_time=answer.request_date_time,
                    )
                else:
                    outcome = Outcome(
                        WhitelistResult.NOT_ON_LIST,
                        seller_status=status,
                        request_id=answer.request_id,
                        request_date_time=answer.request_date_time,
                    )
    cache.set(key, outcome.__dict__, timeout=_seconds_to_midnight())
    return outcome


def whitelist_check(
    *, invoice: Invoice, requested_by: User | None = None, record_unavailable: bool = True
) -> WhitelistCheck:
    """Check the invoice's account for the seller's NIP today and record it. With ``record_unavailable``
    off, a transient failure raises WhitelistUnavailable (the task tries again) instead of being recorded."""
    day = _today()
    nip, account = invoice.seller_nip, invoice.bank_account
    if not account:
        outcome = Outcome(WhitelistResult.NO_ACCOUNT)
    else:
        try:
            nip = nip_normalize(invoice.seller_nip)
            account = account_normalize(invoice.bank_account)
        except WhitelistInvalidInput as exc:
            outcome = Outcome(WhitelistResult.FAILED, error_code=exc.code, detail=exc.message_pl[:500])
        else:
            try:
                outcome = _ask(nip, account, day)
            except WhitelistUnavailable as exc:
                if not record_unavailable:
                    raise
                outcome = Outcome(
                    WhitelistResult.FAILED, error_code=exc.code or "unavailable", detail=exc.message_pl[:500]
                )
    return WhitelistCheck.objects.create(
        invoice=invoice,
        nip=nip[:10],
        account=account[:64],
        checked_for=day,
        automatic=requested_by is None,
        requested_by=requested_by,
        **outcome.__dict__,
    )


def whitelist_check_automatic(*, invoice_id: int, record_unavailable: bool) -> WhitelistCheck | None:
    """The check after import, once per invoice (a redelivered task does nothing more)."""
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None or not check_required(invoice):
        return None
    if WhitelistCheck.objects.filter(invoice=invoice, automatic=True).exists():
        return None
    return whitelist_check(invoice=invoice, record_unavailable=record_unavailable)


def latest_check(invoice: Invoice) -> WhitelistCheck | None:
    return WhitelistCheck.objects.filter(invoice=invoice).order_by("-created_at", "-id").first()


def latest_checks(invoices: Sequence[Invoice]) -> dict[int, WhitelistCheck]:
    """The latest check of each of ``invoices`` that has one, by invoice id, in one query (a pay file for
    1,000 invoices would otherwise ask 1,000 times)."""
    latest: dict[int, WhitelistCheck] = {}
    checks = WhitelistCheck.objects.filter(invoice_id__in=[invoice.pk for invoice in invoices]).order_by(
        "invoice_id", "-created_at", "-id"
    )
    for check in checks:
        latest.setdefault(check.invoice_id, check)
    return latest


def check_message(check: WhitelistCheck) -> str:
    """What a check found, in the active language."""
    if check.result == WhitelistResult.ON_LIST:
        return _("The account is on the VAT white list for NIP %(nip)s.") % {"nip": check.nip}
    if check.result == WhitelistResult.NOT_ON_LIST:
        return _("The account is not on the VAT white list for NIP %(nip)s.") % {"nip": check.nip}
    if check.result == WhitelistResult.SELLER_NOT_ACTIVE:
        if check.seller_status:
            return _("The seller (NIP %(nip)s) is not an active VAT payer: %(status)s.") % {
                "nip": check.nip,
                "status": check.seller_status,
            }
        return _("The seller (NIP %(nip)s) is not in the register of VAT payers.") % {"nip": check.nip}
    if check.result == WhitelistResult.NO_ACCOUNT:
        return _("The invoice states no bank account: there is nothing to check.")
    if check.result == WhitelistResult.LIMIT_REACHED:
        return _("Today's limit of questions to the VAT white list is used up; check again tomorrow.")
    if check.error_code == "account":
        return _("The invoice's account number is not a valid Polish account number: %(account)s.") % {
            "account": check.account
        }
    if check.error_code == "nip":
        return _("The seller's NIP is not valid: %(nip)s.") % {"nip": check.nip}
    if check.error_code.startswith("WL-"):
        return _("The VAT white list refused the question: %(detail)s") % {"detail": check.detail}
    return _("The VAT white list could not be asked; try again later.")


def payment_block(invoice: Invoice, *, checks: Mapping[int, WhitelistCheck] | None = None) -> str | None:
    """None when paying the invoice is fine as far as the white list goes, else why it is not.

    A negative answer (not on the list, seller not an active VAT payer) blocks at any amount; above 15,000
    PLN so do no check at all and a check that failed or hit the limit. An owner's override of the latest
    check lifts the block. ``checks``: the latest checks of many invoices read at once (``latest_checks``)."""
    if invoice.direction != Direction.PURCHASE:
        return None
    check = latest_check(invoice) if checks is None else checks.get(invoice.pk)
    if check is not None and check.is_overridden:
        return None
    if check is None:
        if check_required(invoice) and invoice.bank_account:
            return _("Above 15,000 PLN: check the account on the VAT white list before paying.")
        return None
    if check.result in (WhitelistResult.ON_LIST, WhitelistResult.NO_ACCOUNT):
        return None
    if check.result in (WhitelistResult.NOT_ON_LIST, WhitelistResult.SELLER_NOT_ACTIVE):
        return check_message(check)
    if check_required(invoice):
        return check_message(check)
    return None


class OverrideError(ValueError):
    pass


def whitelist_override(*, invoice: Invoice, user: User, reason: str) -> WhitelistCheck:
    """An owner pays anyway: the latest check is marked overridden, with the reason and who said so."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise OverrideError(_("Say why the invoice may be paid anyway."))
    if len(reason) > OVERRIDE_MAX:
        raise OverrideError(_("The reason may be at most %(max)s characters long.") % {"max": OVERRIDE_MAX})
    with transaction.atomic():
        check = (
            WhitelistCheck.objects.select_for_update()
            .filter(invoice=invoice)
            .order_by("-created_at", "-id")
            .first()
        )
        if check is None or check.result in (WhitelistResult.ON_LIST, WhitelistResult.NO_ACCOUNT):
            raise OverrideError(_("There is no check that blocks paying this invoice."))
        check.override_reason = reason
        check.overridden_by = user
        check.overridden_at = timezone.now()
        check.save(update_fields=["override_reason", "overridden_by", "overridden_at"])
    return check
