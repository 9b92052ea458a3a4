"""The client against the KSeF simulator over real HTTP (``live_server``): keys, both logins, a KSeF
token's permissions, an online session with UPO, duplicates, and the incremental import."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ksef_integration.ksef.auth import PollPolicy
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.environments import simulator
from ksef_integration.ksef.errors import (
    KsefAuthError,
    KsefDuplicate,
    KsefError,
    KsefNotYetAvailable,
    KsefRateLimited,
    KsefTransientError,
)
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken
from ksef_integration.ksef.invoices import InvoiceFilters
from ksef_integration.ksef.keys import SYMMETRIC_KEY_ENCRYPTION, TOKEN_ENCRYPTION
from ksef_integration.ksef.numbers import ksef_number_is_valid, nip_is_valid, reference_number_looks_valid
from tests.ksef_integration.ksef.conftest import rsa_key, self_signed

pytestmark = pytest.mark.django_db(transaction=True)

FAST = PollPolicy(initial=0.2, factor=1.5, maximum=1.0, timeout=30.0)


def random_nip() -> str:
    while True:
        first9 = str(random.randint(100_000_000, 999_999_999))
        check = sum(int(d) * w for d, w in zip(first9, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
        nip = first9 + str(check)
        if check != 10 and nip_is_valid(nip):
            return nip


def seal(nip: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """A self-signed company seal for ``nip`` (accepted on TE-like environments)."""
    return self_signed(
        key,
        name=f"Firma {nip}",
        extra=[
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Firma {nip}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ],
    )


def invoice_xml(*, seller_nip: str, number: str) -> bytes:
    today = datetime.now(tz=UTC)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek>
    <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>
    <WariantFormularza>3</WariantFormularza>
    <DataWytworzeniaFa>{today:%Y-%m-%dT%H:%M:%SZ}</DataWytworzeniaFa>
  </Naglowek>
  <Podmiot1>
    <DaneIdentyfikacyjne><NIP>{seller_nip}</NIP><Nazwa>Sprzedawca Testowy</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Testowa 1, 00-001 Warszawa</AdresL1></Adres>
  </Podmiot1>
  <Podmiot2>
    <DaneIdentyfikacyjne><NIP>5265877635</NIP><Nazwa>Nabywca Testowy</Nazwa></DaneIdentyfikacyjne>
    <JST>2</JST>
    <GV>2</GV>
  </Podmiot2>
  <Fa>
    <KodWaluty>PLN</KodWaluty>
    <P_1>{today:%Y-%m-%d}</P_1>
    <P_2>{number}</P_2>
    <P_13_1>100.00</P_13_1>
    <P_14_1>23.00</P_14_1>
    <P_15>123.00</P_15>
    <Adnotacje>
      <P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>2</P_18A>
      <Zwolnienie><P_19N>1</P_19N></Zwolnienie>
      <NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu>
      <P_23>2</P_23>
      <PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy>
    </Adnotacje>
    <RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz>
      <NrWierszaFa>1</NrWierszaFa><P_7>Usługa testowa</P_7><P_8A>szt.</P_8A><P_8B>1</P_8B>
      <P_9A>100.00</P_9A><P_11>100.00</P_11><P_12>23</P_12>
    </FaWiersz>
  </Fa>
</Faktura>
""".encode()


@pytest.fixture
def sim_url(live_server: Any) -> str:
    return live_server.url + "/ksef-sim/v2"


def new_client(sim_url: str) -> KsefClient:
    return KsefClient(environment=simulator(api_url=sim_url), poll=FAST)


def certificate_login(sim_url: str, nip: str) -> KsefClient:
    client = new_client(sim_url)
    key = rsa_key(4)
    client.login_with_certificate(
        certificate=seal(nip, key), private_key=key, context=ContextIdentifier.nip(nip)
    )
    return client


def mint_token(client: KsefClient, permissions: list[str]) -> KsefToken:
    """``POST /tokens`` (what "Tokeny → Generuj token" does) and wait until the token is Active."""
    data = client.http.call(
        "POST",
        "/tokens",
        bearer=client.access_token(),
        json_body={"permissions": permissions, "description": "Portal KSeF - test"},
        expect=(202,),
    )
    token = KsefToken.parse(data["token"])
    deadline = time.monotonic() + 20
    while client.token_get(reference_number=token.reference_number).status != "Active":
        assert time.monotonic() < deadline, "the token never became active"
        time.sleep(0.2)
    return token


