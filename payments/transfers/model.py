"""What the caller gives (``Payer``, ``Transfer``) and what every file writer and reader shares (``Order``).

``prepare_orders`` checks a batch and returns normalised :class:`Order` rows or raises one
:class:`PaymentFileError` listing every problem, each with the transfer's position. Writers only ever see
orders; readers give orders back, so a round trip compares like with like.

Text rules (all formats): a bank file carries Windows-1250 text (Elixir-O; the safe subset for pain.001 as
well), no double quote (Elixir-O's field delimiter), no ``|`` (its line separator), no line breaks. Names
are at most 70 characters (ISO 20022 Max70Text; two 35-character Elixir lines), address lines at most 35,
name and address together at most 4 lines (Elixir-O "4*35").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from .accounts import SEPA_COUNTRIES, foreign_iban, nrb_problem
from .amounts import Amount, grosze_format, to_grosze
from .errors import PaymentFileError, Problem, problem
from .titles import LINE_LENGTH, TITLE_LINES, TITLE_MAX, mpp_title

NAME_MAX = 70
MAX_AMOUNT_GROSZE = 10**15 - 1  # Elixir-O's amount is at most 15 digits; far above anything real
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_FORBIDDEN = {'"': '"', "|": "|", "\r": "↵", "\n": "↵", "\t": "⇥"}


@dataclass(frozen=True)
class Payer:
    """Whose account is debited."""

    name: str
    account: str
    address: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transfer:
    """One domestic transfer as the caller describes it.

    ``amount`` (and ``vat_amount``) is an ``int`` of grosze or a ``Decimal`` of złote with ≤ 2 places. With
    ``split_payment`` the bank gets the MPP message built from ``vat_amount``, ``seller_nip`` and
    ``invoice_number`` (from 2027 the KSeF number or collective identifier), and ``title`` becomes its
    free-text part (at most 33 characters); otherwise ``title`` is sent as it is (at most 140).
    """

    payee_name: str
    payee_account: str
    amount: Amount
    title: str
    execution_date: date
    currency: str = "PLN"
    payee_address: tuple[str, ...] = ()
    split_payment: bool = False
    vat_amount: Amount | None = None
    seller_nip: str = ""
    invoice_number: str = ""
    reference: str = ""


@dataclass(frozen=True)
class Order:
    """A checked transfer in the form every file format writes: accounts as NRB digits, amount in grosze."""

    payer_nrb: str
    payer_name: str
    payer_address: tuple[str, ...]
    payee_nrb: str
    payee_name: str
    payee_address: tuple[str, ...]
    amount: int
    currency: str
    execution_date: date
    remittance: str
    split_payment: bool = False
    reference: str = ""
    payee_iban: str = ""  # a foreign (SEPA) payee's IBAN; then ``payee_nrb`` is empty
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def payer_lines(self) -> tuple[str, ...]:
        return party_lines(self.payer_name, self.payer_address)

    @property
    def payee_lines(self) -> tuple[str, ...]:
        return party_lines(self.payee_name, self.payee_address)


def party_lines(name: str, address: tuple[str, ...]) -> tuple[str, ...]:
    """Name (cut into 35-character lines) followed by the address lines: Elixir-O's "4*35"."""
    name_lines = [name[i : i + LINE_LENGTH] for i in range(0, len(name), LINE_LENGTH)]
    return (*name_lines, *(line for line in address if line))


def text_problems(value: str, field_name: str, index: int | None) -> list[Problem]:
    found = []
    for char in dict.fromkeys(value):
        if char in _FORBIDDEN or not char.isprintable():
            found.append(
                problem("text_forbidden_char", field_name, index, char=_FORBIDDEN.get(char, repr(char)))
            )
            continue
        try:
            char.encode("cp1250")
        except UnicodeEncodeError:
            found.append(problem("text_not_cp1250", field_name, index, char=char))
    return found


def _party_problems(
    name: str, address: tuple[str, ...], prefix: str, index: int | None
) -> tuple[list[Problem], str, tuple[str, ...]]:
    found: list[Problem] = []
    name = " ".join(name.split())
    address = tuple(" ".join(line.split()) for line in address if line.strip())
    if not name:
        found.append(problem("text_empty", f"{prefix}_name", index))
    elif len(name) > NAME_MAX:
        found.append(problem("text_too_long", f"{prefix}_name", index, length=len(name), limit=NAME_MAX))
    found += text_problems(name, f"{prefix}_name", index)
    for line in address:
        if len(line) > LINE_LENGTH:
            found.append(
                problem("text_too_long", f"{prefix}_address", index, length=len(line), limit=LINE_LENGTH)
            )
        found += text_problems(line, f"{prefix}_address", index)
    if not found and len(party_lines(name, address)) > TITLE_LINES:
        total = len(party_lines(name, address))
        found.append(problem("text_too_long", f"{prefix}_address", index, length=total, limit=TITLE_LINES))
    return found, name, address


