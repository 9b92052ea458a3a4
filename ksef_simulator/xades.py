"""The XAdES login document (``POST /auth/xades-signature``): parse, check against the XSD, verify.

Like the TEST environment, a self-signed signing certificate is accepted; the caller asks for a chain
check with ``verifyCertificateChain=true`` (then only certificates of the simulator's "KSeF CA" pass,
which the auth view reports as status 460). Enveloped signatures (the ds:Signature inside the
AuthTokenRequest, covering the whole document) and enveloping ones (the AuthTokenRequest inside the
ds:Signature's ds:Object) are accepted, as KSeF accepts both; the request read is the one that was signed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, SignXMLException
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

from ksef_simulator.responses import bad_request
from ksef_simulator.schemas_core import AUTH_NAMESPACES, auth_xsd

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
CONTEXT_TYPES = ("Nip", "InternalId", "NipVatUe", "PeppolId")
_NIP_IN_SERIAL = re.compile(r"(?:TINPL|NIP).*?(\d{10})")
_PESEL_IN_SERIAL = re.compile(r"(?:PNOPL|PESEL).*?(\d{11})")
_NIP_IN_ORG_ID = re.compile(r"VATPL.*?(\d{10})")
# KSeF accepts SHA-1 as well as the SHA-2/SHA-3 families (ksef-api.md §4.6).
_CONFIG: dict[str, Any] = {
    "expect_references": True,
    "signature_methods": frozenset(SignatureMethod),
    "digest_algorithms": frozenset(DigestAlgorithm),
    "location": "./",
}


@dataclass(frozen=True)
class AuthRequest:
    namespace: str
    challenge: str
    context_type: str
    context_value: str
    subject_identifier_type: str  # certificateSubject | certificateFingerprint
    allowed_ips: dict[str, list[str]] = field(default_factory=dict)
    certificate: x509.Certificate | None = None


def _parse(body: bytes) -> etree._Element:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(21217, "Nieprawidłowe kodowanie znaków.", "Oczekiwano UTF-8.") from exc
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise bad_request(21001, "Nieczytelna treść.", str(exc)[:300]) from exc
    if root.getroottree().docinfo.doctype:  # entities stay unexpanded, but XSD validation would crash on them
        raise bad_request(21001, "Nieczytelna treść.", "Deklaracja DOCTYPE (DTD, encje) jest niedozwolona.")
    return root


def _validate_xsd(root: etree._Element) -> str:
    namespace = etree.QName(root).namespace or ""
    if namespace not in AUTH_NAMESPACES or etree.QName(root).localname != "AuthTokenRequest":
        raise bad_request(
            21401,
            "Dokument nie jest zgodny ze schematem (xsd).",
            f"Oczekiwano elementu AuthTokenRequest w przestrzeni nazw {' lub '.join(AUTH_NAMESPACES)}.",
        )
    unsigned = copy.deepcopy(root)
    for signature in unsigned.findall(f"{{{DS}}}Signature"):
        unsigned.remove(signature)
    schema = auth_xsd(namespace)
    if not schema.validate(unsigned):
        details = [f"Linia {e.line}: {e.message}" for e in schema.error_log][:10]
        raise bad_request(21401, "Dokument nie jest zgodny ze schematem (xsd).", *details)
    return namespace


def _text(root: etree._Element, path: str, ns: str) -> str:
    element = root.find(path.replace("t:", f"{{{ns}}}"))
    return (element.text or "").strip() if element is not None else ""


def _allowed_ips(root: etree._Element, ns: str) -> dict[str, list[str]]:
    allowed = root.find(f"{{{ns}}}AuthorizationPolicy/{{{ns}}}AllowedIps")
    if allowed is None:
        return {}
    return {
        key: [(e.text or "").strip() for e in allowed.findall(f"{{{ns}}}{tag}")]
        for key, tag in (("ip4Addresses", "Ip4Address"), ("ip4Ranges", "Ip4Range"), ("ip4Masks", "Ip4Mask"))
    }


def _signing_certificate(signature: etree._Element) -> x509.Certificate:
    element = signature.find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if element is None or not (element.text or "").strip():
        raise bad_request(21115, "Nieprawidłowy certyfikat.", "Brak certyfikatu w KeyInfo/X509Data.")
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join((element.text or "").split())))
    except ValueError as exc:
        raise bad_request(21115, "Nieprawidłowy certyfikat.", "Nie można odczytać certyfikatu.") from exc


def _verify(body: bytes, signature: etree._Element | None, certificate: x509.Certificate) -> list[Any]:
    """A valid XAdES signature by ``certificate``: signxml's results, one per signed reference."""
    if signature is not None and signature.find(f".//{{{XADES}}}QualifyingProperties") is None:
        raise bad_request(9105, "Nieprawidłowy podpis.", "Brak kwalifikowanych właściwości XAdES.")
    # The certificate's validity is judged later (status 460 "Nieważny certyfikat", as KSeF reports it),
    # so the signature itself is checked at a moment the certificate was valid.
    inside_validity = (
        certificate.not_valid_before_utc
        + (certificate.not_valid_after_utc - certificate.not_valid_before_utc) / 2
    )
    try:
        results = XAdESVerifier().verify(
            body,
            x509_cert=certificate,  # trusts the embedded certificate, as TEST does for self-signed ones
            expect_config=XAdESSignatureConfiguration(**_CONFIG, verification_time=inside_validity),
        )
    except (SignXMLException, InvalidInput, ValueError, TypeError) as exc:
        raise bad_request(9105, "Nieprawidłowy podpis.", str(exc)[:300]) from exc
    return list(results) if isinstance(results, list) else [results]


