"""The public API in-process: create, read, page, scopes, limits, problem details, the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openapi_spec_validator import validate

from accounts.models import Company, User
from integrations.api.keys import key_revoke
from integrations.models import ApiKey
from invoices.models import Direction, Invoice, KsefStatus, NumberingCounter
from tests.factories import active_connection
from tests.integrations.conftest import ApiClient, invoice_body
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    return dict(body)


def _fields(problem: dict[str, Any]) -> set[str | None]:
    return {error["field"] for error in problem["errors"]}


def test_create_returns_the_issued_invoice_and_reads_it_back(api: ApiClient, company_a: Company) -> None:
    response = api.post("/invoices", invoice_body())
    assert response.status_code == 201, response.content
    created = response.json()
    invoice = Invoice.objects.get(uuid=created["id"])
    assert invoice.company == company_a
    assert invoice.direction == Direction.SALES
    assert created["number"] == invoice.number
    assert invoice.number.startswith("FV/1/")
    assert created["total_gross"] == "1230.00"
    assert created["lines"][0]["vat_amount"] == "230.00"
    assert created["ksef"]["status"] == KsefStatus.NOT_SENT  # no KSeF connection here: nothing queued
    assert created["issue_date"] == timezone.localdate().isoformat()  # Wystaw's default: today
    again = api.get(f"/invoices/{created['id']}")
    assert again.status_code == 200
    assert again.json() == created
    status = api.get(f"/invoices/{created['id']}/ksef-status").json()
    assert status == created["ksef"]
    pdf = api.get(f"/invoices/{created['id']}/pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    # not sent to KSeF: no XML sent and no UPO yet, said as a problem
    assert _problem(api.get(f"/invoices/{created['id']}/upo"), 404)["title"]


def test_gross_prices_an_invoice_discount_and_a_margin_scheme_over_the_api(
    api: ApiClient, company_a: Company
) -> None:
    """Issue 19's pricing reaches the API as Wystaw has it: 1,230.00 gross at 23 % less 10 % is 1,107.00
    gross, of which the VAT is taken out of the rate's gross total: 1,107 x 23/123 = 207.00."""
    line = {"name": "Rower", "quantity": "1", "unit": "szt.", "unit_price": "1230.00", "vat_rate": "23"}
    response = api.post("/invoices", invoice_body(lines=[line], prices_gross=True, discount_percent="10"))
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["prices_gross"], created["discount_percent"]) == (True, "10.00")
    assert (created["total_gross"], created["total_vat"], created["total_net"]) == (
        "1107.00",
        "207.00",
        "900.00",
    )
    invoice = Invoice.objects.get(uuid=created["id"])
    assert (invoice.prices_gross, invoice.discount_percent, invoice.total_gross) == (
        True,
        10,
        Decimal("1107.00"),
    )

    used = {
        "name": "Aparat używany",
        "quantity": "1",
        "unit": "szt.",
        "unit_price": "500.00",
        "vat_rate": "23",
    }
    response = api.post("/invoices", invoice_body(lines=[used], margin_scheme="used_goods"))
    assert response.status_code == 201, response.content
    margin = response.json()
    assert (margin["margin_scheme"], margin["total_gross"], margin["total_vat"]) == (
        "used_goods",
        "500.00",
        "0.00",
    )
    assert margin["discount_percent"] is None

    both = invoice_body(discount_percent="5", discount_amount="10.00")  # one or the other, as in Wystaw
    problem = _problem(api.post("/invoices", both), 400)
    assert _fields(problem) & {"discount_percent", "discount_amount"}
    unknown = _problem(api.post("/invoices", invoice_body(margin_scheme="boats")), 400)
    assert "margin_scheme" in str(unknown["errors"])
    assert Invoice.objects.filter(company=company_a).count() == 2


# One create's statements (issue 22), the company's series, counter and buyer already there: the key, the
# Wystaw checks, the issuing transaction, queueing for KSeF once it has committed, the answer read back.
CREATE_STATEMENTS = 26
# What the issuing transaction does while it holds the series' row lock, up to its COMMIT: nothing else.
NUMBERED = [
    ("SELECT", "invoices_numberingcounter"),
    ("UPDATE", "invoices_numberingcounter"),
    ("INSERT", "invoices_invoice"),
    ("INSERT", "invoices_invoiceline"),
]


