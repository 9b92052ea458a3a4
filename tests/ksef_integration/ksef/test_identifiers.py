"""The shape of a pasted KSeF token."""

from __future__ import annotations

import pytest

from ksef_integration.ksef.errors import KsefTokenFormatError
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken

SECRET_PART = "919f704466624ce29cd5ac7b65ded5e7cccc112eee314f2aaa76e02cd16df7b9"
TOKEN = f"20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|{SECRET_PART}"


def test_parse_a_nip_token():
    token = KsefToken.parse(f"  {TOKEN}\n")
    assert token.reference_number == "20251010-EC-1DCE3E3000-12ECB5B36E-45"
    assert token.context_nip == "5265877635"
    assert token.secret.reveal() == TOKEN
    assert token.last4 == "f7b9"


def test_parse_an_internal_id_token():
    token = KsefToken.parse(f"20251010-EC-1DCE3E3000-12ECB5B36E-45|internalId-5265877635-12345|{SECRET_PART}")
    assert token.context == ContextIdentifier(type="InternalId", value="5265877635-12345")
    assert token.context_nip is None


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("", "Paste"),
        ("A1B2C3D4E5F60718293A4B5C6D7E8F901A2B3C4D", "KSeF 1.0"),
        ("E6C3D8F1" * 8, "KSeF 1.0"),
        ("20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635", "three parts"),
        (f"2025-EC-1|nip-5265877635|{SECRET_PART}", "reference number"),
        (f"20251010-EC-1DCE3E3000-12ECB5B36E-45|5265877635|{SECRET_PART}", "context"),
        (f"20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877636|{SECRET_PART}", "NIP"),
        (f"20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|{SECRET_PART[:-3]}", "last part"),
    ],
)
def test_bad_tokens_are_explained_without_echoing_them(text: str, english: str):
    with pytest.raises(KsefTokenFormatError) as caught:
        KsefToken.parse(text)
    assert english in caught.value.message_en
    assert caught.value.message_pl
    for shown in (str(caught.value), caught.value.message_pl, caught.value.message_en):
        assert SECRET_PART[:20] not in shown
        assert "E6C3D8F1" not in shown


def test_token_format_error_is_a_value_error():
    with pytest.raises(ValueError, match=r"KSeF 1\.0"):
        KsefToken.parse("0123456789abcdef0123456789abcdef")
