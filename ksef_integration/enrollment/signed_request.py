"""The login request an owner signs outside the portal (ksef-api.md §4.6): built here for the company's NIP
and a fresh challenge, signed with Profil Zaufany (podpis.gov.pl), a qualified signature or a company seal,
and checked here when it comes back, so that a wrong file gets a clear message before anything goes to KSeF.

KSeF accepts an enveloped or an enveloping XAdES signature (never a detached one) over the AuthTokenRequest.
The check here is the part a person can get wrong: the file is a signed copy of *this* request (same
challenge, same NIP) and the signature matches the content. Whether the signer may act for the NIP is KSeF's
decision, asked in the next step.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.utils.translation import gettext as _
from lxml import etree
from signxml import (
    DigestAlgorithm,
    InvalidSignature,
    SignatureConfiguration,
    SignatureMethod,
    XMLVerifier,
)

from ksef_integration.errors import ConnectError
from ksef_integration.ksef.identifiers import ContextIdentifier
from ksef_integration.ksef.xades import auth_token_request_build

logger = logging.getLogger(__name__)
MAX_SIGNED_BYTES = 2 * 1024 * 1024  # a signed request with a long certificate chain is tens of kilobytes
AUTH_NAMESPACES = ("http://ksef.mf.gov.pl/auth/token/2.0", "http://ksef.mf.gov.pl/auth/token/2.1")
DS = "http://www.w3.org/2000/09/xmldsig#"
FILE_NAME = "wniosek-KSeF-{nip}.xml"
# The core XML signature (do the content and the signature value match?) with whatever algorithms and
# references KSeF itself accepts (sha1 too); the XAdES profile and the signer's rights are KSeF's to check.
_ANY_SIGNATURE = SignatureConfiguration(
    expect_references=True,
    signature_methods=frozenset(SignatureMethod),
    digest_algorithms=frozenset(DigestAlgorithm),
)


@dataclass(frozen=True)
class Signer:
    """Who signed the request, as the signing certificate names them (shown to the owner, never a PESEL)."""

    name: str


def request_build(*, challenge: str, nip: str) -> bytes:
    """The unsigned AuthTokenRequest for the company's NIP, as the file the owner downloads and signs."""
    document = auth_token_request_build(challenge=challenge, context=ContextIdentifier.nip(nip))
    return bytes(etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _refused(code: str, message: str) -> ConnectError:
    return ConnectError(code, message)


def _not_a_request() -> ConnectError:
    return _refused(
        "signed_request_unreadable",
        _(
            "This file is not a signed KSeF login request. Upload the file you downloaded in step 1 after "
            "signing it (at podpis.gov.pl choose the XAdES format, signature inside the document)."
        ),
    )


def _parse(data: bytes) -> etree._Element:
    if not data or len(data) > MAX_SIGNED_BYTES:
        raise _not_a_request()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        raise _not_a_request() from None
    if root.getroottree().docinfo.doctype:
        raise _not_a_request()
    return root


def _request_in(root: etree._Element) -> etree._Element:
    """The AuthTokenRequest: the root (enveloped signature) or inside the signature's Object (enveloping)."""
    for namespace in AUTH_NAMESPACES:
        if root.tag == f"{{{namespace}}}AuthTokenRequest":
            return root
    if root.tag == f"{{{DS}}}Signature":
        for namespace in AUTH_NAMESPACES:
            found = root.find(f"{{{DS}}}Object/{{{namespace}}}AuthTokenRequest")
            if found is not None:
                return found
    raise _not_a_request()


def _text(request: etree._Element, path: str) -> str:
    namespace = etree.QName(request).namespace
    element = request.find("/".join(f"{{{namespace}}}{part}" for part in path.split("/")))
    return (element.text or "").strip() if element is not None else ""


def _signature(root: etree._Element, request: etree._Element) -> etree._Element:
    if root is not request:
        return root  # enveloping: the root is the signature
    signature = request.find(f"{{{DS}}}Signature")
    if signature is None:
        raise _refused(
            "signed_request_unsigned",
            _(
                "The file has no signature: it is the request as downloaded. Sign it (Profil Zaufany at "
                "podpis.gov.pl, a qualified signature or a company seal) and upload the signed file."
            ),
        )
    return signature


def _signing_certificate(signature: etree._Element) -> x509.Certificate:
    element = signature.find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if element is None or not (element.text or "").strip():
        raise _not_a_request()
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join((element.text or "").split())))
    except ValueError:
        raise _not_a_request() from None


def _signer(certificate: x509.Certificate) -> Signer:
    def first(oid: x509.ObjectIdentifier) -> str:
        values = certificate.subject.get_attributes_for_oid(oid)
        value = values[0].value if values else ""
        return value if isinstance(value, str) else value.decode(errors="replace")

    person = " ".join(part for part in (first(NameOID.GIVEN_NAME), first(NameOID.SURNAME)) if part)
    return Signer(name=person or first(NameOID.ORGANIZATION_NAME) or first(NameOID.COMMON_NAME) or "—")


def signed_request_check(*, data: bytes, challenge: str, nip: str) -> Signer:
    """The signer of ``data`` if it is this request (``challenge``, ``nip``) with a signature that matches its
    content; otherwise a ``ConnectError`` saying what is wrong with the file and what to do."""
    root = _parse(data)
    request = _request_in(root)
    if _text(request, "Challenge") != challenge:
        raise _refused(
            "signed_request_other",
            _(
                "This is a signed request, but not the latest one prepared here (it was prepared earlier or "
                "for another company). Download the request from step 1 again, sign it and upload it."
            ),
        )
    if _text(request, "ContextIdentifier/Nip") != nip:
        raise _refused(
            "signed_request_other_nip",
            _("This request is for another NIP, not %(nip)s. Sign the request downloaded here.")
            % {"nip": nip},
        )
    signature = _signature(root, request)
    certificate = _signing_certificate(signature)
    try:
        XMLVerifier().verify(data, x509_cert=certificate, expect_config=_ANY_SIGNATURE)
    except InvalidSignature:
        raise _refused(
            "signed_request_tampered",
            _(
                "The signature does not match the content of the file: the file was changed after it was "
                "signed. Sign the downloaded request again without editing it."
            ),
        ) from None
    except etree.LxmlError:
        # The signature itself is not XML-DSig (its schema refuses it): KSeF would refuse it too.
        raise _not_a_request() from None
    except Exception as exc:
        # A signature form this check cannot read (an unusual profile or algorithm, signxml's InvalidInput
        # and the like) is KSeF's to judge: it answers the next step with its own reason. Never a 500.
        logger.info("signed request: signature not checked here (%s)", type(exc).__name__)
    return _signer(certificate)