def test_public_keys_are_fetched_and_selected(sim_url: str):
    client = new_client(sim_url)
    certificates = client.keys.fetch()
    assert certificates
    token_key = client.keys.get(usage=TOKEN_ENCRYPTION)
    symmetric_key = client.keys.get(usage=SYMMETRIC_KEY_ENCRYPTION)
    assert token_key.public_key_id != symmetric_key.public_key_id
    assert len(token_key.public_key_id) == 44
    assert token_key.public_key().key_size >= 2048
    now = datetime.now(tz=UTC)
    assert token_key.is_valid_at(now)
    assert symmetric_key.is_valid_at(now)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_certificate_login_then_token_login_and_permissions(sim_url: str, kind: str):
    nip = random_nip()
    owner = new_client(sim_url)
    key = rsa_key(4) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    owner.login_with_certificate(
        certificate=seal(nip, key), private_key=key, context=ContextIdentifier.nip(nip)
    )
    token = mint_token(owner, ["InvoiceRead", "InvoiceWrite"])
    assert token.context_nip == nip

    client = new_client(sim_url)
    tokens = client.login_with_token(token=token.secret.reveal())
    assert tokens.access_valid_until > datetime.now(tz=UTC)
    assert tokens.refresh_valid_until > tokens.access_valid_until
    assert reference_number_looks_valid(tokens.reference_number or "")
    info = client.token_get(reference_number=token.reference_number)
    assert info.is_active
    assert set(info.permissions) == {"InvoiceRead", "InvoiceWrite"}

    refreshed = client.refresh()
    assert refreshed.access_token != tokens.access_token
    client.logout()
    with pytest.raises(KsefError):
        client.auth.refresh(tokens=refreshed)


def test_a_damaged_token_fails_with_a_plain_message(sim_url: str):
    nip = random_nip()
    token = mint_token(certificate_login(sim_url, nip), ["InvoiceRead"])
    reference, context, secret = token.secret.reveal().split("|")
    damaged = f"{reference}|{context}|{'0' if secret[0] != '0' else '1'}{secret[1:]}"
    with pytest.raises(KsefAuthError) as caught:
        new_client(sim_url).login_with_token(token=damaged)
    assert caught.value.code == 450
    assert caught.value.message_pl
    assert caught.value.message_en
    assert secret[8:] not in str(caught.value)


def test_send_an_invoice_get_upo_and_import_it(sim_url: str):
    nip = random_nip()
    token = mint_token(certificate_login(sim_url, nip), ["InvoiceRead", "InvoiceWrite"])
    client = new_client(sim_url)
    client.login_with_token(token=token)
    started = datetime.now(tz=UTC) - timedelta(minutes=1)
    xml = invoice_xml(seller_nip=nip, number=f"FV/{uuid.uuid4().hex[:8]}/2026")

    session = client.sessions.online_open()
    sent = client.sessions.invoice_send(session=session, xml=xml)
    status = client.sessions.invoice_wait(
        session_reference=session.reference_number, invoice_reference=sent.reference_number
    )
    assert status.ksef_number is not None
    assert ksef_number_is_valid(status.ksef_number)
    assert status.ksef_number.startswith(nip)
    assert status.invoice_hash == sent.invoice_hash
    invoice_upo = client.sessions.invoice_upo(
        session_reference=session.reference_number, invoice_reference=sent.reference_number
    )
    assert status.ksef_number.encode() in invoice_upo
    assert status.upo_download_url
    assert client.sessions.upo_download(url=status.upo_download_url) == invoice_upo

    again = client.sessions.invoice_send(session=session, xml=xml)
    with pytest.raises(KsefDuplicate) as duplicate:
        client.sessions.invoice_wait(
            session_reference=session.reference_number, invoice_reference=again.reference_number
        )
    assert duplicate.value.original_ksef_number == status.ksef_number

    client.sessions.online_close(session_reference=session.reference_number)
    final = client.sessions.session_wait(session_reference=session.reference_number)
    assert final.code == 200
    assert final.upo_pages
    upo = client.sessions.session_upo(
        session_reference=session.reference_number, upo_reference=final.upo_pages[0].reference_number
    )
    assert status.ksef_number.encode() in upo
    assert client.sessions.upo_download(url=final.upo_pages[0].download_url) == upo

    # The simulator's HWM lags "now"; wait until the invoice is below it, then import our own sales.
    deadline = time.monotonic() + 30
    found: dict[str, bytes] = {}
    while not found and time.monotonic() < deadline:
        windows = list(client.incremental_sync(subject_type="Subject1", checkpoint=started))
        found = {n: x for w in windows for n, x in w.invoices.items() if n == status.ksef_number}
        if not found:
            time.sleep(1)
    assert found == {status.ksef_number: xml}


