"""Start's numbers (issue 22): sales and purchases of this month (net, VAT, gross in PLN) and the gross of
the last 12 months for the chart, in one aggregate query on the company's invoices by issue date (the
``inv_list`` index: company, direction, issue date), and the chart as a small server-rendered SVG.

Amounts in another currency count at the invoice's exchange rate (as the VAT registers do). Every invoice
counts as issued, corrections with their (negative) differences; the sums are a view of the month, not a
tax return.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, DecimalField, F, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from accounts.models import Company
from invoices.models import Direction, Invoice

MONTHS = 12
ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=24, decimal_places=2)


@dataclass(frozen=True)
class Totals:
    net: Decimal = ZERO
    vat: Decimal = ZERO
    gross: Decimal = ZERO


@dataclass(frozen=True)
class MonthBar:
    month: dt.date  # the first day
    sales: Decimal
    purchases: Decimal


@dataclass(frozen=True)
class Dashboard:
    month: dt.date  # the first day of this month
    sales: Totals
    purchases: Totals
    bars: list[MonthBar] = field(default_factory=list)


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _in_pln(name: str) -> Case:
    return Case(
        When(currency="PLN", then=F(name)),
        default=F(name) * Coalesce(F("exchange_rate"), Value(Decimal(1))),
        output_field=_MONEY,
    )


def dashboard(*, company: Company, today: dt.date) -> Dashboard:
    """This month's totals and the last ``MONTHS`` months' gross per direction: one query."""
    first = _month_start(today, MONTHS - 1)
    this_month = _month_start(today)
    next_month = _month_start(today, -1)
    rows = (
        Invoice.objects.filter(
            company=company,
            direction__in=(Direction.SALES, Direction.PURCHASE),
            issue_date__gte=first,
            issue_date__lt=next_month,
        )
        .annotate(month=TruncMonth("issue_date"))
        .values("direction", "month")
        .annotate(
            net=Sum(_in_pln("total_net")), vat=Sum(_in_pln("total_vat")), gross=Sum(_in_pln("total_gross"))
        )
        .order_by()
    )
    sums: dict[tuple[str, dt.date], Totals] = {}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        sums[(row["direction"], month)] = Totals(
            net=(row["net"] or ZERO).quantize(ZERO),
            vat=(row["vat"] or ZERO).quantize(ZERO),
            gross=(row["gross"] or ZERO).quantize(ZERO),
        )
    bars = []
    for back in range(MONTHS - 1, -1, -1):
        month = _month_start(today, back)
        bars.append(
            MonthBar(
                month=month,
                sales=sums.get((Direction.SALES, month), Totals()).gross,
                purchases=sums.get((Direction.PURCHASE, month), Totals()).gross,
            )
        )
    return Dashboard(
        month=this_month,
        sales=sums.get((Direction.SALES, this_month), Totals()),
        purchases=sums.get((Direction.PURCHASE, this_month), Totals()),
        bars=bars,
    )


@dataclass(frozen=True)
class ChartBar:
    x: int
    y: int
    height: int
    kind: str  # "sales" or "purchases"
    title: str


@dataclass(frozen=True)
class ChartMonth:
    x: int
    label: str
    bars: list[ChartBar]


CHART_WIDTH = 360
CHART_HEIGHT = 120
LABEL_SPACE = 16
BAR_WIDTH = 10


def chart(bars: list[MonthBar], *, money: object = str) -> list[ChartMonth]:
    """Coordinates of the SVG chart: two bars per month (sales, purchases), scaled to the largest gross;
    a negative month (corrections) draws no bar. ``money`` formats the amounts in the bars' titles."""
    top = max([b.sales for b in bars] + [b.purchases for b in bars] + [Decimal(1)])
    usable = CHART_HEIGHT - LABEL_SPACE
    step = CHART_WIDTH // max(len(bars), 1)
    months = []
    for index, bar in enumerate(bars):
        x = index * step + (step - 2 * BAR_WIDTH) // 2
        drawn = []
        for offset, kind, value in ((0, "sales", bar.sales), (BAR_WIDTH, "purchases", bar.purchases)):
            height = int(usable * max(value, ZERO) / top) if value > 0 else 0
            drawn.append(
                ChartBar(
                    x=x + offset,
                    y=usable - height,
                    height=height,
                    kind=kind,
                    title=money(value),  # type: ignore[operator]
                )
            )
        months.append(ChartMonth(x=x + BAR_WIDTH, label=f"{bar.month:%m}", bars=drawn))
    return months
