"""The certificate login document: an ``AuthTokenRequest`` (namespace ``auth/token/2.1``) signed with an
enveloped XAdES signature (ksef-api.md §4.6). RSA (rsa-sha256) and EC P-256+ (ecdsa-sha256) keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureConstructionMethod, SignatureMethod
from signxml.xades import XAdESSigner

from ksef_integration.ksef.identifiers import ContextIdentifier

AUTH_NAMESPACE = "http://ksef.mf.gov.pl/auth/token/2.1"
SUBJECT_IDENTIFIER_TYPES = ("certificateSubject", "certificateFingerprint")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class AllowedIps:
    """``AuthorizationPolicy/AllowedIps``: at most 10 of each."""

    addresses: Sequence[str] = ()
    ranges: Sequence[str] = ()
    masks: Sequence[str] = ()


def auth_token_request_build(
    *,
    challenge: str,
    context: ContextIdentifier,
    subject_identifier_type: str = "certificateSubject",
    allowed_ips: AllowedIps | None = None,
) -> etree._Element:
    """The unsigned ``AuthTokenRequest`` element, children in schema order."""
    if subject_identifier_type not in SUBJECT_IDENTIFIER_TYPES:
        raise ValueError(f"unknown SubjectIdentifierType {subject_identifier_type!r}")

    def tag(name: str) -> str:
        return f"{{{AUTH_NAMESPACE}}}{name}"

    root = etree.Element(tag("AuthTokenRequest"), nsmap={None: AUTH_NAMESPACE})
    etree.SubElement(root, tag("Challenge")).text = challenge
    context_element = etree.SubElement(root, tag("ContextIdentifier"))
    etree.SubElement(context_element, tag(context.type)).text = context.value
    etree.SubElement(root, tag("SubjectIdentifierType")).text = subject_identifier_type
    if allowed_ips is not None:
        policy = etree.SubElement(root, tag("AuthorizationPolicy"))
        ips = etree.SubElement(policy, tag("AllowedIps"))
        for name, values in (
            ("Ip4Address", allowed_ips.addresses),
            ("Ip4Range", allowed_ips.ranges),
            ("Ip4Mask", allowed_ips.masks),
        ):
            if len(values) > 10:
                raise ValueError(f"at most 10 {name} entries are allowed")
            for value in values:
                etree.SubElement(ips, tag(name)).text = value
    return root


def xades_sign(*, document: etree._Element, certificate: x509.Certificate, private_key: PrivateKey) -> bytes:
    """Sign ``document`` with an enveloped XAdES-BES signature (``ds:Signature`` as its last child)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < 2048:
            raise ValueError("KSeF needs RSA keys of at least 2048 bits")
        algorithm = SignatureMethod.RSA_SHA256
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        if private_key.curve.key_size < 256:
            raise ValueError("KSeF needs EC keys of at least 256 bits")
        algorithm = SignatureMethod.ECDSA_SHA256
    else:
        raise TypeError("KSeF signatures need an RSA or EC private key")
    signer = XAdESSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=algorithm,
        digest_algorithm=DigestAlgorithm.SHA256,
        # Inclusive C14N 1.0: signxml adds no Transform to the SignedProperties and KeyInfo references, and
        # a verifier (.NET SignedXml included) then canonicalises them with inclusive C14N 1.0 by default.
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    signed = signer.sign(document, key=private_key, cert=[certificate])
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="utf-8"))


def auth_token_request_sign(
    *,
    challenge: str,
    context: ContextIdentifier,
    certificate: x509.Certificate,
    private_key: PrivateKey,
    subject_identifier_type: str = "certificateSubject",
    allowed_ips: AllowedIps | None = None,
) -> bytes:
    """The signed XML body for ``POST /auth/xades-signature``."""
    document = auth_token_request_build(
        challenge=challenge,
        context=context,
        subject_identifier_type=subject_identifier_type,
        allowed_ips=allowed_ips,
    )
    return xades_sign(document=document, certificate=certificate, private_key=private_key)
