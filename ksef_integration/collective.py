"""Collective identifiers for paying several purchase invoices of one seller with one transfer: the
implementation of ``invoices.collective``'s hook, installed at start-up.

Called from payments' worker task only: it takes the company's KSeF lock (one conversation per company), logs
in with the company's connection and asks ``POST /collective-identifiers``. KSeF's refusal (an invoice it
does not have for this company, invoices of different sellers, one already in too many identifiers, too
many invoices) comes back as a refusal in plain words, so paying falls back to the KSeF numbers; a busy
company, a slow KSeF or its rate limit as ``CollectiveLater`` (the task asks again).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from django.utils.translation import gettext as _

from accounts.models import Company
from invoices.collective import CollectiveAnswer, CollectiveLater
from ksef_integration.company_lock import company_lock
from ksef_integration.connect import gateway
from ksef_integration.connect.session import NotConnected, TokenExpired, ksef_client_for
from ksef_integration.ksef.collective import CollectiveInvoice
from ksef_integration.ksef.errors import (
    KsefError,
    KsefForbidden,
    KsefRateLimited,
    KsefRejected,
    KsefTransientError,
)

logger = logging.getLogger(__name__)
LOCK_WAIT_SECONDS = 20.0
BUSY_RETRY_SECONDS = 15


def _refusal(exc: KsefRejected) -> str:
    reasons = {
        71001: _("KSeF does not have one of the invoices for this company (%(detail)s)."),
        71002: _(
            "One of the invoices is already in the most collective identifiers KSeF allows (%(detail)s)."
        ),
        71004: _("KSeF says the invoices have different sellers (%(detail)s)."),
        71005: _("A KSeF number was given twice (%(detail)s)."),
    }
    detail = "; ".join(exc.details)[:200] or exc.description
    if exc.code in reasons:
        return reasons[exc.code] % {"detail": detail}
    return _("KSeF refused the collective identifier: %(detail)s") % {"detail": detail or exc.code}


def collective_identifier_issue(
    company_id: int, invoices: Sequence[tuple[str, Decimal, str]]
) -> CollectiveAnswer:
    """One identifier for ``invoices`` (KSeF number, amount, currency), asked under the company lock."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return CollectiveAnswer(refusal=_("The company no longer exists."))
    rows = [
        CollectiveInvoice(ksef_number=n, amount=amount, currency=currency) for n, amount, currency in invoices
    ]
    with company_lock(company_id, wait=LOCK_WAIT_SECONDS) as lock:
        if lock is None:
            raise CollectiveLater("the company's KSeF conversation is busy", countdown=BUSY_RETRY_SECONDS)
        try:
            client = ksef_client_for(company=company)
            identifier = client.collective.generate(invoices=rows)
        except TokenExpired:
            return CollectiveAnswer(refusal=_("KSeF tokens no longer work; connect with a KSeF certificate."))
        except NotConnected:
            return CollectiveAnswer(refusal=_("The company is not connected to KSeF."))
        except KsefRateLimited as exc:
            raise CollectiveLater(gateway.error_text(exc), countdown=max(exc.retry_after, 5)) from exc
        except KsefTransientError as exc:
            raise CollectiveLater(gateway.error_text(exc), countdown=30) from exc
        except KsefForbidden as exc:
            return CollectiveAnswer(refusal=gateway.in_language(exc.message_pl, exc.message_en))
        except KsefRejected as exc:
            return CollectiveAnswer(refusal=_refusal(exc))
        except KsefError as exc:
            return CollectiveAnswer(refusal=gateway.translate_error(exc).message)
        except ValueError as exc:  # the client refused the arguments before calling KSeF
            logger.info("collective identifier refused locally: %s", exc)
            return CollectiveAnswer(refusal=_("These invoices cannot share a collective identifier."))
    logger.info("collective identifier issued: company=%s invoices=%s", company_id, len(rows))
    return CollectiveAnswer(identifier=identifier)
