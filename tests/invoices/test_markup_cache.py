"""Markup kept in the shared cache on the invoice page and the Wystaw form: the invoice document (also the
preview's) once per version of what it shows, the lines of a blank form once per release; the page around
them is rendered for each request, so what depends on the viewer (role, messages) is never shared."""

from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from accounts.models import Company, Role
from invoices import services
from invoices.models import Invoice, KsefStatus
from invoices.visualisation import QrCode, set_qr_provider
from tests.conftest import add_member
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db


def _rendered(response: Any) -> list[str]:
    return [t.name for t in response.templates]


@pytest.fixture
def invoice(company_a: Company) -> Invoice:
    return services.invoice_issue(company=company_a, user=None, data=issue_data())


def test_the_document_is_rendered_once_per_version(alice_client: Any, invoice: Invoice) -> None:
    url = reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    first = alice_client.get(url)
    assert "invoices/_document.html" in _rendered(first)
    second = alice_client.get(url)
    assert "invoices/_document.html" not in _rendered(second)
    assert second.content == first.content
    preview = alice_client.get(reverse("invoices:preview", kwargs={"invoice_uuid": invoice.uuid}))
    assert "invoices/_document.html" not in _rendered(preview)  # the same document
    assert invoice.buyer_name in preview.content.decode()

    Invoice.objects.filter(pk=invoice.pk).update(notes="Zapłacono gotówką.")  # no signal, no timestamp
    changed = alice_client.get(url)
    assert "invoices/_document.html" in _rendered(changed)
    assert "Zapłacono gotówką." in changed.content.decode()

    # The KSeF state comes in with the QR codes.
    Invoice.objects.filter(pk=invoice.pk).update(ksef_status=KsefStatus.ACCEPTED, ksef_number="K-7")
    previous = set_qr_provider(
        lambda inv: [QrCode("https://qr-test.ksef.mf.gov.pl/k7", inv.ksef_number or "")]
    )
    try:
        html = alice_client.get(url).content.decode()
    finally:
        set_qr_provider(previous)
    assert "https://qr-test.ksef.mf.gov.pl/k7" in html

    with override_settings(RELEASE_KEY="the-next-release"):
        assert "invoices/_document.html" in _rendered(alice_client.get(url))


def test_the_page_around_the_document_is_the_viewers(
    alice_client: Any, client: Any, company_a: Company, invoice: Invoice
) -> None:
    url = reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    Invoice.objects.filter(pk=invoice.pk).update(ksef_status=KsefStatus.ACCEPTED, ksef_number="K-1")
    correct = reverse("invoices:correct", kwargs={"invoice_uuid": invoice.uuid})
    assert correct in alice_client.get(url).content.decode()  # the owner may correct it
    viewer = add_member(company_a, Role.VIEWER, "viewer@example.com").user
    client.force_login(viewer)
    response = client.get(url)
    assert "invoices/_document.html" not in _rendered(response)  # the document from the cache
    assert invoice.number in response.content.decode()
    assert correct not in response.content.decode()


def test_the_lines_of_a_blank_form_are_rendered_once_a_posted_forms_every_time(alice_client: Any) -> None:
    url = reverse("invoices:issue")
    cache.clear()  # another test may have shown a blank form under this release already
    first = alice_client.get(url)
    assert "invoices/_lines.html" in _rendered(first)
    second = alice_client.get(url)
    assert "invoices/_lines.html" not in _rendered(second)
    assert 'name="lines-TOTAL_FORMS"' in second.content.decode()
    assert 'id="line-template"' in second.content.decode()
    posted = alice_client.post(
        url, {"lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-0-name": "Śruby"}
    )
    assert posted.status_code == 200
    assert "invoices/_lines.html" in _rendered(posted)
    assert 'value="Śruby"' in posted.content.decode()
    with override_settings(RELEASE_KEY="the-next-release"):
        assert "invoices/_lines.html" in _rendered(alice_client.get(url))
