"""Hand-written FA(3) documents for the import tests: one frame (header, seller, buyer) around a ``Fa``
section that each test writes out element by element, so every amount in it is visibly "as written"."""

from __future__ import annotations

SELLER_NIP = "5265877635"

ADNOTACJE = """<Adnotacje>
      <P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>2</P_18A>
      <Zwolnienie><P_19N>1</P_19N></Zwolnienie>
      <NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu>
      <P_23>2</P_23>
      <PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy>
    </Adnotacje>"""


def faktura(
    fa: str,
    *,
    buyer_nip: str,
    seller_nip: str = SELLER_NIP,
    seller_name: str = "Stolarnia Dąb",
    buyer_name: str = "Odbiorca Sp. z o.o.",
) -> bytes:
    """The whole document around ``fa`` (the inside of ``<Fa>``; ``{adnotacje}`` stands for the usual
    "nothing special" annotations)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek>
    <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>
    <WariantFormularza>3</WariantFormularza>
    <DataWytworzeniaFa>2026-09-01T10:00:00Z</DataWytworzeniaFa>
  </Naglowek>
  <Podmiot1>
    <DaneIdentyfikacyjne><NIP>{seller_nip}</NIP><Nazwa>{seller_name}</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Tartaczna 4, 26-600 Radom</AdresL1></Adres>
  </Podmiot1>
  <Podmiot2>
    <DaneIdentyfikacyjne><NIP>{buyer_nip}</NIP><Nazwa>{buyer_name}</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Handlowa 9, 09-400 Płock</AdresL1></Adres>
    <JST>2</JST>
    <GV>2</GV>
  </Podmiot2>
  <Fa>
    {fa.replace("{adnotacje}", ADNOTACJE)}
  </Fa>
</Faktura>
""".encode()
