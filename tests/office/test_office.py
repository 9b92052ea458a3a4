"""Biuro: the KSeF state of every client company of an owner or accountant as a paged table with the totals
of all, its search, filters, order and pages, the click into a company, and a statement count that does not
grow with the number of companies."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, Membership, Role, User
from invoices.models import Direction, Invoice, KsefStatus
from ksef_integration.models import (
    AuthMethod,
    ConnectionStatus,
    KsefOutage,
    OfflineInvoice,
    OutageKind,
    SyncCursor,
)
from ksef_integration.office import selectors as office_selectors
from ksef_integration.office.selectors import company_row, office_rows
from ksef_integration.sending.drain import UNSENT_COUNT_CAP
from tests.factories import CompanyFactory, MembershipFactory, UserFactory, active_connection
from tests.invoices.factories import invoice_make
from tests.statements import page_statements

pytestmark = pytest.mark.django_db

URL = reverse("ksef_integration:office")


def _company(user: User, name: str, role: str = Role.ACCOUNTANT) -> Company:
    return MembershipFactory.create(user=user, company=CompanyFactory.create(name=name), role=role).company


def _invoices(company: Company, count: int, **fields: Any) -> None:
    for _ in range(count):
        invoice_make(company, **fields)


@pytest.fixture
def office(alice: User, company_a: Company) -> dict[str, Company]:
    """Alice owns Alfa (healthy, two waiting, one new purchase) and keeps the books of Gamma (needs
    attention, a rejected invoice, an offline one) and Delta (never connected)."""
    active_connection(company_a)
    _invoices(company_a, 2)  # not sent yet
    invoice_make(company_a, ksef_status=KsefStatus.ACCEPTED, ksef_number="K-1")  # in KSeF: not counted
    invoice_make(company_a, direction=Direction.PURCHASE, is_new=True, ksef_status=KsefStatus.ACCEPTED)
    invoice_make(company_a, direction=Direction.PURCHASE, is_new=False, ksef_status=KsefStatus.ACCEPTED)
    SyncCursor.objects.create(
        company=company_a,
        subject_type="Subject2",
        checkpoint=timezone.now(),
        last_success_at=dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC),
    )

    gamma = _company(alice, "Gamma Biuro Rachunkowe")
    active_connection(
        gamma,
        status=ConnectionStatus.ATTENTION,
        attention_reason="KSeF refused the token",
        permissions=["InvoiceRead"],
    )
    invoice_make(gamma, ksef_status=KsefStatus.REJECTED, ksef_status_message="Błąd")
    invoice_make(gamma, ksef_status=KsefStatus.QUEUED)
    offline = invoice_make(gamma, ksef_status=KsefStatus.OFFLINE, ksef_offline_mode="offline24")
    OfflineInvoice.objects.create(invoice=offline, company=gamma, reason=OfflineInvoice.Reason.CHOSEN)

    delta = _company(alice, "Delta Sklep")
    _invoices(delta, 1)
    return {"alfa": company_a, "gamma": gamma, "delta": delta}


def _cards(html: str) -> dict[str, str]:
    """Each client row's markup by its company's NIP."""
    return dict(re.findall(r'id="client-(\d{10})"(.*?)</tr>', html, flags=re.S))


def _order(html: str) -> list[str]:
    return re.findall(r'id="client-(\d{10})"', html)


def _field(card: str, name: str) -> str:
    match = re.search(rf'data-field="{name}">(.*?)</(?:td|span)>', card, flags=re.S)
    assert match, name
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


def test_each_company_shows_its_own_state(alice_client: Any, office: dict[str, Company]) -> None:
    html = alice_client.get(URL).content.decode()
    cards = _cards(html)
    alfa, gamma, delta = (cards[office[k].nip] for k in ("alfa", "gamma", "delta"))

    assert 'data-health="active"' in alfa
    assert _field(alfa, "waiting") == "2"
    assert _field(alfa, "rejected") == "0"
    assert _field(alfa, "new") == "1"
    assert _field(alfa, "import") == timezone.localtime(
        dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    ).strftime("%d.%m.%Y %H:%M")
    assert "2099" in _field(alfa, "expiry")  # the token sunset of the test settings
    assert 'data-field="problems"' not in alfa

    assert 'data-health="attention"' in gamma
    assert _field(gamma, "waiting") == "1"  # the queued one; the offline one is counted apart
    assert _field(gamma, "rejected") == "1"
    assert "InvoiceWrite" in _field(gamma, "permissions")
    # offline24: the next business day after the issue date (Mon 2.11.2026 → Tue 3.11.2026)
    assert "03.11.2026" in _field(gamma, "offline")
    assert _field(gamma, "offline").startswith("1")
    assert 'data-field="problems"' in gamma

    assert 'data-health="none"' in delta
    assert _field(delta, "waiting") == "1"
    assert 'data-field="expiry"' not in delta
    assert _field(delta, "import") == "—"


def test_counts_are_exact_where_start_says_more_than(
    alice_client: Any, alice: User, company_a: Company
) -> None:
    """Biuro and Start's card count every invoice (``InvoiceCounts``, kept by the database); Start shows a
    number past the cap as "more than" (the ``ksef_capped`` filter)."""
    _company(alice, "Druga")
    _invoices(company_a, UNSENT_COUNT_CAP + 3)
    card = _cards(alice_client.get(URL).content.decode())[company_a.nip]
    assert _field(card, "waiting") == str(UNSENT_COUNT_CAP + 3)
    assert [r.waiting for r in office_rows(user=alice) if r.nip == company_a.nip] == [UNSENT_COUNT_CAP + 3]
    membership = Membership.objects.get(user=alice, company=company_a)
    assert company_row(membership=membership).waiting == UNSENT_COUNT_CAP + 3


def test_token_after_the_sunset_and_a_certificate_near_its_end(
    alice: User, company_a: Company, settings: Any
) -> None:
    settings.KSEF_TOKEN_SUNSET = timezone.localdate() - dt.timedelta(days=1)
    active_connection(company_a)
    cert = _company(alice, "Certyfikat sp. z o.o.")
    active_connection(
        cert,
        method=AuthMethod.CERTIFICATE,
        token_ciphertext="",
        private_key_ciphertext="x",
        certificate_serial="01AB",
        certificate_valid_to=timezone.now() + dt.timedelta(days=10, hours=1),
    )
    rows = {r.nip: r for r in office_rows(user=alice)}
    token_row, cert_row = rows[company_a.nip], rows[cert.nip]
    assert token_row.health == "token_expired"
    assert token_row.expires_in_days == -1
    assert token_row.problems == [token_row.health_label]
    assert cert_row.health == "active"
    assert cert_row.credential == "certificate"
    assert cert_row.expires_in_days in (10, 11)
    assert cert_row.problems == ["token lub certyfikat wkrótce wygasa"]  # "credential expires soon"


def test_viewer_and_foreign_companies_never_appear(
    alice_client: Any, alice: User, office: dict[str, Company], company_b: Company
) -> None:
    viewed = _company(alice, "Widok Tylko", role=Role.VIEWER)
    invoice_make(company_b, ksef_status=KsefStatus.REJECTED)
    html = alice_client.get(URL).content.decode()
    assert set(_cards(html)) == {office["alfa"].nip, office["gamma"].nip, office["delta"].nip}
    assert viewed.name not in html
    assert company_b.name not in html
    # a name filter cannot reach them either
    assert _cards(alice_client.get(URL, {"name": company_b.nip}).content.decode()) == {}


def test_totals_of_all_companies_whatever_the_filter(alice_client: Any, office: dict[str, Company]) -> None:
    for params in ({}, {"name": "gamma"}, {"show": "new"}):
        html = alice_client.get(URL, params).content.decode()
        totals = {
            name: int(value)
            for name, value in re.findall(
                r'<li id="total-([a-z-]+)"[^>]*><a [^>]*><strong>(\d+)</strong>', html
            )
        }
        assert totals == {
            "clients": 3,
            "attention": 2,  # gamma (attention, rejected, offline, no InvoiceWrite), delta (not connected)
            "no-permissions": 1,  # gamma: InvoiceWrite
            "rejected": 1,
            "offline": 1,
            "new": 1,  # alfa's unread purchase invoice; the read one is not counted
            "waiting": 4,  # alfa 2, gamma 1 queued, delta 1
        }, params
    assert "03.11.2026" in html  # the nearest offline deadline of all


def test_search_filters_and_order(alice_client: Any, office: dict[str, Company]) -> None:
    def order(params: dict[str, str]) -> list[str]:
        return _order(alice_client.get(URL, params).content.decode())

    alfa, gamma, delta = (office[k].nip for k in ("alfa", "gamma", "delta"))
    # needing attention first: the one with an offline deadline, then the other with problems, then the rest
    assert order({}) == [gamma, delta, alfa]
    assert order({"sort": "name"}) == [alfa, delta, gamma]
    assert order({"sort": "waiting"}) == [alfa, delta, gamma]  # 2, then 1 and 1 by name
    assert order({"sort": "new"}) == [alfa, delta, gamma]  # 1, then 0 and 0 by name
    assert order({"show": "attention"}) == [gamma, delta]
    assert order({"show": "attention", "sort": "name"}) == [delta, gamma]
    assert order({"show": "no_permissions"}) == [gamma]
    assert order({"show": "rejected"}) == [gamma]
    assert order({"show": "offline"}) == [gamma]
    assert order({"show": "new"}) == [alfa]
    assert order({"show": "waiting", "sort": "name"}) == [alfa, delta, gamma]
    assert order({"name": "GAMMA"}) == [gamma]  # any case
    assert order({"name": alfa[:6]}) == [alfa]
    assert order({"name": f"{alfa[:3]}-{alfa[3:6]}-{alfa[6:8]}-{alfa[8:]}"}) == [alfa]  # NIP as on paper
    assert order({"name": "delta", "show": "rejected"}) == []
    # bad values: the plain list in the plain order, never an error page
    for params in (
        {"sort": "made-up"},
        {"show": "made-up"},
        {"page": "abc"},
        {"page": "-3"},
        {"name": "x" * 500},
    ):
        response = alice_client.get(URL, params)
        assert response.status_code == 200
        assert _order(response.content.decode()) == [gamma, delta, alfa], params
    html = alice_client.get(URL, {"name": "nikt"}).content.decode()
    assert 'id="office-empty"' in html


def test_pages_of_twenty_five(client: Any) -> None:
    user = UserFactory.create(email="strony@example.com")
    client.force_login(user)
    names = [f"Klient {n:03d}" for n in range(office_selectors.PER_PAGE + 4)]
    for name in names:
        _company(user, name)
    nips = {c.name: c.nip for c in Company.objects.filter(memberships__user=user)}

    first = client.get(URL, {"sort": "name"}).content.decode()
    assert _order(first) == [nips[n] for n in names[: office_selectors.PER_PAGE]]
    assert 'id="office-prev"' not in first
    next_href = re.search(r'href="([^"]+)" rel="next" id="office-next"', first)
    assert next_href, first
    assert "sort=name" in next_href.group(1)  # the order is kept
    assert "page=2" in next_href.group(1)

    second = client.get(URL, {"sort": "name", "page": "2"}).content.decode()
    assert _order(second) == [nips[n] for n in names[office_selectors.PER_PAGE :]]
    assert 'id="office-next"' not in second
    assert 'id="office-prev"' in second
    assert f"{len(names)} " in re.sub(r"<[^>]+>", "", second.split('id="office-count"')[1].split("</p>")[0])
    # a page past the last shows the last
    assert _order(client.get(URL, {"sort": "name", "page": "99"}).content.decode()) == _order(second)
    # filters narrow before paging: one page, no pager
    narrowed = client.get(URL, {"name": "Klient 02"}).content.decode()
    assert len(_order(narrowed)) == sum("Klient 02" in n for n in names)
    assert 'class="pager"' not in narrowed


def test_open_switches_the_company_and_lands_on_its_start(
    alice_client: Any, office: dict[str, Company]
) -> None:
    html = alice_client.get(URL).content.decode()
    switch = reverse("accounts:company_switch", args=[office["gamma"].uuid])
    assert f'formaction="{switch}"' in html
    assert 'id="office-switch"' in html  # the one form with the CSRF token the buttons submit
    response = alice_client.post(switch, follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:start")
    assert "Gamma Biuro Rachunkowe" in response.content.decode()
    assert response.context["current_company"] == office["gamma"]


def test_a_change_shows_on_the_next_request(alice_client: Any, office: dict[str, Company]) -> None:
    alfa = office["alfa"]
    assert _field(_cards(alice_client.get(URL).content.decode())[alfa.nip], "rejected") == "0"
    invoice_make(alfa, ksef_status=KsefStatus.REJECTED)
    assert _field(_cards(alice_client.get(URL).content.decode())[alfa.nip], "rejected") == "1"
    alfa.ksef_connection.status = ConnectionStatus.ATTENTION
    alfa.ksef_connection.save()
    assert 'data-health="attention"' in _cards(alice_client.get(URL).content.decode())[alfa.nip]


def test_the_kept_page_follows_writes_that_skip_the_models(
    alice_client: Any, office: dict[str, Company], settings: Any
) -> None:
    """The page is kept under a digest of what it shows (office/content.py): a QuerySet.update() (no
    signal), an import's cursor, a renamed company, a new KSeF failure or another token sunset each show on
    the next request, and going back shows the first page again."""
    alfa, gamma = office["alfa"], office["gamma"]

    def card(company: Company) -> str:
        return _cards(alice_client.get(URL).content.decode())[company.nip]

    first = card(alfa)
    assert card(alfa) == first  # kept
    purchases = Invoice.objects.filter(company=alfa, direction=Direction.PURCHASE)
    new_one = purchases.get(is_new=True).pk
    purchases.update(is_new=True)
    assert _field(card(alfa), "new") == "2"
    purchases.exclude(pk=new_one).update(is_new=False)
    assert card(alfa) == first  # the same values: the same page
    moment = dt.datetime(2026, 12, 4, 7, 5, tzinfo=dt.UTC)
    SyncCursor.objects.filter(company=alfa).update(last_success_at=moment)
    assert _field(card(alfa), "import") == timezone.localtime(moment).strftime("%d.%m.%Y %H:%M")
    Company.objects.filter(pk=alfa.pk).update(name="Alfa Nowa sp. z o.o.")
    assert "Alfa Nowa sp. z o.o." in card(alfa)
    before = _field(card(gamma), "offline")
    announced = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)  # before its deadline, and still going on
    KsefOutage.objects.create(kind=OutageKind.FAILURE, starts_at=announced, announced_at=announced)
    assert _field(card(gamma), "offline") != before  # the deadline waits for the failure's end
    settings.KSEF_TOKEN_SUNSET = dt.date(2026, 1, 1)
    assert 'data-health="token_expired"' in card(alfa)


def test_the_link_in_more_needs_two_companies(alice_client: Any, alice: User) -> None:
    more = reverse("accounts:more")
    assert URL not in alice_client.get(more).content.decode()
    _company(alice, "Druga sp. z o.o.")
    assert URL in alice_client.get(more).content.decode()


def test_guests_are_sent_to_log_in(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def _client_companies(user: User, count: int, start: int) -> None:
    for n in range(start, start + count):
        company = _company(user, f"Klient {n:03d}")
        kind = n % 3
        if kind == 0:
            active_connection(company)
            invoice_make(company, ksef_status=KsefStatus.REJECTED)
        elif kind == 1:
            active_connection(company, status=ConnectionStatus.ATTENTION)
            offline = invoice_make(company, ksef_status=KsefStatus.OFFLINE, ksef_offline_mode="offline24")
            OfflineInvoice.objects.create(
                invoice=offline, company=company, reason=OfflineInvoice.Reason.CHOSEN
            )
        invoice_make(company, direction=Direction.PURCHASE, is_new=True, ksef_status=KsefStatus.ACCEPTED)
        SyncCursor.objects.create(
            company=company,
            subject_type="Subject2",
            checkpoint=timezone.now(),
            last_success_at=timezone.now(),
        )


# The statements of one Biuro page: the session's user, the current membership (the context processor) and
# the digest of what the page shows (office_digest: one statement on PostgreSQL, where the rows are digested,
# its three reads on SQLite); when that content is not kept yet, also the three reads it is rendered from
# (memberships with connections, counts and last import; offline invoices; failures).
def _budgets() -> tuple[int, int]:
    digest = 1 if db_connection.vendor == "postgresql" else 3
    return 2 + digest, 2 + digest + 3


def test_statements_do_not_grow_with_the_number_of_companies(client: Any) -> None:
    user = UserFactory.create(email="biuro@example.com")
    client.force_login(user)
    _client_companies(user, 3, 0)
    client.get("/")  # warm the session
    with CaptureQueriesContext(db_connection) as three:
        assert client.get(URL).status_code == 200
    with CaptureQueriesContext(db_connection) as three_kept:
        assert client.get(URL).status_code == 200
    _client_companies(user, 37, 3)
    with CaptureQueriesContext(db_connection) as forty:
        response = client.get(URL)
    with CaptureQueriesContext(db_connection) as forty_kept:
        assert _cards(client.get(URL).content.decode()) == _cards(response.content.decode())
    with CaptureQueriesContext(db_connection) as second_page:
        client.get(URL, {"page": "2", "show": "attention", "name": "Klient"})
    assert len(_cards(response.content.decode())) == office_selectors.PER_PAGE
    rendered = [sql[:120] for sql in page_statements(forty)]
    assert len(rendered) == len(page_statements(three)) == len(page_statements(second_page)), rendered
    kept_budget, rendered_budget = _budgets()
    assert len(rendered) <= rendered_budget, rendered
    kept = [sql[:120] for sql in page_statements(forty_kept)]
    assert len(kept) == len(page_statements(three_kept)) <= kept_budget, kept


def test_unknown_query_values_share_the_kept_page(alice_client: Any, office: dict[str, Company]) -> None:
    """The kept page's key holds the cleaned search, filter, order and page (``OfficeQuery``): anything else
    in the query, or an order that does not exist, finds the same page instead of keeping another copy, and
    never reaches the pager's links."""
    alice_client.get(URL)
    with CaptureQueriesContext(db_connection) as junk:
        html = alice_client.get(URL, {"junk": "<x>", "sort": "made-up"}).content.decode()
    assert len(page_statements(junk)) == _budgets()[0]  # found kept: no state read, no render
    assert "junk" not in html
    assert "made-up" not in html
