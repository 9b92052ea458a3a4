"""The text of the API's documentation page (the OpenAPI ``description``, rendered by Swagger UI at
``/api/v1/docs``): authentication, scopes, limits, errors, paging and the webhook signature recipe."""

DESCRIPTION = """
The KSeF Portal API lets a company's own software issue sales invoices and read its sales and purchase
invoices, their FA(3) XML, PDF, UPO and KSeF status.

## Authentication

Every request carries an API key: `Authorization: Bearer kp_…`. The company's owner creates keys in
**Dane i ustawienia → Integracje**; a key is shown once and stored only as a hash. A key belongs to one
company and sees only that company's invoices. Scopes: **read** (every GET) and **write** (read + creating
invoices). A revoked key gets 401 at once.

## Limits

Each key may make **1,200 requests a minute** (a fixed one-minute window). Past that the answer is
`429 Too Many Requests` with `Retry-After` (seconds until the window ends).

## Errors

Every error is a problem-details object (RFC 9457, `application/problem+json`): `type`, `title`, `status`,
`detail`, `instance`, and for a refused request `errors`: a list of `{field, message, code}` where `field`
points into the request (`buyer.nip`, `lines[0].unit_price`, `null` for the invoice as a whole). An invoice is
checked exactly as the Wystaw form checks it, including what KSeF would refuse (the FA(3) schema and rules),
before a number is taken: `400` means nothing was created.

## Idempotency

Send an `Idempotency-Key` header (a UUID), or `idempotency_key` in the body: repeating the request returns
the invoice the first one created (200 instead of 201), never a copy.

## Paging

`GET /invoices` returns at most `limit` (≤ 100) invoices, newest first, and `next_cursor`; pass it back as
`cursor` for the next page. Paging by cursor stays fast and stable however many invoices there are.

## Webhooks

In **Dane i ustawienia → Integracje** the owner adds endpoints (an HTTPS URL) for the events
`invoice.accepted`, `invoice.rejected`, `invoice.offline_deadline` and `purchase_invoice.received`. Each
event is POSTed as JSON `{"id", "type", "timestamp", "data": {"invoice": {…}}}` (the invoice as
`GET /invoices/{id}` summarises it) with the headers of the Standard Webhooks specification:

* `webhook-id`: the event's id, the same on every retry (drop an id you have already processed);
* `webhook-timestamp`: seconds since the Unix epoch when this attempt was sent;
* `webhook-signature`: `v1,<signature>`.

To verify: take the secret shown when the endpoint was made (`whsec_<base64>`), base64-decode the part after
`whsec_` into the key, compute `HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<raw body>")`,
base64-encode it, and compare it in constant time with the part after `v1,`; refuse a timestamp more than
5 minutes from your clock. In Python:

```python
import base64, hashlib, hmac, time

def verify(secret: str, headers: dict, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) <= 300
    return fresh and any(
        hmac.compare_digest(expected, sig.partition(",")[2]) for sig in headers["webhook-signature"].split()
    )
```

The Standard Webhooks libraries (e.g. `standardwebhooks` for Python) verify the same way. Answer with any
2xx within 10 seconds. Anything else is retried with growing pauses (30 s, 2 min, 5 min, 15 min, 30 min,
1 h, 2 h, 4 h, 8 h) for up to 24 hours; an endpoint that has failed 10 times in a row over more than 12 hours
is disabled and the company's owners and accountants are e-mailed. The delivery log and "Wyślij ponownie"
are on the Integracje page.
"""
