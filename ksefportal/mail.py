"""The subject line of every e-mail the portal sends: one line, whatever went into it."""

from __future__ import annotations

import re

# Any run of whitespace, including line and paragraph separators (\r, \n, \v, \f, U+2028, U+2029, U+0085):
# Django refuses a subject with a line break (BadHeaderError), so a company name with one stopped its mail.
_WHITESPACE = re.compile(r"\s+")


def email_subject(text: str) -> str:
    """``text`` with every run of whitespace (line breaks too) collapsed into one space, stripped."""
    return _WHITESPACE.sub(" ", str(text)).strip()
