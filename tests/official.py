"""Where the tests find the official KSeF files: the repository's copy in ``vendor/ksef-docs`` (MIT, see its
README). Nothing a test reads lies outside the checkout."""

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "vendor" / "ksef-docs"
OPENAPI = DOCS / "open-api-2.9.0.json"
FA_SCHEMAS = DOCS / "faktury" / "schemy" / "FA"
AUTH_SCHEMAS = DOCS / "auth" / "schemy"
UPO_XSD = DOCS / "faktury" / "upo" / "schemy" / "upo-v4-3.xsd"
UPO_SAMPLES = DOCS / "faktury" / "upo" / "przyklady" / "v4-3"
