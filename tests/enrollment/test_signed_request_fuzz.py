"""Whatever file an owner uploads as the signed request, the check answers with a message or a signer, never
with an exception that would be a 500 (a mangled signature once was: lxml's DocumentInvalid)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ksef_integration.enrollment import signed_request
from ksef_integration.errors import ConnectError
from tests.enrollment.conftest import person

CHALLENGE = "20261205-CR-226FB7B000-3ACF9BE4C0-10"
NIP = "5265877635"
SIGNED = person(nip=NIP).sign(signed_request.request_build(challenge=CHALLENGE, nip=NIP))

edit = st.tuples(st.integers(0, len(SIGNED) - 1), st.integers(0, 40), st.binary(max_size=20))


@settings(max_examples=400, deadline=None)
@given(edits=st.lists(edit, min_size=1, max_size=6))
def test_a_mangled_signed_request_gets_a_message_not_a_500(edits: list[tuple[int, int, bytes]]) -> None:
    data = SIGNED
    for position, removed, inserted in edits:
        data = data[:position] + inserted + data[position + removed :]
    try:
        signer = signed_request.signed_request_check(data=data, challenge=CHALLENGE, nip=NIP)
    except ConnectError as exc:
        message = exc.message
    else:
        message = signer.name
    assert message