def _verb_table(sql: str) -> tuple[str, str]:
    verb = sql.split()[0]
    table = re.search(r'(?:FROM|UPDATE|INTO) "(\w+)"', sql)
    return verb, table.group(1) if table else ""


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_create_keeps_its_statement_budget_and_locks_only_to_take_its_number(
    postgres_and_redis: None, api: ApiClient, company_a: Company
) -> None:
    active_connection(company_a, auto_send=True)
    assert api.post("/invoices", invoice_body()).status_code == 201
    body = invoice_body(lines=[{"name": "Audyt", "quantity": "2", "unit_price": "350.00", "vat_rate": "23"}])
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/invoices", body)
    assert response.status_code == 201, response.content
    assert response.json()["ksef"]["status"] == KsefStatus.QUEUED  # queued for KSeF once it committed
    sqls = [query["sql"] for query in queries.captured_queries]
    assert len(sqls) <= CREATE_STATEMENTS, "\n".join(sqls)
    locked = [i for i, sql in enumerate(sqls) if sql.endswith("FOR UPDATE")]
    assert len(locked) == 1, "\n".join(sqls)
    assert _verb_table(sqls[locked[0]]) == ("SELECT", "invoices_numberingseries")
    commit = sqls.index("COMMIT", locked[0])
    assert [_verb_table(sql) for sql in sqls[locked[0] + 1 : commit]] == NUMBERED
    # the buyer (the same contractor as before) is only read until the invoice has committed
    begin = sqls.index("BEGIN")
    assert not [
        sql for sql in sqls[begin:commit] if "invoices_contractor" in sql and not sql.startswith("SELECT")
    ]


def test_the_idempotency_key_returns_the_first_invoice(api: ApiClient, company_a: Company) -> None:
    key = str(uuid.uuid4())
    first = api.post("/invoices", invoice_body(), headers={"Idempotency-Key": key})
    second = api.post("/invoices", invoice_body(), headers={"Idempotency-Key": key})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    in_body = api.post("/invoices", invoice_body(idempotency_key=key))
    assert in_body.status_code == 200
    assert in_body.json()["id"] == first.json()["id"]
    assert Invoice.objects.filter(company=company_a).count() == 1


def test_a_read_only_key_cannot_create(api_read: ApiClient, company_a: Company) -> None:
    problem = _problem(api_read.post("/invoices", invoice_body()), 403)
    assert problem["type"].endswith("insufficient-scope")
    assert not Invoice.objects.filter(company=company_a).exists()
    assert api_read.get("/invoices").status_code == 200  # it still reads


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        # the shape (pydantic): a missing buyer name, an unknown rate, a field nobody defined, not a number
        (invoice_body(buyer={"nip": "5260250274"}), {"buyer.name"}),
        (invoice_body(lines=[{"name": "x", "unit_price": "1", "vat_rate": "24"}]), {"lines[0].vat_rate"}),
        (invoice_body(discount="10"), {"discount"}),
        (invoice_body(lines=[{"name": "x", "unit_price": "abc", "vat_rate": "23"}]), {"lines[0].unit_price"}),
        # Wystaw's form: a NIP with a wrong check digit, a date in the future, a negative price, no lines,
        # a foreign currency without its rate, half a billing period
        (invoice_body(buyer={"name": "X", "nip": "5260250275"}), {"buyer.nip"}),
        (invoice_body(issue_date=(timezone.localdate() + dt.timedelta(days=2)).isoformat()), {"issue_date"}),
        (invoice_body(lines=[{"name": "x", "unit_price": "-5", "vat_rate": "23"}]), {"lines[0].unit_price"}),
        (invoice_body(lines=[]), {"lines"}),
        (invoice_body(currency="EUR"), {"exchange_rate"}),
        (invoice_body(period_from="2026-11-01"), {"period_to"}),
        # invoices.services (the rules KSeF would refuse): zw without its legal basis, 0 WDT for a Pole
        (
            invoice_body(lines=[{"name": "x", "unit_price": "10", "vat_rate": "zw"}]),
            {"exemption_basis", "exemption_text"},
        ),
        (
            invoice_body(lines=[{"name": "x", "unit_price": "10", "vat_rate": "0 WDT"}]),
            {"buyer.country_code"},
        ),
    ],
)
def test_bad_bodies_get_400_problem_details_with_field_errors_and_nothing_is_saved(
    api: ApiClient, company_a: Company, body: dict[str, Any], fields: set[str]
) -> None:
    problem = _problem(api.post("/invoices", body), 400)
    assert problem["type"].endswith("validation")
    assert fields <= _fields(problem), problem["errors"]
    assert all(error["message"] for error in problem["errors"])
    assert not Invoice.objects.filter(company=company_a).exists()
    assert not NumberingCounter.objects.filter(series__company=company_a, last_number__gt=0).exists()


def test_a_body_that_is_not_json_is_a_400_problem(api: ApiClient) -> None:
    problem = _problem(api.post("/invoices", "{not json"), 400)
    assert problem["detail"]


def test_the_api_refuses_what_wystaw_refuses(alice_client: Any, api: ApiClient, company_a: Company) -> None:
    """The same line at "zw" without a basis: Wystaw's page refuses it, so does the API, in the same
    words."""
    post = {
        "name": "X", "nip": "5260250274", "country_code": "PL",
        "issue_date": timezone.localdate().isoformat(), "currency": "PLN",
        "idempotency_key": str(uuid.uuid4()), "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0", "lines-0-name": "x", "lines-0-quantity": "1", "lines-0-unit_price": "10",
        "lines-0-vat_rate": "zw",
    }  # fmt: skip
    page = alice_client.post("/dokumenty/wystaw/", post)
    assert page.status_code == 200  # the form again, with the message
    problem = _problem(api.post("/invoices", invoice_body(lines=[{"name": "x", "unit_price": "10",
                                                                    "vat_rate": "zw"}])), 400)  # fmt: skip
    messages = [error["message"] for error in problem["errors"] if error["field"] == "exemption_text"]
    assert messages
    assert messages[0] in page.content.decode()
    assert not Invoice.objects.filter(company=company_a).exists()


