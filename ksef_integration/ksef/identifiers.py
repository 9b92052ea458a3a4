"""Context identifiers and KSeF tokens: the pasted token's shape ``<reference>|nip-<NIP>|<64 hex>``
(ksef-api.md §5) is checked here, and the token is kept as a ``Secret``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ksef_integration.ksef.errors import KsefTokenFormatError
from ksef_integration.ksef.numbers import nip_is_valid, reference_number_looks_valid
from ksef_integration.ksef.secret import Secret

CONTEXT_TYPES = ("Nip", "InternalId", "NipVatUe", "PeppolId")
_TOKEN_CONTEXT_PREFIXES = {t.casefold(): t for t in CONTEXT_TYPES}
_SECRET_PART = re.compile(r"^[0-9a-fA-F]{64}$")
_KSEF1_LIKE = re.compile(r"^[0-9A-Za-z]{20,128}$")


@dataclass(frozen=True)
class ContextIdentifier:
    """The context KSeF acts in: usually ``Nip`` of the company."""

    type: str
    value: str

    def __post_init__(self) -> None:
        if self.type not in CONTEXT_TYPES:
            raise ValueError(f"unknown context type {self.type!r}")

    @classmethod
    def nip(cls, nip: str) -> ContextIdentifier:
        return cls(type="Nip", value=nip)

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}


def _format_error(message_pl: str, message_en: str) -> KsefTokenFormatError:
    return KsefTokenFormatError(message_pl=message_pl, message_en=message_en)


@dataclass(frozen=True, repr=False)
class KsefToken:
    """A KSeF 2.0 token: its reference number and context are public, the whole string is a secret."""

    secret: Secret
    reference_number: str
    context: ContextIdentifier

    def __repr__(self) -> str:
        return (
            f"KsefToken(reference_number={self.reference_number!r}, context={self.context!r}, "
            f"secret={self.secret!r})"
        )

    def __str__(self) -> str:
        return repr(self)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("KsefToken cannot be pickled")

    @property
    def context_nip(self) -> str | None:
        return self.context.value if self.context.type == "Nip" else None

    @property
    def last4(self) -> str:
        return self.secret.last4

    @classmethod
    def parse(cls, text: str) -> KsefToken:
        """Check the shape of a pasted token. Errors say what is wrong, never what the token is."""
        text = (text or "").strip()
        if not text:
            raise _format_error("Wklej token KSeF.", "Paste a KSeF token.")
        parts = text.split("|")
        if len(parts) != 3:
            if len(parts) == 1 and _KSEF1_LIKE.match(text):
                raise _format_error(
                    "To wygląda na token z KSeF 1.0 (albo tylko fragment tokena). Tokeny z KSeF 1.0 nie "
                    "działają w KSeF 2.0: wygeneruj nowy token w Aplikacji Podatnika KSeF 2.0 i skopiuj go "
                    "w całości.",
                    "This looks like a KSeF 1.0 token (or only part of a token). KSeF 1.0 tokens do not work "
                    "with KSeF 2.0: generate a new token in the KSeF 2.0 taxpayer application and copy it "
                    "in full.",
                )
            raise _format_error(
                "To nie jest token KSeF 2.0: token ma trzy części rozdzielone znakiem „|”. "
                "Skopiuj go w całości.",
                "This is not a KSeF 2.0 token: a token has three parts separated by '|'. Copy it in full.",
            )
        reference, context_text, secret_part = (part.strip() for part in parts)
        if not reference_number_looks_valid(reference):
            raise _format_error(
                "Pierwsza część tokena (numer referencyjny) jest nieprawidłowa. Skopiuj token w całości.",
                "The token's first part (reference number) is invalid. Copy the token in full.",
            )
        prefix, _, value = context_text.partition("-")
        context_type = _TOKEN_CONTEXT_PREFIXES.get(prefix.casefold())
        if context_type is None or not value:
            raise _format_error(
                "Środkowa część tokena nie wskazuje kontekstu (np. „nip-1234567890”).",
                "The token's middle part does not name a context (e.g. 'nip-1234567890').",
            )
        if context_type == "Nip" and not nip_is_valid(value):
            raise _format_error(
                "NIP zapisany w tokenie jest nieprawidłowy.", "The NIP inside the token is invalid."
            )
        if not _SECRET_PART.match(secret_part):
            raise _format_error(
                "Ostatnia część tokena jest niepełna lub uszkodzona. Skopiuj token w całości.",
                "The token's last part is incomplete or damaged. Copy the token in full.",
            )
        return cls(
            secret=Secret(f"{reference}|{context_text}|{secret_part}"),
            reference_number=reference,
            context=ContextIdentifier(type=context_type, value=value),
        )
