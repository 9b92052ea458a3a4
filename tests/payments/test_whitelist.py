"""Checking purchase invoices: results recorded with MF's proof, the day's cache, the limits, blocking."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Company, User
from invoices.models import Direction, Invoice, InvoiceKind
from invoices.services import InvoiceData, LineData, PartyData, invoice_issue
from ksef_integration.importing.mapping import window_import
from ksef_integration.models import SubjectType
from ksef_integration.sending.mapping import invoice_xml_build
from ksef_simulator.whitelist import accounts_for
from payments import queue, whitelist
from payments.models import WhitelistCheck, WhitelistResult
from payments.tasks import whitelist_check as whitelist_check_task
from payments.whitelist_client import WhitelistUnavailable
from tests.conftest import Queued
from tests.payments.conftest import (
    ACTIVE_NIP,
    EXEMPT_NIP,
    FOREIGN_ACCOUNT,
    NOT_FOUND_NIP,
    REMOVED_NIP,
    purchase,
    set_limits,
    set_subject,
)

pytestmark = pytest.mark.django_db(transaction=True)

ON_LIST = accounts_for(ACTIVE_NIP)[1]


def test_an_account_on_the_list(wl_url: str, company_a: Company, alice: User) -> None:
    invoice = purchase(company_a, bank_account=f"PL{ON_LIST}")
    check = whitelist.whitelist_check(invoice=invoice, requested_by=alice)
    assert check.result == WhitelistResult.ON_LIST
    assert check.request_id
    assert check.request_date_time
    assert (check.nip, check.account, check.checked_for) == (ACTIVE_NIP, ON_LIST, timezone.localdate())
    assert (check.automatic, check.requested_by) == (False, alice)
    assert whitelist.payment_block(invoice) is None


def test_an_account_not_on_the_list_blocks_paying(wl_url: str, company_a: Company) -> None:
    invoice = purchase(company_a, bank_account=FOREIGN_ACCOUNT, gross="1000.00")
    check = whitelist.whitelist_check(invoice=invoice)
    assert check.result == WhitelistResult.NOT_ON_LIST
    assert check.seller_status == "Czynny"
    assert check.request_id
    block = whitelist.payment_block(invoice)
    assert block is not None
    assert ACTIVE_NIP in block


@pytest.mark.parametrize(("nip", "status"), [(REMOVED_NIP, "Niezarejestrowany"), (NOT_FOUND_NIP, "")])
def test_a_seller_who_is_not_an_active_vat_payer(
    wl_url: str, company_a: Company, nip: str, status: str
) -> None:
    invoice = purchase(company_a, seller_nip=nip, bank_account=FOREIGN_ACCOUNT)
    check = whitelist.whitelist_check(invoice=invoice)
    assert (check.result, check.seller_status) == (WhitelistResult.SELLER_NOT_ACTIVE, status)
    assert check.request_id  # the check's own proof
    assert whitelist.payment_block(invoice) == whitelist.check_message(check)


def test_an_exempt_sellers_listed_account_is_on_the_list(wl_url: str, company_a: Company) -> None:
    invoice = purchase(company_a, seller_nip=EXEMPT_NIP, bank_account=accounts_for(EXEMPT_NIP)[0])
    assert whitelist.whitelist_check(invoice=invoice).result == WhitelistResult.ON_LIST


def test_no_account_on_the_invoice_asks_nothing(nowhere: str, company_a: Company) -> None:
    invoice = purchase(company_a, bank_account="")
    check = whitelist.whitelist_check(invoice=invoice)
    assert (check.result, check.request_id) == (WhitelistResult.NO_ACCOUNT, "")
    assert whitelist.payment_block(invoice) is None


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"bank_account": "61109010140000071219812875"}, "account"),  # a wrong check digit
        ({"bank_account": "DE89370400440532013000"}, "account"),  # not a Polish account
        ({"bank_account": FOREIGN_ACCOUNT, "seller_nip": "5260250275"}, "nip"),
    ],
)
def test_a_number_that_cannot_be_right_fails_without_asking(
    nowhere: str, company_a: Company, fields: dict[str, str], code: str
) -> None:
    invoice = purchase(company_a, **fields)
    check = whitelist.whitelist_check(invoice=invoice)
    assert (check.result, check.error_code) == (WhitelistResult.FAILED, code)
    assert whitelist.payment_block(invoice) == whitelist.check_message(check)  # above 15,000 PLN


def test_one_answer_a_day_per_nip_and_account(wl_url: str, company_a: Company) -> None:
    set_limits(wl_url, check=1)  # a second question would be refused with WL-191
    first = whitelist.whitelist_check(invoice=purchase(company_a, bank_account=ON_LIST))
    second = whitelist.whitelist_check(invoice=purchase(company_a, bank_account=f"PL {ON_LIST}"))
    assert first.result == second.result == WhitelistResult.ON_LIST
    assert second.request_id == first.request_id  # the same answer of MF, the same proof


def test_our_daily_limit_records_limit_reached_and_asks_nothing(wl_url: str, company_a: Company) -> None:
    with override_settings(WHITELIST_CHECK_DAILY_LIMIT=1):
        whitelist.whitelist_check(invoice=purchase(company_a, bank_account=ON_LIST))
        set_limits(wl_url, check=1)  # had we asked, the stand-in would say WL-191; we must not ask at all
        invoice = purchase(company_a, bank_account=accounts_for(ACTIVE_NIP)[0])
        check = whitelist.whitelist_check(invoice=invoice)
    assert (check.result, check.error_code) == (WhitelistResult.LIMIT_REACHED, "limit")
    assert "jutro" in whitelist.check_message(check)  # "try again tomorrow", in the user's Polish
    assert whitelist.payment_block(invoice) is not None


def test_mfs_wl_191_stops_asking_for_the_day(wl_url: str, company_a: Company, nowhere: str) -> None:
    with override_settings(WHITELIST_API_URL=wl_url):
        set_limits(wl_url, check=0)
        first = whitelist.whitelist_check(invoice=purchase(company_a, bank_account=ON_LIST))
    assert (first.result, first.error_code) == (WhitelistResult.LIMIT_REACHED, "WL-191")
    # now pointing nowhere: a question would fail to connect, but none is asked
    second = whitelist.whitelist_check(invoice=purchase(company_a, bank_account=FOREIGN_ACCOUNT))
    assert second.result == WhitelistResult.LIMIT_REACHED


def test_the_search_limit_leaves_the_checks_answer_standing(wl_url: str, company_a: Company) -> None:
    with override_settings(WHITELIST_SEARCH_DAILY_LIMIT=0):
        check = whitelist.whitelist_check(
            invoice=purchase(company_a, seller_nip=REMOVED_NIP, bank_account=ON_LIST)
        )
    assert (check.result, check.seller_status) == (WhitelistResult.NOT_ON_LIST, "")


def test_unavailable_is_raised_for_the_task_or_recorded(nowhere: str, company_a: Company) -> None:
    invoice = purchase(company_a, bank_account=ON_LIST)
    with pytest.raises(WhitelistUnavailable):
        whitelist.whitelist_check(invoice=invoice, record_unavailable=False)
    assert not WhitelistCheck.objects.exists()
    check = whitelist.whitelist_check(invoice=invoice)
    assert (check.result, check.error_code) == (WhitelistResult.FAILED, "unavailable")


def test_the_task_retries_then_records_the_failure(nowhere: str, company_a: Company) -> None:
    invoice = purchase(company_a, bank_account=ON_LIST)
    whitelist_check_task.apply(args=(invoice.pk,))  # eager: every retry runs at once
    checks = list(WhitelistCheck.objects.filter(invoice=invoice))
    assert [(c.result, c.automatic) for c in checks] == [(WhitelistResult.FAILED, True)]


# --- paying -----------------------------------------------------------------------------------------------


def test_above_the_threshold_an_unchecked_invoice_blocks_below_it_does_not(company_a: Company) -> None:
    assert whitelist.payment_block(purchase(company_a, bank_account=ON_LIST, gross="15000.01")) is not None
    assert whitelist.payment_block(purchase(company_a, bank_account=ON_LIST, gross="15000.00")) is None
    eur = purchase(
        company_a, bank_account=ON_LIST, gross="4000.00", currency="EUR", exchange_rate=Decimal("4.25")
    )
    assert whitelist.payment_block(eur) is not None  # 17,000 PLN
    sales = purchase(company_a, bank_account=ON_LIST, direction=Direction.SALES)
    assert whitelist.payment_block(sales) is None


def test_an_owner_overrides_a_blocking_check_with_a_reason(
    wl_url: str, company_a: Company, alice: User
) -> None:
    invoice = purchase(company_a, bank_account=FOREIGN_ACCOUNT)
    whitelist.whitelist_check(invoice=invoice)
    with pytest.raises(whitelist.OverrideError):
        whitelist.whitelist_override(invoice=invoice, user=alice, reason="   ")
    assert whitelist.payment_block(invoice) is not None
    check = whitelist.whitelist_override(
        invoice=invoice,
        user=alice,
        reason="Rachunek potwierdzony telefonicznie; zawiadomienie ZAW-NR złożone.",
    )
    assert check.is_overridden
    assert check.overridden_by == alice
    assert whitelist.payment_block(invoice) is None
    # a new check that blocks again needs its own override
    whitelist.whitelist_check(invoice=invoice)
    assert whitelist.payment_block(invoice) is not None


def test_nothing_to_override_when_nothing_blocks(wl_url: str, company_a: Company, alice: User) -> None:
    invoice = purchase(company_a, bank_account=ON_LIST)
    with pytest.raises(whitelist.OverrideError):
        whitelist.whitelist_override(invoice=invoice, user=alice, reason="bez powodu")
    whitelist.whitelist_check(invoice=invoice)
    with pytest.raises(whitelist.OverrideError):
        whitelist.whitelist_override(invoice=invoice, user=alice, reason="bez powodu")


# --- after import -----------------------------------------------------------------------------------------


def _sold_by_b(company_b: Company, buyer: Company, unit_price: str, account: str) -> bytes:
    """FA(3) of a sales invoice company B issues to ``buyer`` (its account in Platnosc/RachunekBankowy)."""
    issued = invoice_issue(
        company=company_b,
        user=None,
        data=InvoiceData(
            party=PartyData(
                name=buyer.name,
                nip=buyer.nip,
                address_line1="ul. Kupiecka 1",
                address_line2="00-001 Warszawa",
            ),
            lines=[LineData("Maszyna", Decimal(1), Decimal(unit_price), "23", "szt.")],
            issue_date=dt.date(2026, 11, 20),
            sale_date=dt.date(2026, 11, 20),
            due_date=dt.date(2026, 12, 4),
            payment_method=6,
            bank_account=account,
        ),
    )
    return invoice_xml_build(issued).xml


def test_an_imported_purchase_above_15000_pln_is_checked(
    wl_url: str, company_a: Company, company_b: Company, queued: Queued
) -> None:
    account = accounts_for(company_b.nip)[0]
    set_subject(wl_url, company_b.nip, "Czynny", [account])  # B's random NIP may carry any marker
    files = {
        f"{company_b.nip}-20261120-0000000000A1-00": _sold_by_b(company_b, company_a, "13000.00", account),
        f"{company_b.nip}-20261120-0000000000B2-00": _sold_by_b(company_b, company_a, "12000.00", account),
    }
    stats = window_import(company=company_a, subject_type=SubjectType.SUBJECT2, invoices=files, metadata=())
    assert stats.created == 2
    above = Invoice.objects.get(company=company_a, total_gross=Decimal("15990.00"))
    below = Invoice.objects.get(company=company_a, total_gross=Decimal("14760.00"))
    assert above.direction == Direction.PURCHASE
    assert above.kind == InvoiceKind.VAT
    assert above.bank_account == account  # NrRB of the XML
    assert queued.args(queue.WHITELIST_CHECK) == [(above.pk,)]  # none for the one below

    whitelist_check_task.apply(args=(above.pk,))
    whitelist_check_task.apply(args=(above.pk,))  # a redelivered task checks no second time
    check = WhitelistCheck.objects.get(invoice=above)
    assert (check.result, check.automatic, check.requested_by) == (WhitelistResult.ON_LIST, True, None)
    assert check.request_id
    assert not WhitelistCheck.objects.filter(invoice=below).exists()


def test_nothing_is_queued_for_an_invoice_whose_import_is_rolled_back(
    company_a: Company, company_b: Company, queued: Queued, monkeypatch: Any
) -> None:
    from ksef_integration.importing import mapping

    def broken(invoice: Invoice) -> None:
        raise ValueError("cannot show it")

    xml = _sold_by_b(company_b, company_a, "20000.00", FOREIGN_ACCOUNT)
    monkeypatch.setattr(mapping, "_check_shown", broken)
    number = f"{company_b.nip}-20261120-0000000000C3-00"
    stats = window_import(
        company=company_a, subject_type=SubjectType.SUBJECT2, invoices={number: xml}, metadata=()
    )
    assert stats.failed == 1
    assert queued.args(queue.WHITELIST_CHECK) == []


def test_the_pay_plan_reads_every_latest_check_at_once_with_the_same_verdicts(
    company_a: Company, alice: User
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments import paying
    from payments.models import PurchaseEntry, PurchaseStatus

    now = timezone.now()

    def check(invoice: Invoice, result: str, minutes_ago: int, **extra: Any) -> None:
        WhitelistCheck.objects.create(
            invoice=invoice, nip=invoice.seller_nip, account=invoice.bank_account, checked_for=now.date(),
            result=result, request_id=f"Req-{invoice.pk}-{minutes_ago}",
            created_at=now - dt.timedelta(minutes=minutes_ago),
            **extra,
        )  # fmt: skip

    cleared = purchase(company_a, bank_account=ON_LIST)  # refused first, on the list when checked again
    check(cleared, WhitelistResult.NOT_ON_LIST, 30)
    check(cleared, WhitelistResult.ON_LIST, 5)
    refused = purchase(company_a, bank_account=ON_LIST)  # the other way round
    check(refused, WhitelistResult.ON_LIST, 30)
    check(refused, WhitelistResult.NOT_ON_LIST, 5)
    overridden = purchase(company_a, bank_account=FOREIGN_ACCOUNT)
    check(
        overridden, WhitelistResult.NOT_ON_LIST, 5, override_reason="Potwierdzone telefonicznie.",
        overridden_by=alice, overridden_at=now,
    )  # fmt: skip
    unchecked_large = purchase(company_a, bank_account=ON_LIST, gross="15000.01")
    unchecked_small = purchase(company_a, bank_account=ON_LIST, gross="100.00")
    invoices = [cleared, refused, overridden, unchecked_large, unchecked_small]
    for invoice in invoices:
        PurchaseEntry.objects.create(invoice=invoice, company=company_a, status=PurchaseStatus.ACCEPTED)
    checks = whitelist.latest_checks(invoices)
    assert [whitelist.payment_block(i, checks=checks) for i in invoices] == [
        whitelist.payment_block(i) for i in invoices
    ]
    with CaptureQueriesContext(connection) as queries:
        plan = paying.pay_plan(invoices=invoices)
    assert len(queries) == 1
    assert plan.payable == [cleared, overridden, unchecked_small]
    assert [invoice for invoice, _why in plan.blocked] == [refused, unchecked_large]