def test_no_key_a_wrong_key_and_a_revoked_key_get_401(api: ApiClient, alice: User, write_key: str) -> None:
    anonymous = Client().get("/api/v1/invoices")
    assert _problem(anonymous, 401)
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong = ApiClient(Client(), write_key[:-4] + "AAAA")
    _problem(wrong.get("/invoices"), 401)
    _problem(ApiClient(Client(), "kp_nothing").get("/invoices"), 401)
    assert api.get("/invoices").status_code == 200
    key_revoke(key=ApiKey.objects.get(prefix=write_key[:11]), user=alice)
    _problem(api.get("/invoices"), 401)


def test_a_logged_in_session_alone_cannot_use_the_api(alice_client: Any, company_a: Company) -> None:
    """The API is csrf-exempt because only an API key in a header authenticates, never a cookie."""
    _problem(alice_client.post("/api/v1/invoices", invoice_body(), content_type="application/json"), 401)
    _problem(alice_client.get("/api/v1/invoices"), 401)
    assert not Invoice.objects.filter(company=company_a).exists()


def test_the_key_is_stored_only_as_a_hash_and_its_use_is_recorded(api: ApiClient, write_key: str) -> None:
    key = ApiKey.objects.get()
    assert write_key not in json.dumps(list(ApiKey.objects.values()), default=str)
    assert key.key_sha256 != write_key
    assert len(key.key_sha256) == 64
    assert write_key.startswith(key.prefix)
    assert key.last_used_at is None
    api.get("/invoices")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_every_key_made_authenticates_and_no_other_string_does(company_a: Company, alice: User) -> None:
    from integrations.api.keys import key_authenticate, key_create

    for _ in range(40):  # the secret part is base64url: "_" and "-" inside it must not confuse the lookup
        plain = key_create(company=company_a, user=alice, name="k", scope="read").plain
        key = key_authenticate(plain)
        assert key is not None
        assert key.company == company_a
        assert key_authenticate(plain + "x") is None
        assert key_authenticate(plain[:-1]) is None
        assert key_authenticate("x" + plain) is None


def test_the_rate_limit_is_per_key(api: ApiClient, api_read: ApiClient, settings: Any) -> None:
    settings.API_RATE_LIMIT = 3
    answers = [api.get("/invoices") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0]["RateLimit-Remaining"] == "2"
    problem = _problem(answers[3], 429)
    assert problem["type"].endswith("rate-limited")
    assert 1 <= int(answers[3]["Retry-After"]) <= 60
    assert api_read.get("/invoices").status_code == 200  # another key has its own allowance


def test_list_filters_and_pages_with_a_cursor(api: ApiClient, company_a: Company) -> None:
    for day in range(1, 8):
        invoice_make(company_a, issue_date=dt.date(2026, 11, day), number=f"FV/{day}/11/2026")
    invoice_make(company_a, issue_date=dt.date(2026, 11, 9), number="Z/1", direction=Direction.PURCHASE)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/invoices", **params).json()
        seen += [item["number"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"FV/{day}/11/2026" for day in range(7, 0, -1)]
    assert pages == 3
    purchases = api.get("/invoices", direction="purchase").json()["items"]
    assert [p["number"] for p in purchases] == ["Z/1"]
    dated = api.get("/invoices", issued_from="2026-11-03", issued_to="2026-11-04").json()["items"]
    assert {d["number"] for d in dated} == {"FV/3/11/2026", "FV/4/11/2026"}
    assert _fields(_problem(api.get("/invoices", cursor="bm90LWEtY3Vyc29y"), 400)) == {"cursor"}
    assert _fields(_problem(api.get("/invoices", limit=500), 400)) == {"limit"}
    assert _fields(_problem(api.get("/invoices", direction="both"), 400)) == {"direction"}


def test_the_served_openapi_document_is_valid_openapi_3_1() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    validate(document)  # openapi-spec-validator: raises on any error
    paths = document["paths"]
    assert {"/api/v1/invoices", "/api/v1/invoices/{invoice_id}/pdf"} <= set(paths)
    assert "400" in paths["/api/v1/invoices"]["post"]["responses"]
    assert "webhook-signature" in document["info"]["description"]


def test_the_docs_page_uses_only_files_served_here() -> None:
    html = Client().get("/api/v1/docs").content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "/static/" in html
    assert "cdn." not in html
    assert "https://" not in html.split("<body")[0]


def test_the_documented_codes_are_the_models_choices() -> None:
    import typing

    from integrations.api.schemas import CHOICES

    for literal, choices in CHOICES.items():
        assert list(typing.get_args(literal)) == list(choices.values), choices
