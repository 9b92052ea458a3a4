"""Dane i ustawienia → KSeF reads the company's KSeF rows (connection, availability, Offline certificate)
in one statement, and stays within its statement budget."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Company
from ksef_integration.connect.selectors import company_one, company_ones_read
from ksef_integration.models import KsefAvailability
from tests.factories import active_connection
from tests.statements import page_statements

pytestmark = pytest.mark.django_db


def test_the_settings_page_takes_few_statements(alice_client: Any, company_a: Company) -> None:
    active_connection(company_a)
    alice_client.get("/ustawienia/ksef/")
    with CaptureQueriesContext(connection) as captured:
        page = alice_client.get("/ustawienia/ksef/")
    assert page.status_code == 200
    statements = page_statements(captured)
    # user, membership; the KSeF rows; digest opt-in, sync cursors, import runs, import failures; offline
    # invoices waiting, an outage going on; the recent events.
    assert len(statements) <= 10, [sql[:160] for sql in statements]
    assert sum("ksef_integration_ksefconnection" in sql for sql in statements) == 1


def test_the_rows_read_together_are_the_companys_found_or_not(company_a: Company) -> None:
    connection_row = active_connection(company_a)
    company = Company.objects.get(pk=company_a.pk)
    with CaptureQueriesContext(connection) as captured:
        company_ones_read(company)
        found = company_one(company, "ksef_connection")
        availability = company_one(company, "ksef_availability")
        certificate = company_one(company, "ksef_offline_certificate")
    assert len(captured) == 1
    assert found is not None
    assert found.pk == connection_row.pk
    assert availability is None
    assert certificate is None
    KsefAvailability.objects.create(company=company_a, consecutive_failures=3)
    other = Company.objects.get(pk=company_a.pk)
    company_ones_read(other)
    read = company_one(other, "ksef_availability")
    assert read is not None
    assert read.consecutive_failures == 3
