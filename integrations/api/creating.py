"""Creating a sales invoice over the API exactly as Wystaw does: the request becomes the data Wystaw's form
would post, the same form and line formset clean it, and ``invoices.services.invoice_issue`` issues it (with
its rules, the database's limits and the FA(3) acceptance check). What any of them refuses comes back as
field errors pointing into the request."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from accounts.models import Company, User
from integrations.api.problems import FieldError
from integrations.api.schemas import InvoiceCreateIn
from invoices import services
from invoices.errors import InvoiceError, InvoiceInvalid
from invoices.forms import BaseLineFormSet, InvoiceForm, LineFormSet
from invoices.models import Direction, Invoice

PREFIX = "lines"
BUYER_FIELDS = {"nip", "name", "foreign_id", "address_line1", "address_line2", "country_code", "email"}


class Refused(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("the invoice was refused")
        self.errors = errors


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def form_data(body: InvoiceCreateIn, *, idempotency_key: uuid.UUID) -> dict[str, str]:
    """What Wystaw's page would post for this request (booleans as a ticked box, or nothing)."""
    data = {name: _text(getattr(body.buyer, name)) for name in BUYER_FIELDS}
    fields = body.model_dump(exclude={"buyer", "lines", "idempotency_key"})
    for name, value in fields.items():
        data[name] = _text(value)
    if body.issue_date is None:
        data["issue_date"] = timezone.localdate().isoformat()
    data["idempotency_key"] = str(idempotency_key)
    data[f"{PREFIX}-TOTAL_FORMS"] = str(len(body.lines))
    data[f"{PREFIX}-INITIAL_FORMS"] = "0"
    data[f"{PREFIX}-MIN_NUM_FORMS"] = "0"
    data[f"{PREFIX}-MAX_NUM_FORMS"] = "1000"
    for index, line in enumerate(body.lines):
        for name, value in line.model_dump().items():
            data[f"{PREFIX}-{index}-{name}"] = _text(value)
    return {name: value for name, value in data.items() if value != ""}


def _invoice_field(name: str | None) -> str | None:
    if name is None or name == "__all__":
        return None
    return f"buyer.{name}" if name in BUYER_FIELDS else name


def _form_errors(form: InvoiceForm, formset: BaseLineFormSet) -> list[FieldError]:
    errors = [
        FieldError(_invoice_field(name), str(message), "invalid")
        for name, messages in form.errors.items()
        for message in messages
    ]
    for index, line_form in enumerate(formset.forms):
        for name, messages in line_form.errors.items():
            path = f"lines[{index}]" if name == "__all__" else f"lines[{index}].{name}"
            errors += [FieldError(path, str(message), "invalid") for message in messages]
    errors += [FieldError("lines", str(message), "invalid") for message in formset.non_form_errors()]
    return errors


def _service_errors(exc: InvoiceError, formset: BaseLineFormSet) -> list[FieldError]:
    if not isinstance(exc, InvoiceInvalid):
        return [FieldError(None, exc.message, exc.code or "invalid")]
    line_forms = formset.line_forms()
    errors = []
    for issue in exc.issues:
        if issue.line is not None and issue.line < len(line_forms):
            index = formset.forms.index(line_forms[issue.line])
            path = f"lines[{index}].{issue.field}" if issue.field else f"lines[{index}]"
        else:
            path = _invoice_field(issue.field) if issue.line is None else "lines"  # type: ignore[assignment]
        errors.append(FieldError(path, issue.message, "refused"))
    return errors


def invoice_create(
    *, company: Company, user: User | None, body: InvoiceCreateIn, idempotency_key: uuid.UUID | None
) -> tuple[Invoice, bool]:
    """Issue the invoice; returns it and whether it is new (False: the idempotency key's first invoice).
    Raises ``Refused`` with the field errors when Wystaw would refuse it."""
    key = idempotency_key or body.idempotency_key
    if key is not None:
        existing = Invoice.objects.filter(company=company, idempotency_key=key).first()
        if existing is not None:
            return existing, False
    data = form_data(body, idempotency_key=key or uuid.uuid4())
    form = InvoiceForm(data, direction=Direction.SALES)
    formset = LineFormSet(data, prefix=PREFIX)
    valid = form.is_valid()
    if not (formset.is_valid() and valid):
        raise Refused(_form_errors(form, formset))
    try:
        invoice = services.invoice_issue(company=company, user=user, data=form.invoice_data(formset.lines()))
    except InvoiceError as exc:
        raise Refused(_service_errors(exc, formset)) from exc
    return invoice, True
