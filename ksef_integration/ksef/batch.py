"""Batch sessions (ksef-api.md §7): build a Zip or TarGz of invoices, split it into parts, encrypt each
part, open the session, upload each part to its pre-signed URL (no Authorization), close."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ksef_integration.ksef._values import as_dict, as_list, require
from ksef_integration.ksef.crypto import AesKey, sha256_b64
from ksef_integration.ksef.errors import KsefError, KsefTransientError
from ksef_integration.ksef.http import KsefHttp
from ksef_integration.ksef.keys import SYMMETRIC_KEY_ENCRYPTION, PublicKeyCertificate, PublicKeyStore
from ksef_integration.ksef.secret import Secret
from ksef_integration.ksef.sessions import FA3, FormCode

ZIP = "Zip"
TAR_GZ = "TarGz"
MAX_PART_SIZE = 100_000_000
MAX_PARTS = 50
MAX_PACKAGE_SIZE = 5_000_000_000


def package_build(files: Mapping[str, bytes], *, compression: str = ZIP) -> bytes:
    """A flat archive of ``{file name: XML bytes}``; the names come back as ``invoiceFileName``."""
    buffer = io.BytesIO()
    if compression == ZIP:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)
    elif compression == TAR_GZ:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, content in files.items():
                info = tarfile.TarInfo(name=name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    else:
        raise ValueError(f"unknown compression type {compression!r}")
    return buffer.getvalue()


def package_split(archive: bytes, *, part_size: int = MAX_PART_SIZE) -> list[bytes]:
    """Split the archive binarily into parts of at most ``part_size`` bytes (before encryption)."""
    if not 0 < part_size <= MAX_PART_SIZE:
        raise ValueError(f"a part is 1..{MAX_PART_SIZE} bytes")
    if not archive:
        raise ValueError("the archive is empty")
    if len(archive) > MAX_PACKAGE_SIZE:
        raise KsefError("the batch package is larger than KSeF accepts (5 GB)")
    parts = [archive[i : i + part_size] for i in range(0, len(archive), part_size)]
    if len(parts) > MAX_PARTS:
        raise KsefError(f"the batch package would need {len(parts)} parts; KSeF accepts {MAX_PARTS}")
    return parts


@dataclass(frozen=True)
class EncryptedPart:
    ordinal_number: int
    content: bytes = field(repr=False)
    file_size: int
    file_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"ordinalNumber": self.ordinal_number, "fileSize": self.file_size, "fileHash": self.file_hash}


@dataclass(frozen=True)
class PartUpload:
    ordinal_number: int
    method: str
    url: str = field(repr=False)  # pre-signed: as good as a password until it expires
    headers: dict[str, str]


@dataclass(frozen=True)
class BatchSession:
    reference_number: str
    uploads: tuple[PartUpload, ...]
    parts: tuple[EncryptedPart, ...] = field(repr=False)
    aes: AesKey = field(repr=False)


def parts_encrypt(parts: list[bytes], *, aes: AesKey) -> list[EncryptedPart]:
    """Encrypt every part on its own with the same key and IV."""
    encrypted = []
    for number, part in enumerate(parts, start=1):
        content = aes.encrypt(part)
        encrypted.append(
            EncryptedPart(
                ordinal_number=number, content=content, file_size=len(content), file_hash=sha256_b64(content)
            )
        )
    return encrypted


class Batches:
    def __init__(self, *, http: KsefHttp, keys: PublicKeyStore, bearer: Callable[[], Secret]) -> None:
        self._http = http
        self._keys = keys
        self._bearer = bearer

    def batch_open(
        self,
        *,
        archive: bytes,
        compression: str = ZIP,
        form_code: FormCode = FA3,
        offline_mode: bool = False,
        part_size: int = MAX_PART_SIZE,
        aes: AesKey | None = None,
    ) -> BatchSession:
        """Split and encrypt ``archive`` and open the session; returns where to upload each part."""
        key = aes or AesKey.generate()
        parts = parts_encrypt(package_split(archive, part_size=part_size), aes=key)

        def send(certificate: PublicKeyCertificate) -> Any:
            body = {
                "formCode": form_code.to_json(),
                "batchFile": {
                    "fileSize": len(archive),
                    "fileHash": sha256_b64(archive),
                    "compressionType": compression,
                    "fileParts": [part.to_json() for part in parts],
                },
                "encryption": key.encryption_json(
                    public_key=certificate.public_key(), public_key_id=certificate.public_key_id
                ),
                "offlineMode": offline_mode,
            }
            return self._http.call(
                "POST", "/sessions/batch", bearer=self._bearer(), json_body=body, expect=(201, 200)
            )

        data = self._keys.with_key(usage=SYMMETRIC_KEY_ENCRYPTION, call=send)
        uploads = tuple(
            PartUpload(
                ordinal_number=int(require(item, "ordinalNumber")),
                method=str(as_dict(item).get("method") or "PUT"),
                url=str(require(item, "url")),
                headers={
                    str(k): str(v) for k, v in as_dict(as_dict(item).get("headers")).items() if v is not None
                },
            )
            for item in as_list(require(data, "partUploadRequests"))
        )
        return BatchSession(
            reference_number=str(require(data, "referenceNumber")),
            uploads=uploads,
            parts=tuple(parts),
            aes=key,
        )

    def batch_upload(self, *, session: BatchSession) -> None:
        """Upload each part with the given method, URL and exactly the given headers; no Authorization."""
        by_number = {part.ordinal_number: part for part in session.parts}
        if {u.ordinal_number for u in session.uploads} != set(by_number):
            raise KsefTransientError("KSeF's upload instructions do not match the declared parts")
        for upload in sorted(session.uploads, key=lambda u: u.ordinal_number):
            self._http.external(
                upload.method,
                upload.url,
                data=by_number[upload.ordinal_number].content,
                headers=upload.headers,
                expect=(200, 201),
            )

    def batch_close(self, *, session_reference: str) -> None:
        self._http.call(
            "POST", f"/sessions/batch/{session_reference}/close", bearer=self._bearer(), expect=(204, 200)
        )

    def batch_send(
        self,
        *,
        files: Mapping[str, bytes],
        compression: str = ZIP,
        form_code: FormCode = FA3,
        offline_mode: bool = False,
        part_size: int = MAX_PART_SIZE,
    ) -> BatchSession:
        """Build, open, upload every part and close; poll ``Sessions.session_wait`` afterwards."""
        session = self.batch_open(
            archive=package_build(files, compression=compression),
            compression=compression,
            form_code=form_code,
            offline_mode=offline_mode,
            part_size=part_size,
        )
        self.batch_upload(session=session)
        self.batch_close(session_reference=session.reference_number)
        return session
