"""Wall time to build a payment file for 1,000 transfers (Elixir-O, and pain.001 including its XSD check).

Target: well under 2 s each (issue 21: a pay file for 1,000 invoices in under 2 s). Prints the median of
``ROUNDS`` runs after a warm-up: ``make bench BENCH=payfiles``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.transfers import Transfer

ROUNDS = 5
COUNT = 1000


def _transfers(count: int) -> list[Transfer]:
    from ksef_integration.ksef.numbers import crc8_hex
    from payments.transfers import Transfer
    from payments.transfers.accounts import nrb_check_digits, sort_code_check_digit

    rows = []
    for i in range(count):
        sort = "1020296" + str(sort_code_check_digit("1020296"))
        bban = sort + f"{i:016d}"
        body = f"5260250274-20270115-{i:012X}"
        rows.append(
            Transfer(
                payee_name=f"Dostawca nr {i} Sp. z o.o.",
                payee_account=nrb_check_digits(bban) + bban,
                amount=10_000 + i,
                title=f"{body}-{crc8_hex(body)}",
                execution_date=date(2027, 1, 20),
                payee_address=("ul. Młyńska 5", "60-001 Poznań"),
            )
        )
    return rows


def _median_seconds(run: Callable[[], bytes]) -> float:
    run()
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> dict[str, float]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # messages are lazy translations
    import django

    django.setup()
    from payments.transfers import Payer, elixir_build, pain001_build

    payer = Payer(name="Piekarnia Żółć Sp. z o.o.", account="PL61109010140000071219812874")
    transfers = _transfers(COUNT)
    created = datetime(2027, 1, 19, tzinfo=UTC)
    results = {
        "elixir_1000_s": _median_seconds(lambda: elixir_build(payer, transfers)),
        "pain001_1000_s": _median_seconds(
            lambda: pain001_build(payer, transfers, message_id="BENCH", created_at=created)
        ),
    }
    return results


if __name__ == "__main__":
    for name, seconds in run().items():
        print(f"{name}: {seconds:.3f}")
