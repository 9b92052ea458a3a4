"""Hand-written FA(3) invoices for the tests (independent of the simulator's own generator)."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek>
    <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>
    <WariantFormularza>3</WariantFormularza>
    <DataWytworzeniaFa>{created}</DataWytworzeniaFa>
    <SystemInfo>testy symulatora</SystemInfo>
  </Naglowek>
  <Podmiot1>
    <DaneIdentyfikacyjne>
      <NIP>{seller}</NIP>
      <Nazwa>Sprzedawca {seller} sp. z o.o.</Nazwa>
    </DaneIdentyfikacyjne>
    <Adres>
      <KodKraju>PL</KodKraju>
      <AdresL1>ul. Prosta 1, 00-001 Warszawa</AdresL1>
    </Adres>
  </Podmiot1>
  <Podmiot2>
    <DaneIdentyfikacyjne>
      <NIP>{buyer}</NIP>
      <Nazwa>Nabywca {buyer} S.A.</Nazwa>
    </DaneIdentyfikacyjne>
    <Adres>
      <KodKraju>PL</KodKraju>
      <AdresL1>ul. Krzywa 2, 30-001 Kraków</AdresL1>
    </Adres>
    <JST>2</JST>
    <GV>2</GV>
  </Podmiot2>{third}
  <Fa>
    <KodWaluty>{currency}</KodWaluty>
    <P_1>{issue}</P_1>
    <P_2>{number}</P_2>
    <P_13_1>{net}</P_13_1>
    <P_14_1>{vat}</P_14_1>
    <P_15>{gross}</P_15>
    <Adnotacje>
      <P_16>2</P_16>
      <P_17>2</P_17>
      <P_18>2</P_18>
      <P_18A>2</P_18A>
      <Zwolnienie><P_19N>1</P_19N></Zwolnienie>
      <NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu>
      <P_23>2</P_23>
      <PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy>
    </Adnotacje>
    <RodzajFaktury>{kind}</RodzajFaktury>
    <FaWiersz>
      <NrWierszaFa>1</NrWierszaFa>
      <P_7>Usługa testowa</P_7>
      <P_8A>szt.</P_8A>
      <P_8B>1</P_8B>
      <P_9A>{net}</P_9A>
      <P_11>{net}</P_11>
      <P_12>23</P_12>
    </FaWiersz>
  </Fa>
</Faktura>
"""

THIRD = """
  <Podmiot3>
    <DaneIdentyfikacyjne>
      <NIP>{nip}</NIP>
      <Nazwa>Podmiot trzeci</Nazwa>
    </DaneIdentyfikacyjne>
    <Rola>4</Rola>
  </Podmiot3>"""


def nip(rng: random.Random | None = None) -> str:
    """A random NIP with a valid checksum (and a first digit that is not zero)."""
    rng = rng or random.Random()
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
        check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if check < 10 and digits[1:3] != [0, 0]:
            return "".join(map(str, digits)) + str(check)


def invoice(
    *,
    seller: str,
    buyer: str,
    number: str,
    issue: dt.date | None = None,
    net: str = "100.00",
    vat: str = "23.00",
    gross: str = "123.00",
    currency: str = "PLN",
    kind: str = "VAT",
    third: str | None = None,
) -> bytes:
    issue = issue or dt.datetime.now(ZoneInfo("Europe/Warsaw")).date()
    return TEMPLATE.format(
        created="2026-01-02T10:00:00Z",
        seller=seller,
        buyer=buyer,
        number=number,
        issue=issue.isoformat(),
        net=net,
        vat=vat,
        gross=gross,
        currency=currency,
        kind=kind,
        third=THIRD.format(nip=third) if third else "",
    ).encode("utf-8")


def number() -> str:
    """A fresh invoice number (P_2), so that tests never collide on the duplicate check."""
    return f"FV/{random.randint(1, 10**9)}/{dt.datetime.now(dt.UTC):%H%M%S%f}"
