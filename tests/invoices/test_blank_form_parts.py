"""The parts of a blank Wystaw/Dodaj form kept in the process (``invoices.templatetags.blank_form``): the
same markup as rendering them afresh, never another company's values, another day's dates, another
language or release; a posted form always rendered with what was typed."""

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company
from invoices import services
from invoices.forms import InvoiceForm
from invoices.templatetags import blank_form
from tests.invoices.factories import issue_data
from tests.statements import page_statements

pytestmark = pytest.mark.django_db
FIELD = "invoices/_field.html"


@pytest.fixture(autouse=True)
def _no_parts_kept() -> Iterator[None]:
    blank_form.parts_clear()
    yield
    blank_form.parts_clear()


def _rendered(response: Any) -> list[str]:
    return [t.name for t in response.templates]


def _per_request(html: str) -> str:
    """The page without what differs on every request: the CSRF token and the form's idempotency key."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)
    return re.sub(r'name="idempotency_key" value="[^"]+"', "KEY", html)


@pytest.mark.parametrize("url_name", ["invoices:issue", "invoices:add"])
def test_a_blank_form_is_rendered_once_and_shows_the_same(alice_client: Any, url_name: str) -> None:
    url = reverse(url_name)
    first = alice_client.get(url)
    assert _rendered(first).count(FIELD) > 20
    second = alice_client.get(url)
    assert FIELD not in _rendered(second)  # the fields come from the kept parts
    assert _per_request(second.content.decode()) == _per_request(first.content.decode())
    keys = re.findall(
        r'name="idempotency_key" value="([^"]+)"', first.content.decode() + second.content.decode()
    )
    assert len(set(keys)) == 2  # each request its own key: a double submit is still caught
    assert 'name="csrfmiddlewaretoken"' in second.content.decode()
    with override_settings(RELEASE_KEY="the-next-release"):
        assert FIELD in _rendered(alice_client.get(url))


def test_each_company_sees_its_own_values(
    alice_client: Any, bob: Any, company_a: Company, company_b: Company
) -> None:
    url = reverse("invoices:issue")
    services.invoice_issue(
        company=company_a, user=None, data=issue_data(bank_account="61109010140000071219812874")
    )
    assert 'value="61109010140000071219812874"' in alice_client.get(url).content.decode()
    bobs = Client()
    bobs.force_login(bob)
    html = bobs.get(url).content.decode()
    assert "61109010140000071219812874" not in html  # Bob's company has issued nothing yet
    services.invoice_issue(
        company=company_a, user=None, data=issue_data(bank_account="27114020040000300201355387")
    )
    html = alice_client.get(url).content.decode()
    assert 'value="27114020040000300201355387"' in html
    assert "61109010140000071219812874" not in html


def test_the_dates_are_todays(alice_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = reverse("invoices:issue")
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: dt.date(2026, 12, 7))
    html = alice_client.get(url).content.decode()
    assert 'value="2026-12-07"' in html
    assert 'value="2026-12-21"' in html
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: dt.date(2026, 12, 8))
    html = alice_client.get(url).content.decode()
    assert 'value="2026-12-08"' in html
    assert 'value="2026-12-22"' in html
    assert "2026-12-07" not in html


def test_each_language_its_own_parts(alice_client: Any) -> None:
    url = reverse("invoices:issue")
    english = alice_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    polish = alice_client.get(url, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Buyer name" in english
    assert "Buyer name" not in polish
    assert "Buyer name" in alice_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_advances_to_settle_are_the_companys_current_ones(alice_client: Any, company_a: Company) -> None:
    url = reverse("invoices:issue")
    assert "FZ/" not in alice_client.get(url).content.decode()
    advance = services.invoice_issue(
        company=company_a,
        user=None,
        data=issue_data(kind="ZAL", advance_amount=Decimal("500.00")),
    )
    html = alice_client.get(url).content.decode()
    assert f'value="{advance.uuid}"' in html
    assert advance.number in html


def test_a_posted_form_shows_what_was_typed_and_its_errors(alice_client: Any) -> None:
    url = reverse("invoices:issue")
    alice_client.get(url)  # the blank form's parts are kept
    posted = alice_client.post(
        url,
        {
            "idempotency_key": str(uuid.uuid4()),
            "name": "",
            "address_line1": "ul. Typed 7",
            "country_code": "PL",
            "currency": "EUR",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
        },
    )
    html = posted.content.decode()
    assert posted.status_code == 200
    assert FIELD in _rendered(posted)
    assert 'value="ul. Typed 7"' in html
    assert 'value="EUR"' in html
    assert "field--error" in html
    assert 'value="ul. Typed 7"' not in alice_client.get(url).content.decode()  # the blank form again


def test_a_part_showing_a_value_of_this_request_is_not_kept() -> None:
    template = Template(
        '{% load blank_form %}{% blankpart "key" %}{{ form.idempotency_key }}{% endblankpart %}'
    )

    def render() -> str:
        form = InvoiceForm(initial={"idempotency_key": uuid.uuid4()}, direction="sales")
        return template.render(Context({"form": form, "blank_form": True}))

    assert render() != render()


def test_the_blank_form_takes_few_statements(alice_client: Any, company_a: Company) -> None:
    url = reverse("invoices:issue")
    services.invoice_issue(company=company_a, user=None, data=issue_data())
    alice_client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert alice_client.get(url).status_code == 200
    # The session's user and membership (2, see accounts), the open advances, the last bank account, the
    # number preview (series and counter), the recent contractors.
    statements = page_statements(captured)
    assert len(statements) <= 7, [sql[:120] for sql in statements]
