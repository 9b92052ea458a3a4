"""The "independent client" check of issue 3: the PyPI package ``ksef-client==0.20.0``, written by others
against the real TEST environment, drives the whole journey against the simulator over real HTTP.

self-signed XAdES login → generate a KSeF token → token login → online session → send an FA(3) →
KSeF number → UPO → metadata query → download by KSeF number → export, download and decrypt; and the
certificates: enrollment data → CSR → enrollment → status → retrieve → query → login with the new certificate.

The package refuses pre-signed URLs on loopback hosts, so the simulator is reached (and builds its storage
URLs) under ``ksef-sim.test``, which /etc/hosts maps to 127.0.0.1 (added by ``.ci/run`` in CI). Only the
package's public API and options are used; nothing of it is patched.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import random
import socket
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key
from ksef_client import KsefClient, KsefClientOptions
from ksef_client.models import (
    EnrollCertificateRequest,
    FormCode,
    GenerateTokenRequest,
    InvoiceExportRequest,
    InvoiceQueryDateRange,
    InvoiceQueryFilters,
    KsefCertificateType,
    QueryCertificatesRequest,
    RetrieveCertificatesRequest,
)
from ksef_client.services.auth import build_auth_token_request_xml
from ksef_client.services.crypto import build_encryption_data
from ksef_client.services.csr import generate_csr_ec, generate_csr_rsa
from ksef_client.services.workflows import (
    AuthCoordinator,
    AuthResult,
    ExportWorkflow,
    OnlineSessionWorkflow,
)
from lxml import etree
from signxml import methods
from signxml.algorithms import SignatureMethod
from signxml.xades import XAdESSigner

from ksef_simulator import processing
from ksef_simulator.conf import config_update
from ksef_simulator.services_invoices import fa3_build, nip_random
from tests.conftest import need

HOST = "ksef-sim.test"
UPO_NS = "http://upo.schematy.mf.gov.pl/KSeF/v4-3"
T = TypeVar("T")


def _resolves_to_loopback(name: str) -> bool:
    try:
        return all(info[4][0] in ("127.0.0.1", "::1") for info in socket.getaddrinfo(name, None))
    except OSError:
        return False


def _poll(read: Callable[[], T], done: Callable[[T], bool], *, timeout: float = 30.0) -> T:
    """Call ``read`` until ``done`` says so; bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _self_signed_certificate(nip: str) -> tuple[str, str]:
    """(certificate PEM, private key PEM) of a self-signed seal with ``serialNumber TINPL-<NIP>``.

    The TEST environment accepts such certificates for any NIP. The key and the subject come from the
    package's own CSR helper; the certificate is that request signed with its own key.
    """
    request = generate_csr_rsa(
        {
            "commonName": f"Pieczęć testowa {nip}",
            "organizationName": f"Firma {nip} sp. z o.o.",
            "countryName": "PL",
            "serialNumber": f"TINPL-{nip}",
        }
    )
    csr = x509.load_der_x509_csr(base64.b64decode(request.csr_base64))
    key = load_der_private_key(base64.b64decode(request.private_key_base64), password=None)
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(csr.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return certificate_pem, key_pem


def _xades_login(
    client: KsefClient,
    auth: AuthCoordinator,
    nip: str,
    certificate_pem: str,
    key_pem: str,
    *,
    context_type: str = "nip",
    subject_type: str = "certificateSubject",
) -> AuthResult:
    """XAdES login through the package.

    The package signs with ``xmlsec`` from its optional ``xml`` extra; where that extra is not installed
    (the project installs ``ksef-client[fa3]``), the AuthTokenRequest the package builds is signed with
    signxml instead and every HTTP step still goes through the package's public API.
    """
    if importlib.util.find_spec("xmlsec") is not None:
        return auth.authenticate_with_xades(
            context_identifier_type=context_type,
            context_identifier_value=nip,
            subject_identifier_type=subject_type,
            certificate_pem=certificate_pem,
            private_key_pem=key_pem,
            poll_interval_seconds=0.1,
            max_attempts=100,
        )
    challenge = client.auth.get_challenge()
    document = build_auth_token_request_xml(
        challenge=challenge.challenge,
        context_identifier_type=context_type,
        context_identifier_value=nip,
        subject_identifier_type=subject_type,
    )
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    algorithm = (
        SignatureMethod.ECDSA_SHA256
        if isinstance(key, ec.EllipticCurvePrivateKey)
        else SignatureMethod.RSA_SHA256
    )
    signed = XAdESSigner(method=methods.enveloped, signature_algorithm=algorithm).sign(
        etree.fromstring(document.encode()),
        key=key_pem,
        cert=[certificate_pem],
    )
    init = client.auth.submit_xades_auth_request(
        etree.tostring(signed, xml_declaration=True, encoding="utf-8").decode()
    )
    assert init is not None
    token = init.authentication_token.token
    status = _poll(
        lambda: client.auth.get_auth_status(init.reference_number, token), lambda s: s.status.code != 100
    )
    assert status.status.code == 200, status.status
    return AuthResult(
        reference_number=init.reference_number,
        authentication_token=token,
        tokens=client.auth.redeem_token(token),
    )


def _certificate_for(client: KsefClient, usage: str) -> tuple[str, str]:
    """(Base64 DER, publicKeyId) of the key the API publishes for ``usage`` (the latest valid one)."""
    now = dt.datetime.now(dt.UTC)
    candidates = [
        c
        for c in client.security.get_public_key_certificates()
        if usage in [getattr(u, "value", u) for u in c.usage]
        and dt.datetime.fromisoformat(str(c.valid_from)) <= now <= dt.datetime.fromisoformat(str(c.valid_to))
    ]
    assert candidates, f"no {usage} certificate published"
    chosen = max(candidates, key=lambda c: dt.datetime.fromisoformat(str(c.valid_from)))
    assert chosen.public_key_id
    return chosen.certificate, chosen.public_key_id


@pytest.fixture
def ksef(live_server: Any, settings: Any) -> Any:
    need(_resolves_to_loopback(HOST), f"{HOST} does not resolve to 127.0.0.1 (add it to /etc/hosts)")
    port = live_server.url.rsplit(":", 1)[1]
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    # storage.py appends /ksef-sim/storage/... to this base.
    settings.KSEF_SIMULATOR_PUBLIC_URL = f"http://{HOST}:{port}"
    # Short but real asynchrony, so that the client has to poll every step.
    config_update(
        auth_delay=dt.timedelta(milliseconds=200),
        token_activation_delay=dt.timedelta(milliseconds=200),
        invoice_processing_delay=dt.timedelta(milliseconds=300),
        permanent_storage_lag=dt.timedelta(milliseconds=1500),
        hwm_lag=dt.timedelta(milliseconds=300),
    )
    options = KsefClientOptions(
        base_url=f"http://{HOST}:{port}/ksef-sim/v2",
        timeout_seconds=30,
        # Plain HTTP on a private test host: allowed explicitly, for this host only.
        strict_presigned_url_validation=False,
        allowed_presigned_hosts=[HOST],
    )
    with KsefClient(options) as client:
        yield client


def test_the_ksef_client_package_runs_the_whole_test_environment_journey(ksef: KsefClient) -> None:
    rng = random.Random()
    nip, buyer = nip_random(rng), nip_random(rng)
    auth = AuthCoordinator(ksef.auth)

    # 1. Self-signed XAdES login, as the TEST environment allows for any NIP.
    certificate_pem, key_pem = _self_signed_certificate(nip)
    xades = _xades_login(ksef, auth, nip, certificate_pem, key_pem)
    assert xades.access_token
    assert xades.refresh_token

    # 2. A KSeF token with the rights to send and read invoices; it becomes Active asynchronously.
    generated = ksef.tokens.generate_token(
        GenerateTokenRequest(
            description="Klient niezależny (ksef-client 0.20.0)",
            permissions=["InvoiceWrite", "InvoiceRead"],  # type: ignore[list-item]
        ),
        access_token=xades.access_token,
    )
    assert generated.token.startswith(f"{generated.reference_number}|nip-{nip}|")
    status = _poll(
        lambda: ksef.tokens.get_token_status(generated.reference_number, access_token=xades.access_token),
        lambda s: getattr(s.status, "value", s.status) == "Active",
    )
    assert getattr(status.status, "value", status.status) == "Active"

    # 3. Token login.
    token_certificate, token_key_id = _certificate_for(ksef, "KsefTokenEncryption")
    login = auth.authenticate_with_ksef_token(
        token=generated.token,
        public_certificate=token_certificate,
        public_key_id=token_key_id,
        context_identifier_type="nip",
        context_identifier_value=nip,
        poll_interval_seconds=0.1,
        max_attempts=100,
    )
    access = login.access_token
    assert access != xades.access_token

    # 4. Online session and one FA(3).
    symmetric_certificate, symmetric_key_id = _certificate_for(ksef, "SymmetricKeyEncryption")
    session = OnlineSessionWorkflow(ksef.sessions).open_session(
        form_code=FormCode(system_code="FA (3)", schema_version="1-0E", value="FA"),
        public_certificate=symmetric_certificate,
        public_key_id=symmetric_key_id,
        access_token=access,
    )
    today = processing.warsaw_date(processing.now())
    number = f"FV/IC/{rng.randrange(16**8):08X}"
    xml = fa3_build(seller_nip=nip, buyer_nip=buyer, number=number, issue_date=today, net=Decimal("123.45"))
    sent = session.send_invoice(xml)

    # 5. The KSeF number, after the asynchronous processing.
    invoice = _poll(
        lambda: session.get_invoice_status(sent.reference_number),
        lambda s: s.status.code not in (100, 150),
    )
    assert invoice.status.code == 200, invoice.status
    ksef_number = invoice.ksef_number
    assert ksef_number
    assert ksef_number.startswith(f"{nip}-{today:%Y%m%d}-")

    # 6. UPO: of the invoice (by KSeF number, through the API) and of the closed session (pre-signed URL).
    invoice_upo = ksef.sessions.get_session_invoice_upo_by_ksef(
        session.reference_number, ksef_number, access_token=access
    )
    upo_root = etree.fromstring(invoice_upo)
    assert upo_root.findtext(f".//{{{UPO_NS}}}NumerKSeFDokumentu") == ksef_number
    session.close()
    closed = _poll(lambda: session.get_status(), lambda s: s.status.code not in (100, 170))
    assert closed.status.code == 200, closed.status
    assert closed.upo is not None
    assert closed.upo.pages
    page_url = closed.upo.pages[0].download_url
    assert page_url.startswith(f"http://{HOST}:")
    session_upo = ksef.http_client.request("GET", page_url, skip_auth=True)
    assert session_upo.status_code == 200
    assert ksef_number.encode() in session_upo.content

    # 7. Metadata query: the seller finds its invoice.
    since = (processing.now() - dt.timedelta(hours=1)).isoformat()
    filters = InvoiceQueryFilters(
        subject_type="Subject1",  # type: ignore[arg-type]
        date_range=InvoiceQueryDateRange(date_type="Invoicing", from_=since),  # type: ignore[arg-type]
    )
    # Queries see an invoice once it is in permanent storage (permanentStorageDate, 1.5 s here): poll.
    metadata = _poll(
        lambda: ksef.invoices.query_invoice_metadata(filters, access_token=access, page_size=10),
        lambda page: any(m.ksef_number == ksef_number for m in page.invoices),
    )
    found = [m for m in metadata.invoices if m.ksef_number == ksef_number]
    assert len(found) == 1
    assert found[0].invoice_number == number

    # 8. Download by KSeF number (21165 until it is in permanent storage): the very bytes that were sent.
    downloaded = _poll(
        lambda: _try(lambda: ksef.invoices.get_invoice_bytes(ksef_number, access_token=access)),
        lambda d: d is not None,
    )
    assert downloaded is not None
    assert downloaded.content == xml
    assert downloaded.sha256_base64 == invoice.invoice_hash

    # 9. Export with the client's own key; download every part, decrypt and unpack. The download worked, so
    # the invoice is in permanent storage; once the HWM (now - 300 ms) has passed it, the export sees it.
    time.sleep(0.5)
    encryption = build_encryption_data(symmetric_certificate, public_key_id=symmetric_key_id)
    assert encryption.encryption_info is not None
    export = ksef.invoices.export_invoices(
        InvoiceExportRequest(
            encryption=encryption.encryption_info,
            filters=InvoiceQueryFilters(
                subject_type="Subject1",  # type: ignore[arg-type]
                date_range=InvoiceQueryDateRange(
                    date_type="PermanentStorage",  # type: ignore[arg-type]
                    from_=since,
                    restrict_to_permanent_storage_hwm_date=True,
                ),
            ),
        ),
        access_token=access,
    )
    exported = _poll(
        lambda: ksef.invoices.get_export_status(export.reference_number, access_token=access),
        lambda s: s.status.code not in (100, 150),
    )
    assert exported.status.code == 200, exported.status
    assert exported.package is not None
    assert exported.package.invoice_count == 1
    result = ExportWorkflow(ksef.invoices, ksef.http_client).download_and_process_package(
        exported.package, encryption
    )
    assert result.invoice_xml_files == {f"{ksef_number}.xml": xml.decode()}
    assert [m["ksefNumber"] for m in result.metadata_summaries] == [ksef_number]


def _try(call: Callable[[], T]) -> T | None:
    """The call's result, or None while KSeF answers 21165 (not yet in permanent storage)."""
    from ksef_client.exceptions import KsefApiError

    try:
        return call()
    except KsefApiError as exc:
        if exc.status_code == 400 and "21165" in f"{exc.message} {exc.response_body!r}":
            return None
        raise


def test_the_ksef_client_package_enrolls_a_ksef_certificate_and_logs_in_with_it(ksef: KsefClient) -> None:
    nip = nip_random(random.Random())
    auth = AuthCoordinator(ksef.auth)
    certificate_pem, key_pem = _self_signed_certificate(nip)
    access = _xades_login(ksef, auth, nip, certificate_pem, key_pem).access_token

    # 1. Limits and the enrollment data (the DN of the certificate that signed the login).
    limits = ksef.certificates.get_limits(access)
    assert limits.can_request
    assert limits.certificate.remaining == limits.certificate.limit == 100
    data = ksef.certificates.get_enrollment_data(access)
    assert (data.common_name, data.country_name, data.serial_number) == (
        f"Pieczęć testowa {nip}",
        "PL",
        f"TINPL-{nip}",
    )

    # 2. The package's own EC P-256 CSR from that data, and the enrollment.
    csr = generate_csr_ec(data.to_dict())
    accepted = ksef.certificates.send_enrollment(
        EnrollCertificateRequest(
            certificate_name="Klient niezalezny ksef-client",
            certificate_type=KsefCertificateType.AUTHENTICATION,
            csr=csr.csr_base64,
        ),
        access_token=access,
    )

    # 3. Asynchronous processing: poll the status until the certificate is issued.
    status = _poll(
        lambda: ksef.certificates.get_enrollment_status(accepted.reference_number, access_token=access),
        lambda s: s.status.code != 100,
    )
    assert status.status.code == 200, status.status
    serial = status.certificate_serial_number
    assert serial is not None
    assert len(serial) == 16

    # 4. Retrieve it; it is the KSeF CA's certificate for the package's key.
    retrieved = ksef.certificates.retrieve_certificate(
        RetrieveCertificatesRequest(certificate_serial_numbers=[serial]), access_token=access
    )
    (item,) = retrieved.certificates
    certificate = x509.load_der_x509_certificate(base64.b64decode(item.certificate))
    key = load_der_private_key(base64.b64decode(csr.private_key_base64), password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert certificate.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) == key.public_key().public_bytes(serialization.Encoding.DER, spki)

    # 5. Query: the certificate is listed, active, for the NIP.
    listed = ksef.certificates.query_certificates(
        QueryCertificatesRequest(), page_size=10, page_offset=0, access_token=access
    )
    assert listed.has_more is False
    (row,) = [c for c in listed.certificates if c.certificate_serial_number == serial]
    assert getattr(row.status, "value", row.status) == "Active"

    # 6. Log in with the new KSeF certificate.
    new_certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    new_key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    login = _xades_login(ksef, auth, nip, new_certificate_pem, new_key_pem)
    assert login.access_token
    method = ksef.auth.get_auth_status(login.reference_number, login.authentication_token)
    assert method.authentication_method_info is not None
    assert method.authentication_method_info.code == "xades.internal-certificate"


def test_the_ksef_client_package_grants_queries_and_revokes_permissions(ksef: KsefClient) -> None:
    """Its ``permissions`` client on the simulator: an owner grants an accounting office InvoiceRead (and a
    person InvoiceRead, and the office an indirect grant), the office reads the client's invoice metadata
    with its own certificate in the client's context, the owner revokes, the office is refused."""
    from ksef_client.exceptions import KsefHttpError
    from ksef_client.models import (
        EntityPermissionsGrantRequest,
        EntityPermissionsQueryRequest,
        IndirectPermissionsGrantRequest,
        PersonalPermissionsQueryRequest,
        PersonPermissionsGrantRequest,
        PersonPermissionsQueryRequest,
    )

    config_update(permission_operation_delay=dt.timedelta(milliseconds=200))
    rng = random.Random()
    nip, office = nip_random(rng), nip_random(rng)
    auth = AuthCoordinator(ksef.auth)
    owner = _xades_login(ksef, auth, nip, *_self_signed_certificate(nip)).access_token

    def done(reference: str, access: str) -> int:
        status = _poll(
            lambda: ksef.permissions.get_operation_status(reference, access_token=access),
            lambda s: s.status.code != 100,
        )
        return int(status.status.code)

    granted = ksef.permissions.grant_entity(
        EntityPermissionsGrantRequest.from_dict(
            {
                "subjectIdentifier": {"type": "Nip", "value": office},
                "permissions": [{"type": "InvoiceRead", "canDelegate": True}],
                "description": "Biuro rachunkowe (ksef-client)",
                "subjectDetails": {"fullName": "Biuro Rachunkowe Sp. z o.o."},
            }
        ),
        access_token=owner,
    )
    assert granted.reference_number[9:11] == "EG"
    assert done(granted.reference_number, owner) == 200
    person = ksef.permissions.grant_person(
        PersonPermissionsGrantRequest.from_dict(
            {
                "subjectIdentifier": {"type": "Pesel", "value": "90010100009"},
                "permissions": ["InvoiceRead"],
                "description": "Księgowa (ksef-client)",
                "subjectDetails": {
                    "subjectDetailsType": "PersonByIdentifier",
                    "personById": {"firstName": "Anna", "lastName": "Nowak"},
                },
            }
        ),
        access_token=owner,
    )
    assert done(person.reference_number, owner) == 200

    listed = ksef.permissions.query_persons_grants(
        PersonPermissionsQueryRequest.from_dict({"queryType": "PermissionsInCurrentContext"}),
        page_offset=0,
        page_size=10,
        access_token=owner,
    )
    assert listed.has_more is False
    scopes = {
        (p.authorized_identifier.value, getattr(p.permission_scope, "value", p.permission_scope))
        for p in listed.permissions
    }
    assert scopes == {(office, "InvoiceRead"), ("90010100009", "InvoiceRead")}
    own = ksef.permissions.query_personal_grants(PersonalPermissionsQueryRequest(), access_token=owner)
    assert own.permissions == []  # the Owner is never a row
    roles = ksef.permissions.query_entities_roles(page_offset=0, page_size=10, access_token=owner)
    assert roles.roles == []

    # The office: its own certificate, the client's context.
    as_office = _xades_login(ksef, auth, nip, *_self_signed_certificate(office)).access_token
    window = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    found = ksef.invoices.query_invoice_metadata_by_date_range(
        subject_type="Subject2", date_type="Invoicing", date_from=window, access_token=as_office
    )
    assert found.invoices == []
    at_home = _xades_login(ksef, auth, office, *_self_signed_certificate(office)).access_token
    received = ksef.permissions.query_entities_grants(EntityPermissionsQueryRequest(), access_token=at_home)
    assert [(p.context_identifier.value, p.can_delegate) for p in received.permissions] == [(nip, True)]
    indirect = ksef.permissions.grant_indirect(
        IndirectPermissionsGrantRequest.from_dict(
            {
                "subjectIdentifier": {"type": "Pesel", "value": "90010100009"},
                "targetIdentifier": {"type": "Nip", "value": nip},
                "permissions": ["InvoiceRead"],
                "description": f"praca dla klienta {nip}",
                "subjectDetails": {
                    "subjectDetailsType": "PersonByIdentifier",
                    "personById": {"firstName": "Anna", "lastName": "Nowak"},
                },
            }
        ),
        access_token=at_home,
    )
    assert done(indirect.reference_number, at_home) == 200

    # The owner revokes the office's grant: the office's token is refused from then on.
    (office_grant,) = [p for p in listed.permissions if p.authorized_identifier.value == office]
    revoked = ksef.permissions.revoke_common_permission(office_grant.id, access_token=owner)
    assert done(revoked.reference_number, owner) == 200
    with pytest.raises(KsefHttpError) as refused:
        ksef.invoices.query_invoice_metadata_by_date_range(
            subject_type="Subject2", date_type="Invoicing", date_from=window, access_token=as_office
        )
    assert refused.value.status_code == 401


def _value(enum_or_text: Any) -> str:
    return str(getattr(enum_or_text, "value", enum_or_text))


def _fingerprint(certificate_pem: str) -> str:
    """SHA-256 of the certificate's DER, upper-case hex: how KSeF names a certificate's holder."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    return certificate.fingerprint(hashes.SHA256()).hex().upper()


def _internal_id(nip: str, unit: str) -> str:
    """``<NIP>-<4 digits><check digit>``: the digits weighted 1, 3, 1, 3… summed modulo 10 (the spec's
    algorithm in ``POST /permissions/subunits/grants``)."""
    digits = nip + unit
    check = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10
    return f"{nip}-{unit}{check}"


def _done(ksef: KsefClient, reference: str, access: str) -> int:
    status = _poll(
        lambda: ksef.permissions.get_operation_status(reference, access_token=access),
        lambda s: s.status.code != 100,
    )
    return int(status.status.code)


def test_the_ksef_client_package_drives_entity_authorizations_subunits_and_eu_entities(
    ksef: KsefClient,
) -> None:
    """The permission operations added for issue 23, each through the package's own method: an entity
    authorization (SelfInvoicing) granted, listed by both sides and revoked; a VAT group names the
    administrator of a member and of an internal unit and lists its members; an owner names the
    administrator of an EU entity, who logs in to the composite context by certificate fingerprint and
    names a representative there."""
    from ksef_client.models import (
        EntityAuthorizationPermissionsGrantRequest,
        EntityAuthorizationPermissionsQueryRequest,
        EuEntityAdministrationPermissionsGrantRequest,
        EuEntityPermissionsGrantRequest,
        EuEntityPermissionsQueryRequest,
        SubjectCreateRequest,
        SubordinateEntityRolesQueryRequest,
        SubunitPermissionsGrantRequest,
        SubunitPermissionsQueryRequest,
    )

    config_update(permission_operation_delay=dt.timedelta(milliseconds=200))
    rng = random.Random()
    seller, buyer, group, member = (nip_random(rng) for _ in range(4))
    auth = AuthCoordinator(ksef.auth)
    as_seller = _xades_login(ksef, auth, seller, *_self_signed_certificate(seller)).access_token
    as_buyer = _xades_login(ksef, auth, buyer, *_self_signed_certificate(buyer)).access_token

    # Entity authorization: the buyer may self-invoice on the seller's behalf.
    granted = ksef.permissions.grant_authorization(
        EntityAuthorizationPermissionsGrantRequest.from_dict(
            {
                "subjectIdentifier": {"type": "Nip", "value": buyer},
                "permission": "SelfInvoicing",
                "description": "Samofakturowanie przez nabywcę",
                "subjectDetails": {"fullName": "Nabywca Sp. z o.o."},
            }
        ),
        access_token=as_seller,
    )
    assert _done(ksef, granted.reference_number, as_seller) == 200
    given = ksef.permissions.query_authorizations_grants(
        EntityAuthorizationPermissionsQueryRequest.from_dict({"queryType": "Granted"}),
        page_offset=0,
        page_size=10,
        access_token=as_seller,
    )
    (grant,) = given.authorization_grants
    assert (grant.authorized_entity_identifier.value, _value(grant.authorization_scope)) == (
        buyer,
        "SelfInvoicing",
    )
    received = ksef.permissions.query_authorizations_grants(
        EntityAuthorizationPermissionsQueryRequest.from_dict(
            {"queryType": "Received", "authorizingIdentifier": {"type": "Nip", "value": seller}}
        ),
        access_token=as_buyer,
    )
    assert [g.id for g in received.authorization_grants] == [grant.id]
    revoked = ksef.permissions.revoke_authorization(grant.id, access_token=as_seller)
    assert _done(ksef, revoked.reference_number, as_seller) == 200
    after = ksef.permissions.query_authorizations_grants(
        EntityAuthorizationPermissionsQueryRequest.from_dict({"queryType": "Received"}), access_token=as_buyer
    )
    assert after.authorization_grants == []

    # A VAT group and its member (test data), the group's administrators of the member and of a unit.
    ksef.testdata.create_subject(
        SubjectCreateRequest.from_dict(
            {
                "subjectNip": group,
                "subjectType": "VatGroup",
                "description": "Grupa VAT (ksef-client)",
                "subunits": [{"subjectNip": member, "description": "Członek grupy VAT"}],
            }
        )
    )
    as_group = _xades_login(ksef, auth, group, *_self_signed_certificate(group)).access_token
    members = ksef.permissions.query_subordinate_entities_roles(
        SubordinateEntityRolesQueryRequest(), page_offset=0, page_size=10, access_token=as_group
    )
    assert [(r.subordinate_entity_identifier.value, _value(r.role)) for r in members.roles] == [
        (member, "VatGroupSubUnit")
    ]
    person = {
        "subjectDetailsType": "PersonByIdentifier",
        "personById": {"firstName": "Jan", "lastName": "Kowal"},
    }
    unit = _internal_id(group, "0042")
    for context, name in (
        ({"type": "Nip", "value": member}, None),
        ({"type": "InternalId", "value": unit}, "Oddział Kraków"),
    ):
        body: dict[str, Any] = {
            "subjectIdentifier": {"type": "Pesel", "value": "90010100009"},
            "contextIdentifier": context,
            "description": "Administrator jednostki",
            "subjectDetails": person,
        }
        if name:
            body["subunitName"] = name
        operation = ksef.permissions.grant_subunit(
            SubunitPermissionsGrantRequest.from_dict(body), access_token=as_group
        )
        assert _done(ksef, operation.reference_number, as_group) == 200
    admins = ksef.permissions.query_subunits_grants(SubunitPermissionsQueryRequest(), access_token=as_group)
    assert sorted(p.subunit_identifier.value for p in admins.permissions) == sorted([member, unit])
    assert {_value(p.permission_scope) for p in admins.permissions} == {"CredentialsManage"}
    only_unit = ksef.permissions.query_subunits_grants(
        SubunitPermissionsQueryRequest.from_dict(
            {"subunitIdentifier": {"type": "InternalId", "value": unit}}
        ),
        access_token=as_group,
    )
    assert [p.subunit_name for p in only_unit.permissions] == ["Oddział Kraków"]

    # The EU entity's administrator: a certificate named by its fingerprint, the composite context.
    admin_certificate, admin_key = _self_signed_certificate(nip_random(rng))
    composite = f"{seller}-DE123456789"
    operation = ksef.permissions.grant_eu_entity_admin(
        EuEntityAdministrationPermissionsGrantRequest.from_dict(
            {
                "subjectIdentifier": {"type": "Fingerprint", "value": _fingerprint(admin_certificate)},
                "contextIdentifier": {"type": "NipVatUe", "value": composite},
                "description": "Administrator podmiotu unijnego",
                "euEntityName": "Firma G.m.b.H.",
                "subjectDetails": {
                    "subjectDetailsType": "PersonByFingerprintWithIdentifier",
                    "personByFpWithId": {
                        "firstName": "Hans",
                        "lastName": "Müller",
                        "identifier": {"type": "Pesel", "value": "90010100009"},
                    },
                },
                "euEntityDetails": {"fullName": "Firma G.m.b.H.", "address": "Berlin, Unter den Linden 1"},
            }
        ),
        access_token=as_seller,
    )
    assert _done(ksef, operation.reference_number, as_seller) == 200
    listed = ksef.permissions.query_eu_entities_grants(
        EuEntityPermissionsQueryRequest(), access_token=as_seller
    )
    assert sorted(_value(p.permission_scope) for p in listed.permissions) == sorted(
        ["VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection"]
    )
    as_admin = _xades_login(
        ksef, auth, composite, admin_certificate, admin_key,
        context_type="nipVatUe", subject_type="certificateFingerprint",
    ).access_token  # fmt: skip
    representative_certificate, _ = _self_signed_certificate(nip_random(rng))
    operation = ksef.permissions.grant_eu_entity(
        EuEntityPermissionsGrantRequest.from_dict(
            {
                "subjectIdentifier": {
                    "type": "Fingerprint",
                    "value": _fingerprint(representative_certificate),
                },
                "permissions": ["InvoiceRead"],
                "description": "Reprezentant podmiotu unijnego",
                "subjectDetails": {
                    "subjectDetailsType": "EntityByFingerprint",
                    "entityByFp": {"fullName": "Firma G.m.b.H.", "address": "Berlin, Unter den Linden 1"},
                },
            }
        ),
        access_token=as_admin,
    )
    assert _done(ksef, operation.reference_number, as_admin) == 200
    inside = ksef.permissions.query_eu_entities_grants(
        EuEntityPermissionsQueryRequest.from_dict(
            {"authorizedFingerprintIdentifier": _fingerprint(representative_certificate)}
        ),
        access_token=as_admin,
    )
    assert [(_value(p.permission_scope), p.vat_ue_identifier) for p in inside.permissions] == [
        ("InvoiceRead", "DE123456789")
    ]


def test_the_ksef_client_package_drives_collective_identifiers_peppol_and_the_attachment_consent(
    ksef: KsefClient, client: Any
) -> None:
    """Collective identifiers (generate, query, invoices with and without their details, by KSeF number),
    the Peppol providers (an empty page, then one registered), and the attachment consent."""
    from ksef_client.models import AttachmentPermissionGrantRequest, AttachmentPermissionRevokeRequest

    from ksef_simulator.services_invoices import invoice_store_incoming

    rng = random.Random()
    seller, buyer, stranger = (nip_random(rng) for _ in range(3))
    today = processing.warsaw_date(processing.now())

    def issued(by: str, number: str) -> str:
        xml = fa3_build(
            seller_nip=by, buyer_nip=buyer, number=number, issue_date=today, net=Decimal("100.00")
        )
        return invoice_store_incoming(xml_bytes=xml)

    first, second = issued(seller, "FV/1/IZ"), issued(seller, "FV/2/IZ")
    auth = AuthCoordinator(ksef.auth)
    as_buyer = _xades_login(ksef, auth, buyer, *_self_signed_certificate(buyer)).access_token

    made = ksef.collective_identifiers.generate_for_ksef_numbers(
        [first, second], descriptions=["Faktura 1", "Faktura 2"], access_token=as_buyer
    )
    number = made.collective_identifier_number
    assert number.startswith(f"{seller}-IZ{today:%Y%m}-")
    window = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    found = ksef.collective_identifiers.query_by_created_range(window, until, access_token=as_buyer)
    assert [
        (i.collective_identifier_number, i.invoice_count, i.created_in_current_context)
        for i in found.collective_identifiers
    ] == [(number, 2, True)]
    invoices = ksef.collective_identifiers.list_invoices(number, access_token=as_buyer)
    assert sorted((i.ksef_number, i.description, i.details_hidden) for i in invoices.invoices) == sorted(
        [(first, "Faktura 1", False), (second, "Faktura 2", False)]
    )
    by_invoice = ksef.collective_identifiers.list_by_ksef_number(first, access_token=as_buyer)
    assert [i.collective_identifier_number for i in by_invoice.collective_identifiers] == [number]

    # The seller sees the identifier of its sales; someone else sees its invoices without the details.
    as_seller = _xades_login(ksef, auth, seller, *_self_signed_certificate(seller)).access_token
    theirs = ksef.collective_identifiers.query_by_created_range(window, until, access_token=as_seller)
    assert [
        (i.collective_identifier_number, i.created_in_current_context) for i in theirs.collective_identifiers
    ] == [(number, False)]
    as_stranger = _xades_login(ksef, auth, stranger, *_self_signed_certificate(stranger)).access_token
    hidden = ksef.collective_identifiers.list_invoices(number, access_token=as_stranger)
    assert {(i.description, i.details_hidden) for i in hidden.invoices} == {(None, True)}

    # Peppol providers: none registered is an empty page; one registered (control API) is listed.
    assert client.delete("/ksef-sim/control/peppol-providers").status_code == 200
    empty = ksef.peppol.list_providers()
    assert (empty.peppol_providers, empty.has_more) == ([], False)
    registered = client.post(
        "/ksef-sim/control/peppol-providers",
        {"id": "PPL123456", "name": "Dostawca usług Peppol"},
        content_type="application/json",
    )
    assert registered.status_code == 201
    providers = ksef.peppol.list_providers(page_offset=0, page_size=10)
    assert [(p.id, p.name) for p in providers.peppol_providers] == [("PPL123456", "Dostawca usług Peppol")]

    # The consent to issue invoices with attachments: given, read, revoked.
    assert ksef.permissions.check_attachment_permission_status(as_seller).is_attachment_allowed is False
    ksef.testdata.enable_attachment(AttachmentPermissionGrantRequest.from_dict({"nip": seller}))
    assert ksef.permissions.check_attachment_permission_status(as_seller).is_attachment_allowed is True
    ksef.testdata.disable_attachment(AttachmentPermissionRevokeRequest.from_dict({"nip": seller}))
    assert ksef.permissions.check_attachment_permission_status(as_seller).is_attachment_allowed is False
