"""Invoice exports (ksef-api.md §8.3) and the incremental, HWM-based download of §8.4.

``incremental_sync`` yields one ``SyncWindow`` per export: the invoices of that window and the checkpoint
to store *after* they are committed. Windows are contiguous: each starts where the previous one ended.
It is the only such loop: a caller that must survive a crash mid-window passes ``SyncHooks`` to keep the
export in flight and resume it.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ksef_integration.ksef._values import as_dict, as_list, parse_datetime_opt, require, str_list
from ksef_integration.ksef.auth import PollPolicy
from ksef_integration.ksef.crypto import AesKey, sha256_b64
from ksef_integration.ksef.errors import KsefError, KsefGone, KsefNotFound, KsefRejected, KsefTransientError
from ksef_integration.ksef.http import KsefHttp
from ksef_integration.ksef.invoices import InvoiceFilters, InvoiceMetadata, invoice_metadata_parse
from ksef_integration.ksef.keys import SYMMETRIC_KEY_ENCRYPTION, PublicKeyCertificate, PublicKeyStore
from ksef_integration.ksef.secret import Secret

log = logging.getLogger("ksef")

EXPORT_IN_PROGRESS = 100
EXPORT_DONE = 200
EXPORT_EXPIRED = 210
EXPORT_BEYOND_HWM = 420
EXPORT_TRANSIENT = frozenset({500, 550})
MAX_WINDOW = timedelta(days=100)
MAX_MEMBER_SIZE = 64 * 1024 * 1024  # an invoice is at most 3 MB; anything far bigger is not an invoice
METADATA_FILE = "_metadata.json"
EXPORT_POLL = PollPolicy(initial=2.0, factor=1.5, maximum=15.0, timeout=600.0)
T = TypeVar("T")


@dataclass(frozen=True)
class ExportPart:
    ordinal_number: int
    part_name: str
    method: str
    url: str = field(repr=False)  # pre-signed
    part_size: int | None
    part_hash: str | None
    encrypted_part_size: int | None
    encrypted_part_hash: str | None
    expiration_date: datetime | None


@dataclass(frozen=True)
class ExportPackage:
    invoice_count: int
    size: int
    parts: tuple[ExportPart, ...]
    is_truncated: bool
    compression_type: str
    last_permanent_storage_date: datetime | None
    last_invoicing_date: datetime | None
    permanent_storage_hwm_date: datetime | None


@dataclass(frozen=True)
class ExportStatus:
    code: int
    description: str
    details: tuple[str, ...]
    completed_date: datetime | None
    package_expiration_date: datetime | None
    package: ExportPackage | None

    @property
    def in_progress(self) -> bool:
        return self.code < EXPORT_DONE


def export_status_parse(data: Any) -> ExportStatus:
    status = as_dict(require(data, "status"))
    package = None
    raw = data.get("package")
    if isinstance(raw, dict):
        parts = tuple(
            ExportPart(
                ordinal_number=int(require(part, "ordinalNumber")),
                part_name=str(as_dict(part).get("partName") or ""),
                method=str(as_dict(part).get("method") or "GET"),
                url=str(require(part, "url")),
                part_size=part.get("partSize"),
                part_hash=part.get("partHash"),
                encrypted_part_size=part.get("encryptedPartSize"),
                encrypted_part_hash=part.get("encryptedPartHash"),
                expiration_date=parse_datetime_opt(part.get("expirationDate")),
            )
            for part in as_list(raw.get("parts"))
        )
        package = ExportPackage(
            invoice_count=int(raw.get("invoiceCount") or 0),
            size=int(raw.get("size") or 0),
            parts=parts,
            is_truncated=bool(raw.get("isTruncated")),
            compression_type=str(raw.get("compressionType") or "Zip"),
            last_permanent_storage_date=parse_datetime_opt(raw.get("lastPermanentStorageDate")),
            last_invoicing_date=parse_datetime_opt(raw.get("lastInvoicingDate")),
            permanent_storage_hwm_date=parse_datetime_opt(raw.get("permanentStorageHwmDate")),
        )
    return ExportStatus(
        code=int(require(status, "code")),
        description=str(status.get("description") or ""),
        details=tuple(str_list(status.get("details"))),
        completed_date=parse_datetime_opt(data.get("completedDate")),
        package_expiration_date=parse_datetime_opt(data.get("packageExpirationDate")),
        package=package,
    )


@dataclass(frozen=True)
class ExportHandle:
    """A started export; keep ``aes`` with it, the parts can only be decrypted with that key and IV."""

    reference_number: str
    aes: AesKey = field(repr=False)


@dataclass(frozen=True)
class ExportContent:
    """An unpacked export: ``{ksefNumber: XML bytes}`` and the ``_metadata.json`` records."""

    invoices: dict[str, bytes] = field(repr=False)
    metadata: tuple[InvoiceMetadata, ...]


def archive_unpack(data: bytes, *, compression: str) -> ExportContent:
    """Read ``{ksefNumber}.xml`` files and ``_metadata.json`` from a Zip or tar.gz, in memory only."""
    files: dict[str, bytes] = {}
    try:
        if compression == "TarGz":
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for member in tar.getmembers():
                    if member.isfile() and member.size <= MAX_MEMBER_SIZE:
                        extracted = tar.extractfile(member)
                        if extracted is not None:
                            files[member.name.rsplit("/", 1)[-1]] = extracted.read()
        else:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if not info.is_dir() and info.file_size <= MAX_MEMBER_SIZE:
                        files[info.filename.rsplit("/", 1)[-1]] = archive.read(info)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise KsefTransientError(f"the export package cannot be unpacked: {type(exc).__name__}") from None
    metadata: tuple[InvoiceMetadata, ...] = ()
    if METADATA_FILE in files:
        try:
            parsed = json.loads(files.pop(METADATA_FILE))
        except ValueError:
            raise KsefTransientError("the export's _metadata.json is not valid JSON") from None
        metadata = tuple(invoice_metadata_parse(item) for item in as_list(as_dict(parsed).get("invoices")))
    invoices = {name[: -len(".xml")]: content for name, content in files.items() if name.endswith(".xml")}
    return ExportContent(invoices=invoices, metadata=metadata)


class Exports:
    def __init__(
        self,
        *,
        http: KsefHttp,
        keys: PublicKeyStore,
        bearer: Callable[[], Secret],
        poll: PollPolicy = EXPORT_POLL,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._keys = keys
        self._bearer = bearer
        self._poll = poll
        self._sleep = sleep
        self._monotonic = monotonic

    def export_start(
        self, *, filters: InvoiceFilters, only_metadata: bool = False, compression: str = "Zip"
    ) -> ExportHandle:
        """``POST /invoices/exports`` with a fresh AES key."""
        aes = AesKey.generate()

        def send(certificate: PublicKeyCertificate) -> Any:
            body: dict[str, Any] = {
                "encryption": aes.encryption_json(
                    public_key=certificate.public_key(), public_key_id=certificate.public_key_id
                ),
                "filters": filters.to_json(),
                "compressionType": compression,
            }
            if only_metadata:
                body["onlyMetadata"] = True
            return self._http.call(
                "POST", "/invoices/exports", bearer=self._bearer(), json_body=body, expect=(201, 200)
            )

        data = self._keys.with_key(usage=SYMMETRIC_KEY_ENCRYPTION, call=send)
        return ExportHandle(reference_number=str(require(data, "referenceNumber")), aes=aes)

    def export_status(self, *, reference_number: str) -> ExportStatus:
        return export_status_parse(
            self._http.call("GET", f"/invoices/exports/{reference_number}", bearer=self._bearer())
        )

    def export_wait(self, *, reference_number: str) -> ExportStatus:
        """Poll until the export leaves status 100; the final status is returned as it is."""
        deadline = self._monotonic() + self._poll.timeout
        for delay in self._poll.delays():
            status = self.export_status(reference_number=reference_number)
            if not status.in_progress:
                return status
            if self._monotonic() + delay > deadline:
                raise KsefTransientError("the KSeF export is still being prepared; check again later")
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def export_download(self, *, package: ExportPackage, aes: AesKey) -> ExportContent:
        """Download each part (no Authorization), decrypt it, join in ``ordinalNumber`` order, unpack.

        An empty package (a sync with nothing new) is not downloaded at all: it holds only ``_metadata.json``.
        """
        if not package.parts or package.invoice_count == 0:
            return ExportContent(invoices={}, metadata=())
        plain = bytearray()
        for part in sorted(package.parts, key=lambda p: p.ordinal_number):
            encrypted = self._http.external(part.method or "GET", part.url, expect=(200,)).content
            if part.encrypted_part_hash and sha256_b64(encrypted) != part.encrypted_part_hash:
                raise KsefTransientError(f"export part {part.ordinal_number} does not match its hash")
            decrypted = aes.decrypt(encrypted)
            if part.part_hash and sha256_b64(decrypted) != part.part_hash:
                raise KsefTransientError(f"export part {part.ordinal_number} decrypts to the wrong content")
            plain += decrypted
        return archive_unpack(bytes(plain), compression=package.compression_type)


# --- incremental download (ksef-api.md §8.4) ---------------------------------------------------------


@dataclass(frozen=True)
class SyncWindow:
    """One export window. Commit ``invoices``/``metadata`` first, then store ``checkpoint``."""

    subject_type: str
    date_from: datetime
    date_to: datetime | None
    export_reference: str
    invoices: dict[str, bytes] = field(repr=False)
    metadata: tuple[InvoiceMetadata, ...]
    is_truncated: bool
    permanent_storage_hwm_date: datetime | None
    checkpoint: datetime
    caught_up: bool


@dataclass(frozen=True)
class WindowExport:
    """The export started for one window: ``from``/``to`` as requested and the handle (reference, AES key)."""

    date_from: datetime
    date_to: datetime | None
    handle: ExportHandle


class SyncHooks:
    """What a caller of ``incremental_sync`` may add to the loop; the defaults keep nothing and never wait.

    Exports are limited per hour, so a caller that can die mid-window keeps the export in flight (``started``,
    called before the first poll) and hands it back on the next run (``stored``) to be resumed instead of
    starting another; ``forget`` is called when that export is of no further use (another window, gone,
    expired, failed, or nothing beyond the HWM). A finished window's export is dropped by the caller itself,
    together with its checkpoint. ``call`` wraps each request to KSeF (e.g. to wait out short 429s).
    """

    def stored(self) -> WindowExport | None:
        return None

    def started(self, export: WindowExport) -> None:
        return None

    def forget(self) -> None:
        return None

    def call(self, request: Callable[[], T]) -> T:
        return request()


def window_checkpoint(
    package: ExportPackage, *, date_from: datetime, date_to: datetime | None
) -> tuple[datetime, bool]:
    """Where the next window starts after this package, and whether the sync has caught up (ksef-api.md §8.4).

    Truncated: ``lastPermanentStorageDate`` (that instant is read again on purpose; upsert by KSeF number).
    Else ``to`` capped at the HWM, or the HWM. A checkpoint never moves back.
    """
    hwm = package.permanent_storage_hwm_date
    if package.is_truncated:
        if package.last_permanent_storage_date is None:
            raise KsefTransientError("KSeF truncated the export without lastPermanentStorageDate")
        checkpoint = package.last_permanent_storage_date
        if checkpoint <= date_from:
            raise KsefError("the export cannot advance: too many invoices share one timestamp")
        caught_up = False
    elif date_to is not None:
        checkpoint = min(date_to, hwm) if hwm is not None else date_to
        caught_up = hwm is not None and hwm < date_to
    else:
        checkpoint = hwm if hwm is not None else date_from
        caught_up = True
    return max(checkpoint, date_from), caught_up


def _export_resumed(
    exports: Exports, hooks: SyncHooks, date_from: datetime
) -> tuple[WindowExport, ExportStatus] | None:
    """The stored export of the window from ``date_from``, polled to its end; None (and forgotten) if it
    is of another window or KSeF no longer has it (unknown reference, 410, status 210)."""
    export = hooks.stored()
    if export is None:
        return None
    reference = export.handle.reference_number
    if export.date_from != date_from:
        hooks.forget()
        return None
    try:
        status = hooks.call(lambda: exports.export_wait(reference_number=reference))
    except (KsefNotFound, KsefGone) as exc:
        log.info("KSeF export %s cannot be resumed (%s); starting a new one", reference, exc)
        hooks.forget()
        return None
    if status.code == EXPORT_EXPIRED:
        log.info("KSeF export %s expired; starting a new one", reference)
        hooks.forget()
        return None
    log.info("KSeF export %s resumed (status %s)", reference, status.code)
    return export, status


def _export_new(
    exports: Exports, hooks: SyncHooks, filters: InvoiceFilters
) -> tuple[WindowExport, ExportStatus]:
    """Start the export, let the caller keep it, then poll it to its end."""
    handle = hooks.call(lambda: exports.export_start(filters=filters))
    export = WindowExport(date_from=filters.date_from, date_to=filters.date_to, handle=handle)
    hooks.started(export)
    status = hooks.call(lambda: exports.export_wait(reference_number=handle.reference_number))
    return export, status


def incremental_sync(
    exports: Exports,
    *,
    subject_type: str,
    checkpoint: datetime,
    clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    max_window: timedelta = MAX_WINDOW,
    hooks: SyncHooks | None = None,
) -> Iterator[SyncWindow]:
    """Export ``PermanentStorage`` windows from ``checkpoint`` up to KSeF's high water mark.

    Each window starts at the previous window's new checkpoint: ``lastPermanentStorageDate`` when the
    package was truncated (that instant is read again on purpose; dedupe by KSeF number), otherwise its end
    (``to`` when one was needed to keep the window ≤ 100 days, capped at the HWM, else the HWM itself).
    Stops after the window that reaches the HWM, or at once when ``from`` is already beyond it (status 420).
    The next window is only requested when the caller asks for it, i.e. after it committed this one.
    ``hooks`` (see ``SyncHooks``) resume a stored export and wrap the requests; the pre-signed part
    downloads are not wrapped (no 429 there).
    """
    if checkpoint.tzinfo is None:
        raise ValueError("the checkpoint must be timezone-aware")
    hooks = hooks or SyncHooks()
    # In UTC: adding 100 days to a Europe/Warsaw time is wall-clock arithmetic and across a DST change
    # gives a window of 100 days and an hour, which KSeF refuses (21405).
    current = checkpoint.astimezone(UTC)
    while True:
        resumed = _export_resumed(exports, hooks, current)
        if resumed is None:
            now = clock()
            filters = InvoiceFilters(
                subject_type=subject_type,
                date_type="PermanentStorage",
                date_from=current,
                date_to=current + max_window if now - current > max_window else None,
                restrict_to_hwm=True,
            )
            resumed = _export_new(exports, hooks, filters)
        export, status = resumed
        reference = export.handle.reference_number
        if status.code == EXPORT_BEYOND_HWM:
            log.info("KSeF export %s: nothing after the HWM for %s", reference, subject_type)
            hooks.forget()
            return
        if status.code in EXPORT_TRANSIENT:
            hooks.forget()
            raise KsefTransientError(f"KSeF export failed temporarily ({status.code})", status=status.code)
        if status.code != EXPORT_DONE or status.package is None:
            hooks.forget()
            raise KsefRejected(status.code, status.details, description=status.description)
        package = status.package
        new_checkpoint, caught_up = window_checkpoint(package, date_from=current, date_to=export.date_to)
        content = exports.export_download(package=package, aes=export.handle.aes)
        yield SyncWindow(
            subject_type=subject_type,
            date_from=current,
            date_to=export.date_to,
            export_reference=reference,
            invoices=content.invoices,
            metadata=content.metadata,
            is_truncated=package.is_truncated,
            permanent_storage_hwm_date=package.permanent_storage_hwm_date,
            checkpoint=new_checkpoint,
            caught_up=caught_up,
        )
        if caught_up:
            return
        current = new_checkpoint
