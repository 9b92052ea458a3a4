"""Online sessions (ksef-api.md §6): open, send an encrypted invoice, invoice and session status, close,
UPO downloads (pre-signed URLs without Authorization) and the failed-invoice list."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ksef_integration.ksef._values import as_dict, as_list, parse_datetime_opt, require, str_list
from ksef_integration.ksef.auth import PollPolicy
from ksef_integration.ksef.crypto import AesKey, b64, sha256_b64
from ksef_integration.ksef.errors import KsefDuplicate, KsefRejected, KsefTransientError
from ksef_integration.ksef.http import KsefHttp
from ksef_integration.ksef.keys import SYMMETRIC_KEY_ENCRYPTION, PublicKeyCertificate, PublicKeyStore
from ksef_integration.ksef.secret import Secret

DUPLICATE = 440
TRANSIENT_STATUSES = frozenset({500, 550})
SESSION_POLL = PollPolicy(timeout=300.0)


@dataclass(frozen=True)
class FormCode:
    system_code: str
    schema_version: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"systemCode": self.system_code, "schemaVersion": self.schema_version, "value": self.value}


FA3 = FormCode(system_code="FA (3)", schema_version="1-0E", value="FA")


@dataclass(frozen=True)
class OnlineSession:
    """An open online session. ``aes`` must be kept for as long as invoices are sent in it."""

    reference_number: str
    valid_until: datetime | None
    aes: AesKey = field(repr=False)
    form_code: FormCode = FA3


@dataclass(frozen=True)
class SentInvoice:
    """What ``invoice_send`` sent: keep ``reference_number`` at once; ``invoice_hash`` identifies the file."""

    reference_number: str
    invoice_hash: str
    invoice_size: int


@dataclass(frozen=True)
class InvoiceStatus:
    """``SessionInvoiceStatusResponse``."""

    reference_number: str
    code: int
    description: str
    details: tuple[str, ...]
    extensions: dict[str, str | None]
    ordinal_number: int | None
    invoice_number: str | None
    ksef_number: str | None
    invoice_hash: str | None
    invoice_file_name: str | None
    acquisition_date: datetime | None
    invoicing_date: datetime | None
    permanent_storage_date: datetime | None
    upo_download_url: str | None
    invoicing_mode: str | None

    @property
    def is_final(self) -> bool:
        return self.code >= 200

    @property
    def is_success(self) -> bool:
        return self.code == 200

    def raise_for_failure(self) -> None:
        """440 → ``KsefDuplicate``; 500/550 → transient; other codes ≥ 400 → ``KsefRejected``."""
        if self.code == DUPLICATE:
            raise KsefDuplicate(
                original_ksef_number=self.extensions.get("originalKsefNumber"),
                original_session_reference=self.extensions.get("originalSessionReferenceNumber"),
            )
        if self.code in TRANSIENT_STATUSES:
            raise KsefTransientError(f"KSeF could not process the invoice ({self.code})", status=self.code)
        if self.code >= 400:
            raise KsefRejected(self.code, self.details, description=self.description)


def invoice_status_parse(data: Any) -> InvoiceStatus:
    status = as_dict(require(data, "status"))
    extensions = {
        str(k): (None if v is None else str(v)) for k, v in as_dict(status.get("extensions")).items()
    }
    return InvoiceStatus(
        reference_number=str(require(data, "referenceNumber")),
        code=int(require(status, "code")),
        description=str(status.get("description") or ""),
        details=tuple(str_list(status.get("details"))),
        extensions=extensions,
        ordinal_number=data.get("ordinalNumber"),
        invoice_number=data.get("invoiceNumber"),
        ksef_number=data.get("ksefNumber"),
        invoice_hash=data.get("invoiceHash"),
        invoice_file_name=data.get("invoiceFileName"),
        acquisition_date=parse_datetime_opt(data.get("acquisitionDate")),
        invoicing_date=parse_datetime_opt(data.get("invoicingDate")),
        permanent_storage_date=parse_datetime_opt(data.get("permanentStorageDate")),
        upo_download_url=data.get("upoDownloadUrl"),
        invoicing_mode=data.get("invoicingMode"),
    )


@dataclass(frozen=True)
class UpoPage:
    reference_number: str
    download_url: str
    download_url_expiration_date: datetime | None


@dataclass(frozen=True)
class SessionStatus:
    """``SessionStatusResponse`` (online and batch)."""

    code: int
    description: str
    details: tuple[str, ...]
    date_created: datetime | None
    date_updated: datetime | None
    valid_until: datetime | None
    upo_pages: tuple[UpoPage, ...]
    invoice_count: int | None
    successful_invoice_count: int | None
    failed_invoice_count: int | None

    @property
    def is_final(self) -> bool:
        return self.code >= 200


def session_status_parse(data: Any) -> SessionStatus:
    status = as_dict(require(data, "status"))
    pages = tuple(
        UpoPage(
            reference_number=str(require(page, "referenceNumber")),
            download_url=str(require(page, "downloadUrl")),
            download_url_expiration_date=parse_datetime_opt(as_dict(page).get("downloadUrlExpirationDate")),
        )
        for page in as_list(as_dict(data.get("upo")).get("pages"))
    )
    return SessionStatus(
        code=int(require(status, "code")),
        description=str(status.get("description") or ""),
        details=tuple(str_list(status.get("details"))),
        date_created=parse_datetime_opt(data.get("dateCreated")),
        date_updated=parse_datetime_opt(data.get("dateUpdated")),
        valid_until=parse_datetime_opt(data.get("validUntil")),
        upo_pages=pages,
        invoice_count=data.get("invoiceCount"),
        successful_invoice_count=data.get("successfulInvoiceCount"),
        failed_invoice_count=data.get("failedInvoiceCount"),
    )


class Sessions:
    """Online-session endpoints and the session status/UPO endpoints shared with batch sessions."""

    def __init__(
        self,
        *,
        http: KsefHttp,
        keys: PublicKeyStore,
        bearer: Callable[[], Secret],
        poll: PollPolicy = SESSION_POLL,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._keys = keys
        self._bearer = bearer
        self._poll = poll
        self._sleep = sleep
        self._monotonic = monotonic

    def online_open(self, *, form_code: FormCode = FA3, aes: AesKey | None = None) -> OnlineSession:
        """``POST /sessions/online`` with a fresh AES key (wrapped for KSeF's SymmetricKeyEncryption key)."""
        key = aes or AesKey.generate()

        def send(certificate: PublicKeyCertificate) -> Any:
            body = {
                "formCode": form_code.to_json(),
                "encryption": key.encryption_json(
                    public_key=certificate.public_key(), public_key_id=certificate.public_key_id
                ),
            }
            return self._http.call(
                "POST", "/sessions/online", bearer=self._bearer(), json_body=body, expect=(201, 200)
            )

        data = self._keys.with_key(usage=SYMMETRIC_KEY_ENCRYPTION, call=send)
        return OnlineSession(
            reference_number=str(require(data, "referenceNumber")),
            valid_until=parse_datetime_opt(data.get("validUntil")),
            aes=key,
            form_code=form_code,
        )

    def invoice_send(
        self,
        *,
        session: OnlineSession,
        xml: bytes,
        offline_mode: bool = False,
        hash_of_corrected_invoice: str | None = None,
    ) -> SentInvoice:
        """Encrypt and send one invoice; returns at once with its reference number (processing is async)."""
        encrypted = session.aes.encrypt(xml)
        body: dict[str, Any] = {
            "invoiceHash": sha256_b64(xml),
            "invoiceSize": len(xml),
            "encryptedInvoiceHash": sha256_b64(encrypted),
            "encryptedInvoiceSize": len(encrypted),
            "encryptedInvoiceContent": b64(encrypted),
            "offlineMode": offline_mode,
        }
        if hash_of_corrected_invoice:
            body["hashOfCorrectedInvoice"] = hash_of_corrected_invoice
        data = self._http.call(
            "POST",
            f"/sessions/online/{session.reference_number}/invoices",
            bearer=self._bearer(),
            json_body=body,
            expect=(202, 200),
        )
        return SentInvoice(
            reference_number=str(require(data, "referenceNumber")),
            invoice_hash=body["invoiceHash"],
            invoice_size=len(xml),
        )

    def invoice_status(self, *, session_reference: str, invoice_reference: str) -> InvoiceStatus:
        data = self._http.call(
            "GET", f"/sessions/{session_reference}/invoices/{invoice_reference}", bearer=self._bearer()
        )
        return invoice_status_parse(data)

    def invoice_wait(self, *, session_reference: str, invoice_reference: str) -> InvoiceStatus:
        """Poll until processed; a success is returned, failures raise (440 → ``KsefDuplicate``)."""
        status = self._poll_until(
            lambda: self.invoice_status(
                session_reference=session_reference, invoice_reference=invoice_reference
            )
        )
        status.raise_for_failure()
        return status

    def online_close(self, *, session_reference: str) -> None:
        self._http.call(
            "POST", f"/sessions/online/{session_reference}/close", bearer=self._bearer(), expect=(204, 200)
        )

    def session_status(self, *, session_reference: str) -> SessionStatus:
        return session_status_parse(
            self._http.call("GET", f"/sessions/{session_reference}", bearer=self._bearer())
        )

    def session_wait(self, *, session_reference: str) -> SessionStatus:
        """Poll until the session reaches a final status (codes ≥ 200, returned as they are)."""
        return self._poll_until(lambda: self.session_status(session_reference=session_reference))

    def invoices_failed(self, *, session_reference: str, page_size: int = 100) -> Iterator[InvoiceStatus]:
        """The rejected invoices of a session, following ``continuationToken``."""
        yield from self._invoice_pages(f"/sessions/{session_reference}/invoices/failed", page_size=page_size)

    def invoices(self, *, session_reference: str, page_size: int = 100) -> Iterator[InvoiceStatus]:
        yield from self._invoice_pages(f"/sessions/{session_reference}/invoices", page_size=page_size)

    def _invoice_pages(self, path: str, *, page_size: int) -> Iterator[InvoiceStatus]:
        continuation: str | None = None
        seen: set[str] = set()
        while True:
            headers = {"x-continuation-token": continuation} if continuation else None
            data = self._http.call(
                "GET", path, bearer=self._bearer(), params={"pageSize": page_size}, headers=headers
            )
            for item in as_list(as_dict(data).get("invoices")):
                yield invoice_status_parse(item)
            continuation = as_dict(data).get("continuationToken") or None
            if not continuation or continuation in seen:
                return
            seen.add(continuation)

    # --- UPO ----------------------------------------------------------------------------------------

    def upo_download(self, *, url: str) -> bytes:
        """A UPO from a pre-signed URL (session page or ``upoDownloadUrl``), fetched without Authorization."""
        return self._http.external("GET", url, expect=(200,)).content

    def invoice_upo(self, *, session_reference: str, invoice_reference: str) -> bytes:
        """``GET /sessions/{ref}/invoices/{invoiceRef}/upo`` (Bearer) as XML bytes."""
        response = self._http.call_raw(
            "GET",
            f"/sessions/{session_reference}/invoices/{invoice_reference}/upo",
            bearer=self._bearer(),
            headers={"Accept": "application/xml"},
        )
        return response.content

    def invoice_upo_by_ksef(self, *, session_reference: str, ksef_number: str) -> bytes:
        """``GET /sessions/{ref}/invoices/ksef/{ksefNumber}/upo`` (Bearer): e.g. the original of a 440."""
        response = self._http.call_raw(
            "GET",
            f"/sessions/{session_reference}/invoices/ksef/{ksef_number}/upo",
            bearer=self._bearer(),
            headers={"Accept": "application/xml"},
        )
        return response.content

    def session_upo(self, *, session_reference: str, upo_reference: str) -> bytes:
        response = self._http.call_raw(
            "GET",
            f"/sessions/{session_reference}/upo/{upo_reference}",
            bearer=self._bearer(),
            headers={"Accept": "application/xml"},
        )
        return response.content

    def _poll_until(self, fetch: Callable[[], Any]) -> Any:
        deadline = self._monotonic() + self._poll.timeout
        for delay in self._poll.delays():
            status = fetch()
            if status.is_final:
                return status
            if self._monotonic() + delay > deadline:
                raise KsefTransientError("KSeF is still processing; check the status again later")
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
