"""A user of company A gets 404 for every URL that names an object of company B."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts import services
from accounts.models import Company, Role, User
from tests.conftest import add_member
from tests.factories import MembershipFactory
from tests.security.urlconf import SKIPPED_PREFIXES, all_routes, app_routes, company_rows

pytestmark = pytest.mark.django_db


def _patterns(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry, inner)
        elif entry.name:
            yield f"{namespace}{entry.name}", entry


def _uuid_urls() -> dict[str, list[str]]:
    found = {}
    for name, pattern in _patterns(get_resolver()):
        converters = getattr(pattern.pattern, "converters", {})
        uuid_kwargs = [k for k, c in converters.items() if type(c).__name__ == "UUIDConverter"]
        if uuid_kwargs and not name.startswith(("admin:", "api-v1:")):
            found[name] = uuid_kwargs
    return found


@pytest.fixture
def company_b_objects(company_b: Company, bob: User) -> dict[str, uuid.UUID]:
    member = MembershipFactory.create(company=company_b, role=Role.ACCOUNTANT)
    invitation = services.invitation_create(
        company=company_b, email="x@example.com", role="viewer", invited_by=bob
    )
    from tests.invoices.factories import invoice_make

    invoice = invoice_make(company_b)
    from ksef_integration.models import CertificateEnrollment, ImportFailure

    failure = ImportFailure.objects.create(
        company=company_b, ksef_number="K-B", subject_type="Subject2", xml=b"<x/>", reason="test"
    )
    enrollment = CertificateEnrollment.objects.create(
        company=company_b,
        kind=CertificateEnrollment.Kind.SWITCH,
        status=CertificateEnrollment.Status.AWAITING_SIGNATURE,
        request_xml="<AuthTokenRequest/>",
    )
    from ksef_integration.models import KsefGrant
    from payments.models import PaymentFile

    grant = KsefGrant.objects.create(
        company=company_b, permission_id=uuid.uuid4(), subject="entity", identifier_type="Nip",
        identifier_value="5260250274", scope="InvoiceRead", state="Active", start_date="2026-01-01T00:00Z",
    )  # fmt: skip
    payment_file = PaymentFile.objects.create(
        company=company_b, format="elixir", filename="przelewy.pli", content=b"110,...",
        payer_account="61109010140000071219812874", execution_date=invoice.issue_date, transfer_count=1,
        total=invoice.total_gross,
    )  # fmt: skip
    from integrations.api.keys import key_create
    from integrations.webhooks import services as webhooks

    key = key_create(company=company_b, user=bob, name="B", scope="write").key
    endpoint, _secret = webhooks.endpoint_create(
        company=company_b, user=bob, url="https://example.com/b", events=["invoice.accepted"]
    )
    from integrations.models import WebhookDelivery, WebhookEvent

    event = WebhookEvent.objects.create(company=company_b, type="invoice.accepted", payload={})
    delivery = WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, status="failed", next_attempt_at=None
    )
    return {
        "key_uuid": key.uuid,
        "endpoint_uuid": endpoint.uuid,
        "delivery_uuid": delivery.uuid,
        "permission_id": grant.permission_id,
        "file_uuid": payment_file.uuid,
        "enrollment_uuid": enrollment.uuid,
        "failure_uuid": failure.uuid,
        "company_uuid": company_b.uuid,
        "membership_uuid": member.uuid,
        "invitation_uuid": invitation.uuid,
        "invoice_uuid": invoice.uuid,
    }


def test_every_uuid_url_is_covered(company_b_objects: dict[str, uuid.UUID]) -> None:
    # A new URL with a new kind of UUID must be added to the fixture above (and so to the matrix).
    kinds = {kwarg for kwargs in _uuid_urls().values() for kwarg in kwargs}
    assert kinds <= set(company_b_objects)
    assert len(_uuid_urls()) >= 5


def test_outsider_gets_404_for_every_company_b_url(
    alice_client: Any, company_b: Company, company_b_objects: dict[str, uuid.UUID]
) -> None:
    before = company_rows(company_b.pk)
    checked = []
    for name, kwargs in _uuid_urls().items():
        url = reverse(name, kwargs={k: company_b_objects[k] for k in kwargs})
        random_url = reverse(name, kwargs={k: uuid.uuid4() for k in kwargs})
        assert alice_client.post(url, {"role": "viewer"}).status_code == 404, name
        get_status = alice_client.get(url).status_code
        assert get_status in (404, 405), name
        assert get_status == alice_client.get(random_url).status_code, name  # existence does not leak
        checked.append(name)
    assert company_rows(company_b.pk) == before  # every table of every app, not only memberships
    assert "accounts:company_switch" in checked
    assert {"invoices:pdf", "ksef_integration:invoice_xml", "ksef_integration:invoice_send"} <= set(checked)
    assert {"payments:whitelist_check", "payments:whitelist_override"} <= set(checked)
    assert "ksef_integration:permissions_revoke" in checked
    assert {"payments:invoice_action", "payments:file", "payments:file_download"} <= set(checked)
    assert {"integrations:key_revoke", "integrations:endpoint", "integrations:delivery_resend"} <= set(
        checked
    )
    # Issue 22: the live KSeF card, the buyer e-mail's log and "wyślij ponownie".
    assert {
        "invoices:ksef_card", "ksef_integration:delivery_panel", "ksef_integration:delivery_resend"
    } <= set(checked)  # fmt: skip


def test_live_statuses_and_connect_steps_never_show_company_b(
    alice_client: Any, company_b: Company, company_b_objects: dict[str, uuid.UUID]
) -> None:
    """Issue 22: the Dokumenty poll answers only for the company's own invoices (B's ids give nothing), and
    a connect attempt is kept per company."""
    from ksef_integration.connect import progress

    invoice_uuid = company_b_objects["invoice_uuid"]
    html = alice_client.get(reverse("invoices:statuses"), {"ids": str(invoice_uuid)}).content.decode()
    assert str(invoice_uuid) not in html
    assert "hx-trigger" not in html
    attempt = str(uuid.uuid4())
    progress.reporter(company_id=company_b.pk, attempt=attempt)("checked")
    steps = alice_client.get(
        reverse("ksef_integration:connect_progress"), {"attempt": attempt}
    ).content.decode()
    assert 'class="is-done"' not in steps


def test_company_b_never_appears_on_company_a_pages(alice_client: Any, company_b: Company) -> None:
    for name in ["accounts:start", "accounts:more", "accounts:members", "accounts:company_edit"]:
        html = alice_client.get(reverse(name)).content.decode()
        assert company_b.name not in html
        assert company_b.nip not in html


def test_the_session_cannot_point_at_a_foreign_company(alice_client: Any, company_b: Company) -> None:
    session = alice_client.session
    session["current_company_uuid"] = str(company_b.uuid)
    session.save()
    html = alice_client.get(reverse("accounts:start")).content.decode()
    assert company_b.name not in html
    assert "Alfa sp. z o.o." in html


# --- the whole URLconf (issue 9) ------------------------------------------------------------------------


def test_the_matrix_is_derived_from_the_urlconf_and_skips_only_admin_and_the_simulator() -> None:
    routes = all_routes()
    kept = app_routes()
    assert len(kept) >= 45
    assert all(any(r.route.startswith(p) for p in SKIPPED_PREFIXES) for r in routes if r not in kept)
    assert {r.name for r in kept if r.uuid_kwargs} == set(_uuid_urls())
    # Only the UUID-less URLs named below take a parameter at all; they name no company object.
    assert {r.name for r in kept if r.converters and not r.uuid_kwargs} == {
        "accounts:password_reset_confirm",
        "accounts:invitation_accept",
    }


def test_no_page_of_company_a_shows_anything_of_company_b(
    alice_client: Any, company_b: Company, company_b_objects: dict[str, uuid.UUID]
) -> None:
    from urllib.parse import urlencode

    from invoices.models import Contractor, Invoice
    from tests.factories import valid_nip

    invoice = Invoice.objects.get(uuid=company_b_objects["invoice_uuid"])
    contractor = Contractor.objects.create(company=company_b, nip=valid_nip(), name="Tajny Kontrahent Bety")
    markers = [company_b.name, company_b.nip, invoice.number, str(invoice.uuid), str(company_b.uuid)]
    markers += [contractor.name, contractor.nip]
    # Each page is also asked about B's things by query string (the contractor auto-fill, searches).
    query = "?" + urlencode({"nip": contractor.nip, "q": invoice.number, "search": company_b.name})
    pages = 0
    for route in app_routes():
        if route.uuid_kwargs or route.name in {"accounts:logout"}:
            continue  # UUID URLs are the outsider matrix above; logging out would end the walk
        response = alice_client.get(route.url({}) + query)
        assert response.status_code < 500, route.name
        body = b"".join(response) if response.streaming else response.content
        text = body.decode("utf-8", "replace")
        for marker in markers:
            assert marker not in text, (route.name, marker)
        pages += 1
    assert pages >= 30


# Personal actions any member may take whatever their role in the current company.
PERSONAL = {
    "accounts:logout": "ends the viewer's own session",
    "accounts:password_change": "the viewer's own password",
    "accounts:company_create": "anyone may register a company of their own",
    "accounts:company_switch": "switches among the viewer's own memberships",
    "accounts:signup": "anonymous-only; redirects a logged-in user",
    "accounts:login": "anonymous-only; redirects a logged-in user",
    "accounts:password_reset": "anonymous flow, changes nothing in a company",
    "accounts:password_reset_confirm": "anonymous flow with a one-time link",
    "accounts:invitation_accept": "needs the invitation's secret token",
    "set_language": "a cookie of the viewer's own",
    "ksef_integration:import_digest": "the viewer's own opt-in to an e-mail (one row per membership)",
}


@pytest.fixture
def company_a_objects(company_a: Company, alice: User) -> dict[str, uuid.UUID]:
    from tests.invoices.factories import invoice_make

    member = MembershipFactory.create(company=company_a, role=Role.ACCOUNTANT)
    invitation = services.invitation_create(
        company=company_a, email="y@example.com", role="viewer", invited_by=alice
    )
    from ksef_integration.models import KsefGrant

    grant = KsefGrant.objects.create(
        company=company_a, permission_id=uuid.uuid4(), subject="entity", identifier_type="Nip",
        identifier_value="5260250274", scope="InvoiceRead", state="Active", start_date="2026-01-01T00:00Z",
    )  # fmt: skip
    return {
        "permission_id": grant.permission_id,
        "company_uuid": company_a.uuid,
        "membership_uuid": member.uuid,
        "invitation_uuid": invitation.uuid,
        "invoice_uuid": invoice_make(company_a).uuid,
    }


def test_a_viewer_cannot_change_anything_by_posting_to_any_url(
    client: Any, company_a: Company, company_a_objects: dict[str, uuid.UUID]
) -> None:
    viewer = add_member(company_a, Role.VIEWER, "viewer@example.com")
    client.force_login(viewer.user)
    form = {"role": "owner", "email": "z@example.com", "name": "Przejęta sp. z o.o.", "auto_send": "on"}
    before = company_rows()
    status = {}
    for route in app_routes():
        if route.name in PERSONAL:
            continue
        response = client.post(route.url(company_a_objects), form)
        status[route.name] = response.status_code
        assert response.status_code < 500, route.name
        if response.status_code == 302:
            # A redirect must not be a success: it goes back to a page, never on to a result.
            assert response["Location"] != "/uslugi-dodatkowe/ksef/gotowe/", route.name
    assert company_rows() == before  # the real check: no row of any table changed
    owner_only = {
        "accounts:company_edit", "accounts:member_role", "accounts:member_remove",
        "accounts:invitation_revoke",
        "ksef_integration:token", "ksef_integration:certificate", "ksef_integration:disconnect",
        "ksef_integration:offline_certificate", "ksef_integration:offline_certificate_delete",
        "invoices:issue", "invoices:correct", "invoices:edit", "ksef_integration:invoice_send",
        "ksef_integration:permissions", "ksef_integration:permissions_live",
        "ksef_integration:permissions_refresh",
        "ksef_integration:permissions_grant_person", "ksef_integration:permissions_grant_office",
        "ksef_integration:permissions_revoke",
        "payments:settings",
        "integrations:settings", "integrations:key_new", "integrations:endpoint_new",
    }  # fmt: skip
    acting_only = {
        "payments:inbox_action", "payments:invoice_action", "payments:pay", "payments:statement",
        "ksef_integration:via_office", "ksef_integration:delivery_resend",
    }  # fmt: skip
    assert {name for name in acting_only if status[name] != 403} == set()
    assert {name for name in owner_only if status[name] != 403} == set()


# --- the public API (issue 22): a key of company A never reads company B ---------------------------------


def _api_operations() -> list[tuple[str, str]]:
    """Every (method, path) of the served OpenAPI document: derived from the code, never a hand-kept list."""
    from django.test import Client

    document = Client().get("/api/v1/openapi.json").json()
    return [(method, path) for path, item in document["paths"].items() for method in item]


def test_a_key_of_company_a_never_reads_company_b(
    company_a: Company, company_b: Company, alice: User, company_b_objects: dict[str, uuid.UUID]
) -> None:
    from django.test import Client

    from integrations.api.keys import key_create
    from invoices.models import Invoice
    from tests.invoices.factories import invoice_make

    key_a = key_create(company=company_a, user=alice, name="A", scope="write").plain
    client = Client(headers={"Authorization": f"Bearer {key_a}"})
    b_invoice = Invoice.objects.get(uuid=company_b_objects["invoice_uuid"])
    invoice_make(company_b, direction="purchase", number="ZAKUP-B")
    own = invoice_make(company_a, number="FV-A")
    before = company_rows(company_b.pk)
    operations = _api_operations()
    assert len(operations) >= 7
    for method, path in operations:
        if "{invoice_id}" in path:
            url, random_url = (path.replace("{invoice_id}", str(x)) for x in (b_invoice.uuid, uuid.uuid4()))
            assert method == "get", path
            answer = client.get(url)
            assert answer.status_code == 404, (path, answer.content)
            unknown = client.get(random_url)
            assert unknown.status_code == 404
            # existence does not leak: B's invoice and no invoice get the same problem (but for the path)
            body, unknown_body = answer.json(), unknown.json()
            assert {**body, "instance": ""} == {**unknown_body, "instance": ""}, path
            assert client.get(path.replace("{invoice_id}", str(own.uuid))).status_code in (
                200,
                404,
            )
        elif method == "get":
            for direction in ("sales", "purchase"):
                text = client.get(path, {"direction": direction}).content.decode()
                for marker in (b_invoice.number, str(b_invoice.uuid), company_b.nip, "ZAKUP-B"):
                    assert marker not in text, (path, marker)
        else:  # creating: it lands in A, whatever the body says
            answer = client.post(path, {}, content_type="application/json")
            assert answer.status_code == 400
    assert company_rows(company_b.pk) == before