def test_unreachable_simulator_is_transient():
    client = KsefClient(environment=simulator(api_url="http://127.0.0.1:9/ksef-sim/v2"), poll=FAST)
    with pytest.raises(KsefError) as caught:
        client.keys.fetch()
    assert isinstance(caught.value.__cause__, requests.RequestException)


def token_client(sim_url: str, permissions: list[str]) -> tuple[KsefClient, str]:
    nip = random_nip()
    token = mint_token(certificate_login(sim_url, nip), permissions)
    client = new_client(sim_url)
    client.login_with_token(token=token)
    return client, nip


def test_batch_session_in_several_parts(sim_url: str):
    client, nip = token_client(sim_url, ["InvoiceWrite", "InvoiceRead"])
    files = {
        f"fv-{i}.xml": invoice_xml(seller_nip=nip, number=f"FV/B{i}/{uuid.uuid4().hex[:6]}") for i in range(3)
    }
    session = client.batches.batch_send(files=files, part_size=1500)
    assert len(session.parts) > 1
    final = client.sessions.session_wait(session_reference=session.reference_number)
    assert final.code == 200, final
    statuses = list(client.sessions.invoices(session_reference=session.reference_number))
    assert sorted(s.invoice_file_name or "" for s in statuses) == sorted(files)
    assert all(s.is_success and ksef_number_is_valid(s.ksef_number or "") for s in statuses)
    assert list(client.sessions.invoices_failed(session_reference=session.reference_number)) == []

    # Each invoice can be downloaded by its KSeF number once it is permanently stored.
    number = statuses[0].ksef_number or ""
    deadline = time.monotonic() + 20
    while True:
        try:
            downloaded = client.invoices.invoice_download(ksef_number=number)
            break
        except KsefNotYetAvailable:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert downloaded == files[statuses[0].invoice_file_name or ""]


def test_metadata_query_finds_sent_invoices(sim_url: str):
    client, nip = token_client(sim_url, ["InvoiceWrite", "InvoiceRead"])
    started = datetime.now(tz=UTC) - timedelta(minutes=1)
    session = client.sessions.online_open()
    numbers = set()
    for i in range(2):
        xml = invoice_xml(seller_nip=nip, number=f"FV/M{i}/{uuid.uuid4().hex[:6]}")
        sent = client.sessions.invoice_send(session=session, xml=xml)
        status = client.sessions.invoice_wait(
            session_reference=session.reference_number, invoice_reference=sent.reference_number
        )
        numbers.add(status.ksef_number)
    deadline = time.monotonic() + 20
    found: set[str | None] = set()
    while found != numbers and time.monotonic() < deadline:
        filters = InvoiceFilters(subject_type="Subject1", date_from=started, date_type="Invoicing")
        found = {m.ksef_number for m in client.invoices.metadata_query(filters=filters, page_size=10)}
        time.sleep(0.3)
    assert found == numbers


def arm_fault(sim_url: str, **rule: Any) -> None:
    control = sim_url.removesuffix("/v2") + "/control/faults"
    response = requests.post(control, json=rule, timeout=5)
    assert response.status_code in (200, 201), response.text


def test_simulated_429_and_503_map_onto_the_error_tree(sim_url: str):
    client = new_client(sim_url)
    arm_fault(sim_url, pattern="security.*", action="429", count=1, seconds=7)
    with pytest.raises(KsefRateLimited) as limited:
        client.keys.fetch()
    assert limited.value.retry_after == 7
    arm_fault(sim_url, pattern="security.*", action="503", count=1)
    with pytest.raises(KsefTransientError) as unavailable:
        client.keys.fetch()
    assert unavailable.value.status == 503
    assert client.keys.fetch()  # the faults were used up