def _remittance(transfer: Transfer, index: int) -> tuple[list[Problem], str]:
    title = " ".join(transfer.title.split()) if not transfer.split_payment else transfer.title.strip()
    if transfer.split_payment:
        if transfer.vat_amount is None:
            return [problem("mpp_vat_missing", index=index)], ""
        try:
            remittance = mpp_title(
                vat=transfer.vat_amount,
                seller_nip=transfer.seller_nip,
                invoice=transfer.invoice_number,
                text=title,
            )
        except PaymentFileError as exc:
            return [
                Problem(code=p.code, field=p.field or "title", index=index, params=p.params)
                for p in exc.problems
            ], ""
        return text_problems(remittance, "title", index), remittance
    found = []
    if not title:
        found.append(problem("text_empty", "title", index))
    elif len(title) > TITLE_MAX:
        found.append(problem("text_too_long", "title", index, length=len(title), limit=TITLE_MAX))
    return found + text_problems(title, "title", index), title


def prepare_orders(
    payer: Payer,
    transfers: list[Transfer] | tuple[Transfer, ...],
    *,
    today: date | None = None,
    foreign: bool = False,
) -> list[Order]:
    """Checked, normalised orders for ``transfers`` from ``payer``; raises :class:`PaymentFileError`.

    ``today``, when given, refuses execution dates before it (banks reject or silently move them).
    ``foreign`` (pain.001): an invoice is paid in its own currency (to a Polish account in any currency, a
    foreign IBAN only in EUR within SEPA, where no BIC is needed); without it (Elixir-O) PLN and Polish
    accounts only. A split payment is PLN only either way.
    """
    problems: list[Problem] = []
    if not transfers:
        raise PaymentFileError([problem("no_transfers")])
    payer_found, payer_name, payer_address = _party_problems(payer.name, payer.address, "payer", None)
    problems += payer_found
    payer_account_problem = nrb_problem(payer.account, field="payer_account")
    if payer_account_problem:
        problems.append(payer_account_problem)
    payer_nrb = _digits(payer.account)
    orders = []
    for index, transfer in enumerate(transfers):
        found, payee_name, payee_address = _party_problems(
            transfer.payee_name, transfer.payee_address, "payee", index
        )
        currency = transfer.currency.strip().upper()
        iban = foreign_iban(transfer.payee_account) if foreign else None
        account_problem = None if iban else nrb_problem(transfer.payee_account, index=index)
        if iban and (currency != "EUR" or iban[:2] not in SEPA_COUNTRIES):
            found.append(
                problem(
                    "foreign_not_sepa",
                    "payee_account",
                    index,
                    account=transfer.payee_account.strip(),
                    country=iban[:2],
                    currency=currency,
                )
            )
        if account_problem:
            found.append(account_problem)
        elif not payer_account_problem and _digits(transfer.payee_account) == payer_nrb:
            found.append(problem("account_same", "payee_account", index))
        amount = None
        try:
            amount = to_grosze(transfer.amount)
        except PaymentFileError as exc:
            found += [Problem(p.code, "amount", index, p.params) for p in exc.problems]
        if amount is not None:
            if amount <= 0:
                found.append(problem("amount_not_positive", "amount", index))
            elif amount > MAX_AMOUNT_GROSZE:
                found.append(problem("amount_too_large", "amount", index, amount=grosze_format(amount)))
        if not _CURRENCY.match(currency):
            found.append(problem("currency_invalid", "currency", index, currency=transfer.currency))
        elif transfer.split_payment and currency != "PLN":
            found.append(problem("mpp_not_pln", "currency", index, currency=currency))
        elif currency != "PLN" and not foreign:
            found.append(problem("currency_not_pln", "currency", index, currency=transfer.currency))
        if today is not None and transfer.execution_date < today:
            found.append(
                problem("date_past", "execution_date", index, date=transfer.execution_date.isoformat())
            )
        remittance_found, remittance = _remittance(transfer, index)
        found += remittance_found
        if transfer.split_payment and transfer.vat_amount is not None and amount is not None:
            try:
                vat = to_grosze(transfer.vat_amount)
            except PaymentFileError:
                vat = None
            if vat is not None and vat > amount > 0:
                found.append(problem("mpp_vat_exceeds_amount", "vat_amount", index, vat=grosze_format(vat)))
        reference = transfer.reference.strip()
        if len(reference) > LINE_LENGTH:
            found.append(
                problem("text_too_long", "reference", index, length=len(reference), limit=LINE_LENGTH)
            )
        found += text_problems(reference, "reference", index)
        problems += found
        if not found and amount is not None:
            orders.append(
                Order(
                    payer_nrb=payer_nrb,
                    payer_name=payer_name,
                    payer_address=payer_address,
                    payee_nrb="" if iban else _digits(transfer.payee_account),
                    payee_iban=iban or "",
                    payee_name=payee_name,
                    payee_address=payee_address,
                    amount=amount,
                    currency=currency,
                    execution_date=transfer.execution_date,
                    remittance=remittance,
                    split_payment=transfer.split_payment,
                    reference=reference,
                )
            )
    if problems:
        raise PaymentFileError(problems)
    return orders


def _digits(account: str) -> str:
    compact = "".join(account.split()).replace("-", "").upper()
    return compact.removeprefix("PL")