def _enveloped(body: bytes, root: etree._Element) -> tuple[etree._Element, x509.Certificate]:
    """The signature must be a child of the AuthTokenRequest and cover the whole document."""
    signatures = root.findall(f".//{{{DS}}}Signature")
    if not signatures:
        raise bad_request(9102, "Brak podpisu.", "Dokument nie zawiera podpisu.")
    if len(signatures) > 1:
        raise bad_request(9103, "Przekroczona liczba dozwolonych podpisów.")
    signature = signatures[0]
    if signature.getparent() is not root:
        raise bad_request(
            9101,
            "Nieprawidłowy dokument.",
            "Podpis musi być otoczony (enveloped) lub otaczający (enveloping).",
        )
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if not any(r.get("URI") == "" for r in references):
        raise bad_request(9101, "Nieprawidłowy dokument.", "Podpis musi obejmować cały dokument (enveloped).")
    certificate = _signing_certificate(signature)
    _verify(body, signature, certificate)
    return root, certificate


def _enveloping(body: bytes, signature: etree._Element) -> tuple[etree._Element, x509.Certificate]:
    """The AuthTokenRequest is the signed content of the signature's ds:Object; it is read from what the
    verification returns, never from the unsigned parts of the document."""
    if signature.findall(f".//{{{DS}}}Signature"):
        raise bad_request(9103, "Przekroczona liczba dozwolonych podpisów.")
    certificate = _signing_certificate(signature)
    documents = []
    for result in _verify(body, signature, certificate):
        signed = getattr(result, "signed_xml", None)
        if signed is None or etree.QName(signed).localname != "Object":
            continue
        documents += [
            child
            for child in signed
            if isinstance(child.tag, str) and etree.QName(child).localname == "AuthTokenRequest"
        ]
    if len(documents) != 1:
        raise bad_request(
            9101,
            "Nieprawidłowy dokument.",
            "Podpis otaczający musi obejmować jeden dokument AuthTokenRequest.",
        )
    return documents[0], certificate


def parse_and_verify(body: bytes) -> AuthRequest:
    """The signed AuthTokenRequest, or an ``ApiError`` with KSeF's code (21001, 21401, 910x, 21115)."""
    root = _parse(body)
    if root.tag == f"{{{DS}}}Signature":
        root, certificate = _enveloping(body, root)
        namespace = _validate_xsd(root)
    else:
        namespace = _validate_xsd(root)
        root, certificate = _enveloped(body, root)
    context = root.find(f"{{{namespace}}}ContextIdentifier")
    child = context[0] if context is not None and len(context) else None
    if child is None:
        raise bad_request(21401, "Dokument nie jest zgodny ze schematem (xsd).")
    return AuthRequest(
        namespace=namespace,
        challenge=_text(root, "t:Challenge", namespace),
        context_type=etree.QName(child).localname,
        context_value=(child.text or "").strip(),
        subject_identifier_type=_text(root, "t:SubjectIdentifierType", namespace),
        allowed_ips=_allowed_ips(root, namespace),
        certificate=certificate,
    )


def _attribute(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = certificate.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def certificate_identity(certificate: x509.Certificate, subject_identifier_type: str) -> tuple[str, str]:
    """``(Nip|Pesel|Fingerprint, value)`` of the signer; 21115 when the subject has neither NIP nor PESEL."""
    if subject_identifier_type == "certificateFingerprint":
        return "Fingerprint", hashlib.sha256(
            certificate.public_bytes(serialization.Encoding.DER)
        ).hexdigest().upper()
    serial = _attribute(certificate, NameOID.SERIAL_NUMBER)
    organization_id = _attribute(certificate, NameOID.ORGANIZATION_IDENTIFIER)
    if match := _NIP_IN_ORG_ID.search(organization_id):
        return "Nip", match.group(1)
    if match := _NIP_IN_SERIAL.search(serial):
        return "Nip", match.group(1)
    if match := _PESEL_IN_SERIAL.search(serial):
        return "Pesel", match.group(1)
    raise bad_request(
        21115,
        "Nieprawidłowy certyfikat.",
        "Certyfikat nie zawiera identyfikatora NIP (serialNumber TINPL-/NIP-, organizationIdentifier VATPL-) "
        "ani PESEL.",
    )


def certificate_method(certificate: x509.Certificate, *, issued_by_ksef: bool) -> tuple[str, str, str, str]:
    """``(authenticationMethod, category, code, displayName)`` for a signing certificate."""
    if issued_by_ksef:
        return "InternalCertificate", "XadesSignature", "xades.internal-certificate", "Certyfikat KSeF"
    if _attribute(certificate, NameOID.ORGANIZATION_IDENTIFIER):
        return "QualifiedSeal", "XadesSignature", "xades.qualified-seal", "Pieczęć kwalifikowana"
    return "QualifiedSignature", "XadesSignature", "xades.qualified-signature", "Podpis kwalifikowany"
